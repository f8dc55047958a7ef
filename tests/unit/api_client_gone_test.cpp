// A sync embed whose client disconnects while its work waits in the scheduler has that work
// dropped: the real HTTP front and routes on loopback, a held fake model, raw sockets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "api/http_server.h"
#include "common/ids.h"
#include "fake_embedder.h"
#include "service/embedding_service.h"
#include "service/model_registry.h"

namespace ej::api {
namespace {

namespace fs = std::filesystem;

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

void send_embed(int fd, const std::string& texts_json) {
  std::string body = R"({"model":"slow","input_type":"search_document","texts":)" + texts_json +
                     R"(,"embedding_types":["float"]})";
  std::string req =
      "POST /v2/embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.find("\r\n\r\n") != std::string::npos && out.find("}}") != std::string::npos) break;
  }
  return out;
}

// Polls `pred` for up to 5 s.
template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

TEST(ClientGone, QueuedWorkOfADisconnectedClientIsDropped) {
  const std::string dir =
      (fs::temp_directory_path() / ("ej-client-gone-" + random_alnum(8))).string();
  fs::create_directories(dir);
  auto fake = std::make_shared<test::FakeEmbedder>(64);
  service::ModelRegistry models;
  models.add("slow", fake, "test:slow");
  service::EmbeddingService embeddings(&models, {});
  service::Services services;
  services.config.data_dir = dir;
  services.models = &models;
  services.embeddings = &embeddings;
  HttpConfig config;
  config.port = 0;
  config.no_auth = true;
  config.threads = 4;
  HttpServer server(&services, config, "secret-for-tests-0123456789");
  const int port = server.bind();
  std::thread serving([&] { server.serve(); });
  const service::ServedModel& model = models.get("slow");

  // Client 1 occupies the engine: its batch is held inside embed_tokens().
  fake->hold();
  int first = connect_to(port);
  send_embed(first, R"(["hold"])");
  fake->wait_entered(1);

  // Client 2's 48 texts wait in the queue behind it; then client 2 goes away.
  std::string texts = "[";
  for (int i = 0; i < 48; ++i)
    texts += std::string(i ? "," : "") + "\"queued text " + std::to_string(i) + "\"";
  texts += "]";
  int second = connect_to(port);
  send_embed(second, texts);
  ASSERT_TRUE(eventually([&] { return embeddings.stats(model).queued_tokens > 0; }));
  ::close(second);

  // Without the client_gone wiring, the 48 sequences stay queued until the engine runs them.
  EXPECT_TRUE(eventually([&] { return embeddings.stats(model).queued_tokens == 0; }))
      << "queued tokens: " << embeddings.stats(model).queued_tokens;
  service::SchedulerStats stats = embeddings.stats(model);
  EXPECT_EQ(stats.cancelled, 1);
  EXPECT_EQ(stats.dropped_sequences, 48);

  // The engine runs only client 1's text, whose client is still there and gets its answer.
  fake->release();
  std::string answer = read_all(first);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  ::close(first);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  size_t embedded = 0;
  for (const auto& batch : fake->batches()) embedded += batch.size();
  EXPECT_EQ(embedded, 1u);

  server.stop();
  serving.join();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ej::api
