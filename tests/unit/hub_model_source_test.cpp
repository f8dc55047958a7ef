// Model sources (engine/model_source.h): local folders, the Hugging Face cache, and downloads from
// a loopback httplib server that serves generated model repos in the Hub's URL layout
// (/api/models/{repo}/revision/{rev}, /{repo}/resolve/{rev}/{path} with ETag / X-Repo-Commit /
// X-Linked-*, a redirect to /cdn/{repo}/{sha256}, Range, 401 / 404), checked for the cache layout,
// bytes, request counts, resuming, checksums and error messages.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "hub/model_source.h"

namespace ej::hub {
namespace {

namespace fs = std::filesystem;

std::string hex_digest(const EVP_MD* md, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (unsigned int i = 0; i < len; ++i) {
    s += kHex[out[i] >> 4];
    s += kHex[out[i] & 15];
  }
  return s;
}
std::string sha256(const std::string& data) {
  return hex_digest(EVP_sha256(), data);
}
// A git blob id, the Hub's ETag for files not in LFS.
std::string git_blob_id(const std::string& data) {
  return hex_digest(EVP_sha1(),
                    "blob " + std::to_string(data.size()) + std::string(1, '\0') + data);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

// A small but real safetensors file with one f32 tensor of `n` random values.
std::string make_safetensors(size_t n, uint32_t seed) {
  std::string header = R"({"w":{"dtype":"F32","shape":[)" + std::to_string(n) +
                       R"(],"data_offsets":[0,)" + std::to_string(4 * n) + "]}}";
  while (header.size() % 8) header += ' ';
  uint64_t hlen = header.size();
  std::string out(reinterpret_cast<const char*>(&hlen), 8);
  out += header;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (size_t i = 0; i < n; ++i) {
    float f = dist(rng);
    out.append(reinterpret_cast<const char*>(&f), 4);
  }
  return out;
}

struct FakeFile {
  std::string content;
  bool lfs = false;  // ETag = sha256 (LFS) or the git blob id
  bool redirect =
      false;  // resolve answers 302 to /cdn/<repo>/<sha256> (like the Hub for LFS files)
  std::string etag() const { return lfs ? sha256(content) : git_blob_id(content); }
};

struct FakeRepo {
  std::string commit;
  std::map<std::string, FakeFile> files;
  std::string token;  // required Bearer token, "" = public
};

struct LoggedRequest {
  std::string method;
  std::string path;
  std::string range;
  std::string auth;
};

// The loopback Hub.
class FakeHub {
 public:
  FakeHub() {
    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
      std::lock_guard<std::mutex> lock(mu_);
      log_.push_back({req.method, req.path, req.get_header_value("Range"),
                      req.get_header_value("Authorization")});
      return httplib::Server::HandlerResponse::Unhandled;
    });
    server_.Get(R"(/api/models/([^/]+/[^/]+)/revision/(.+))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  const FakeRepo* repo = find_repo(req, res, req.matches[1], req.matches[2]);
                  if (!repo) return;
                  nlohmann::json j;
                  j["id"] = std::string(req.matches[1]);
                  j["sha"] = repo->commit;
                  j["siblings"] = nlohmann::json::array();
                  for (const auto& [path, f] : repo->files)
                    j["siblings"].push_back({{"rfilename", path}});
                  res.set_content(j.dump(), "application/json");
                });
    server_.Get(R"(/([^/]+/[^/]+)/resolve/([^/]+)/(.+))", [this](const httplib::Request& req,
                                                                 httplib::Response& res) {
      const FakeRepo* repo = find_repo(req, res, req.matches[1], req.matches[2]);
      if (!repo) return;
      auto it = repo->files.find(req.matches[3]);
      if (it == repo->files.end()) {
        error(res, 404, "EntryNotFound", "Entry not found");
        return;
      }
      const FakeFile& f = it->second;
      res.set_header("X-Repo-Commit", repo->commit);
      if (f.redirect) {
        res.status = 302;
        res.set_header("Location",
                       endpoint() + "/cdn/" + std::string(req.matches[1]) + "/" + f.etag());
        res.set_header("X-Linked-Etag", "\"" + f.etag() + "\"");
        res.set_header("X-Linked-Size", std::to_string(f.content.size()));
        res.set_header("ETag", "\"" + f.etag() + "\"");
        return;
      }
      res.set_header("ETag", "\"" + f.etag() + "\"");
      serve(std::string(req.matches[1]) + "/" + std::string(req.matches[3]), f, req, res);
    });
    server_.Get(R"(/cdn/([^/]+/[^/]+)/([0-9a-f]+))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  auto it = repos_.find(req.matches[1]);
                  if (it != repos_.end()) {
                    for (const auto& [path, f] : it->second.files) {
                      if (f.lfs && f.etag() == std::string(req.matches[2])) {
                        res.set_header("ETag", "\"cdn-md5-not-the-blob-name\"");
                        serve(it->first + "/" + path, f, req, res);
                        return;
                      }
                    }
                  }
                  res.status = 404;
                });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeHub() {
    server_.stop();
    thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void add_repo(const std::string& id, FakeRepo repo) { repos_[id] = std::move(repo); }
  const FakeRepo& repo(const std::string& id) const { return repos_.at(id); }

  // Knobs, keyed "org/name/path".
  void cut_once(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    cut_once_.insert(key);
  }
  void corrupt(const std::string& key, bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    if (on) {
      corrupt_.insert(key);
    } else {
      corrupt_.erase(key);
    }
  }

  std::vector<LoggedRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  size_t request_count() const { return requests().size(); }
  size_t body_bytes(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = bytes_.find(key);
    return it == bytes_.end() ? 0 : it->second->load();
  }
  void reset_log() {
    std::lock_guard<std::mutex> lock(mu_);
    log_.clear();
    bytes_.clear();
  }
  // GET requests whose path contains `part`.
  std::vector<LoggedRequest> gets(const std::string& part) const {
    std::vector<LoggedRequest> out;
    for (const LoggedRequest& r : requests()) {
      if (r.method == "GET" && r.path.find(part) != std::string::npos) out.push_back(r);
    }
    return out;
  }

 private:
  static void error(httplib::Response& res, int status, const std::string& code,
                    const std::string& message) {
    res.status = status;
    res.set_header("X-Error-Code", code);
    res.set_header("X-Error-Message", message);
    res.set_content(nlohmann::json{{"error", message}}.dump(), "application/json");
  }

  const FakeRepo* find_repo(const httplib::Request& req, httplib::Response& res,
                            const std::string& id, const std::string& revision) {
    auto it = repos_.find(id);
    if (it == repos_.end()) {
      error(res, 404, "RepoNotFound", "Repository not found");
      return nullptr;
    }
    const FakeRepo& repo = it->second;
    if (!repo.token.empty() && req.get_header_value("Authorization") != "Bearer " + repo.token) {
      error(res, 401, "RepoNotFound", "Invalid username or password.");
      return nullptr;
    }
    if (revision != "main" && revision != repo.commit) {
      error(res, 404, "RevisionNotFound", "Invalid rev id: " + revision);
      return nullptr;
    }
    return &repo;
  }

  // The body, honouring Range (httplib slices it and answers 206), cut or corrupted on demand.
  void serve(const std::string& key, const FakeFile& f, const httplib::Request& req,
             httplib::Response& res) {
    auto data = std::make_shared<std::string>(f.content);
    bool cut = false;
    std::shared_ptr<std::atomic<size_t>> counter;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (corrupt_.count(key)) (*data)[data->size() / 2] ^= 0x5a;
      if (req.method == "GET") cut = cut_once_.erase(key) > 0;
      auto& c = bytes_[key];
      if (!c) c = std::make_shared<std::atomic<size_t>>(0);
      counter = c;
    }
    res.set_content_provider(
        data->size(), "application/octet-stream",
        [data, cut, counter](size_t offset, size_t length, httplib::DataSink& sink) {
          size_t n = cut ? length / 2 : length;
          *counter += n;
          sink.write(data->data() + offset, n);
          return !cut;  // false: the connection is dropped mid-body
        });
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::map<std::string, FakeRepo> repos_;  // set up before any request
  mutable std::mutex mu_;
  std::vector<LoggedRequest> log_;
  std::set<std::string> cut_once_;
  std::set<std::string> corrupt_;
  std::map<std::string, std::shared_ptr<std::atomic<size_t>>> bytes_;
};

// Sets environment variables for a test and restores them afterwards.
class EnvGuard {
 public:
  ~EnvGuard() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  void set(const std::string& name, const std::string& value) {
    save(name);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void unset(const std::string& name) {
    save(name);
    ::unsetenv(name.c_str());
  }

 private:
  void save(const std::string& name) {
    if (saved_.count(name)) return;
    const char* v = std::getenv(name.c_str());
    saved_[name] = v ? std::optional<std::string>(v) : std::nullopt;
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

// A port on 127.0.0.1 where nothing listens.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

const std::string kTinyCommit = "0123456789abcdef0123456789abcdef01234567";

FakeRepo tiny_repo() {
  FakeRepo r;
  r.commit = kTinyCommit;
  r.files["config.json"] = {R"({"architectures":["BertModel"],"hidden_size":8})", false, false};
  r.files["model.safetensors"] = {make_safetensors(60000, 1), true, true};  // via the CDN
  r.files["tokenizer.json"] = {R"({"version":"1.0","model":{"type":"WordPiece"}})", false, false};
  r.files["tokenizer_config.json"] = {R"({"do_lower_case":true})", false, false};
  r.files["special_tokens_map.json"] = {R"({"cls_token":"[CLS]"})", false, false};
  r.files["modules.json"] = {R"([{"idx":0,"path":"","type":"T"}])", false, false};
  r.files["sentence_bert_config.json"] = {R"({"max_seq_length":128})", false, false};
  r.files["config_sentence_transformers.json"] = {R"({"prompts":{}})", false, false};
  r.files["1_Pooling/config.json"] = {R"({"pooling_mode_mean_tokens":true})", false, false};
  r.files["2_Dense/config.json"] = {R"({"in_features":8,"out_features":4})", false, false};
  r.files["2_Dense/model.safetensors"] = {make_safetensors(50000, 2), true, false};
  // Not needed by an encoder: never downloaded.
  r.files["README.md"] = {"# tiny\n", false, false};
  r.files["pytorch_model.bin"] = {std::string(5000, 'x'), true, false};
  r.files["onnx/model.onnx"] = {std::string(3000, 'y'), true, false};
  r.files["0_Transformer/model.safetensors"] = {make_safetensors(100, 3), true, false};
  return r;
}

const std::vector<std::string> kTinyWanted = {"config.json",
                                              "model.safetensors",
                                              "tokenizer.json",
                                              "tokenizer_config.json",
                                              "special_tokens_map.json",
                                              "modules.json",
                                              "sentence_bert_config.json",
                                              "config_sentence_transformers.json",
                                              "1_Pooling/config.json",
                                              "2_Dense/config.json",
                                              "2_Dense/model.safetensors"};

class ModelSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    home_ = fs::temp_directory_path() / ("ej_model_source_test_" + std::to_string(rd()));
    fs::create_directories(home_);
    hub_.add_repo("org/tiny", tiny_repo());
    FakeRepo priv = tiny_repo();
    priv.commit = "1111111111111111111111111111111111111111";
    priv.token = "hf_secret";
    hub_.add_repo("org/private", priv);
    FakeRepo sharded;
    sharded.commit = "2222222222222222222222222222222222222222";
    sharded.files["config.json"] = {R"({"hidden_size":8})", false, false};
    sharded.files["model-00001-of-00002.safetensors"] = {make_safetensors(20000, 4), true, false};
    sharded.files["model-00002-of-00002.safetensors"] = {make_safetensors(20000, 5), true, true};
    sharded.files["model.safetensors.index.json"] = {
        R"({"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors",)"
        R"("b":"model-00002-of-00002.safetensors"}})",
        false, false};
    sharded.files["tokenizer.json"] = {"{}", false, false};
    hub_.add_repo("org/sharded", sharded);
    FakeRepo bin;
    bin.commit = "3333333333333333333333333333333333333333";
    bin.files["config.json"] = {"{}", false, false};
    bin.files["pytorch_model.bin"] = {"zzz", true, false};
    hub_.add_repo("org/binonly", bin);

    for (const char* name :
         {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
          "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "XDG_CACHE_HOME"}) {
      env_.unset(name);
    }
    env_.set("HF_HOME", home_.string());
    env_.set("HF_ENDPOINT", hub_.endpoint());
    env_.set("HF_HUB_DOWNLOAD_TIMEOUT", "10");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(home_, ec);
  }

  fs::path repo_dir(const std::string& name) const { return home_ / "hub" / name; }

  // Runs resolve_model_source expecting an ej::Error; returns it.
  static Error resolve_error(const std::string& source) {
    try {
      std::string p = resolve_model_source(source);
      ADD_FAILURE() << "resolve_model_source(" << source << ") returned " << p;
    } catch (const Error& e) {
      return e;
    }
    return Error(ErrorCode::kInternal, "");
  }

  fs::path home_;
  FakeHub hub_;
  EnvGuard env_;
};

TEST_F(ModelSourceTest, DownloadProducesTheCacheLayoutAndTheBytes) {
  const FakeRepo& repo = hub_.repo("org/tiny");
  std::string got = resolve_model_source("org/tiny");
  fs::path rd = repo_dir("models--org--tiny");
  fs::path snap = rd / "snapshots" / kTinyCommit;
  EXPECT_EQ(fs::path(got), snap);
  EXPECT_EQ(slurp(rd / "refs" / "main"), kTinyCommit);
  EXPECT_EQ(hf_hub_cache_dir(), home_ / "hub");

  for (const std::string& path : kTinyWanted) {
    SCOPED_TRACE(path);
    const FakeFile& f = repo.files.at(path);
    fs::path link = snap / path;
    ASSERT_TRUE(fs::is_symlink(link));
    std::string up = path.find('/') == std::string::npos ? "../../" : "../../../";
    EXPECT_EQ(fs::read_symlink(link).string(), up + "blobs/" + f.etag());
    EXPECT_TRUE(fs::is_regular_file(rd / "blobs" / f.etag()));
    EXPECT_EQ(slurp(link), f.content);
  }
  // Exactly the wanted files, and nothing else was asked for.
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(snap)) files += !fs::is_directory(e);
  EXPECT_EQ(files, kTinyWanted.size());
  size_t blobs = 0;
  for (const auto& e : fs::directory_iterator(rd / "blobs")) {
    EXPECT_EQ(e.path().extension(), "") << e.path();  // no .incomplete left
    ++blobs;
  }
  EXPECT_EQ(blobs, kTinyWanted.size());
  for (const char* never : {"README.md", "pytorch_model.bin", "onnx", "0_Transformer"}) {
    for (const LoggedRequest& r : hub_.requests()) EXPECT_EQ(r.path.find(never), std::string::npos);
  }
  // The LFS file came through the redirect, stored under its X-Linked-Etag (not the CDN's ETag).
  EXPECT_EQ(hub_.gets("/cdn/").size(), 1u);
  EXPECT_EQ(hub_.gets("/api/models/org/tiny/revision/main").size(), 1u);
  EXPECT_EQ(hub_.gets("/resolve/").size(), kTinyWanted.size());
  for (const LoggedRequest& r : hub_.requests()) {
    if (r.path.find("/resolve/") != std::string::npos) {
      EXPECT_NE(r.path.find("/resolve/" + kTinyCommit + "/"), std::string::npos) << r.path;
    }
    EXPECT_EQ(r.auth, "");  // no token configured
  }
}

TEST_F(ModelSourceTest, SecondResolveUsesTheCacheWithoutAnyRequest) {
  std::string first = resolve_model_source("org/tiny");
  hub_.reset_log();
  EXPECT_EQ(resolve_model_source("org/tiny"), first);
  EXPECT_EQ(resolve_model_source("org/tiny@main"), first);
  EXPECT_EQ(resolve_model_source("org/tiny@" + kTinyCommit), first);
  env_.set("HF_HUB_OFFLINE", "1");
  EXPECT_EQ(resolve_model_source("org/tiny"), first);
  EXPECT_EQ(hub_.request_count(), 0u);
}

TEST_F(ModelSourceTest, InterruptedDownloadResumesWithRange) {
  const FakeFile& f = hub_.repo("org/tiny").files.at("2_Dense/model.safetensors");
  const std::string key = "org/tiny/2_Dense/model.safetensors";
  hub_.cut_once(key);
  std::string snap = resolve_model_source("org/tiny");
  std::vector<LoggedRequest> gets =
      hub_.gets("/resolve/" + kTinyCommit + "/2_Dense/model.safetensors");
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[0].range, "");
  size_t half = f.content.size() / 2;
  EXPECT_EQ(gets[1].range, "bytes=" + std::to_string(half) + "-");
  // Half, then the rest: nothing was sent twice.
  EXPECT_EQ(hub_.body_bytes(key), f.content.size());
  fs::path blob = repo_dir("models--org--tiny") / "blobs" / f.etag();
  EXPECT_EQ(sha256(slurp(blob)), f.etag());
  EXPECT_EQ(slurp(fs::path(snap) / "2_Dense/model.safetensors"), f.content);
}

TEST_F(ModelSourceTest, PartialDownloadFromAnEarlierRunIsResumedThroughTheRedirect) {
  const FakeFile& f = hub_.repo("org/tiny").files.at("model.safetensors");
  fs::path part = repo_dir("models--org--tiny") / "blobs" / (f.etag() + ".incomplete");
  spit(part, f.content.substr(0, 1000));
  std::string snap = resolve_model_source("org/tiny");
  std::vector<LoggedRequest> cdn = hub_.gets("/cdn/");
  ASSERT_EQ(cdn.size(), 1u);
  EXPECT_EQ(cdn[0].range, "bytes=1000-");
  EXPECT_EQ(cdn[0].auth, "");
  EXPECT_EQ(hub_.body_bytes("org/tiny/model.safetensors"), f.content.size() - 1000);
  EXPECT_FALSE(fs::exists(part));
  EXPECT_EQ(slurp(fs::path(snap) / "model.safetensors"), f.content);
}

TEST_F(ModelSourceTest, StalePartialDownloadIsReplacedWhenItFailsTheChecksum) {
  // An .incomplete that does not belong to the file: resumed, fails sha256, fetched again whole.
  const FakeFile& f = hub_.repo("org/tiny").files.at("2_Dense/model.safetensors");
  fs::path part = repo_dir("models--org--tiny") / "blobs" / (f.etag() + ".incomplete");
  spit(part, std::string(777, '\x7f'));
  std::string snap = resolve_model_source("org/tiny");
  std::vector<LoggedRequest> gets =
      hub_.gets("/resolve/" + kTinyCommit + "/2_Dense/model.safetensors");
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[0].range, "bytes=777-");
  EXPECT_EQ(gets[1].range, "");
  EXPECT_EQ(slurp(fs::path(snap) / "2_Dense/model.safetensors"), f.content);
  EXPECT_FALSE(fs::exists(part));
}

TEST_F(ModelSourceTest, ConcurrentResolvesShareOneDownload) {
  std::vector<std::string> got(4);
  std::vector<std::string> errors(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      try {
        got[i] = resolve_model_source("org/tiny");
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(errors[i], "") << i;
    EXPECT_EQ(got[i], got[0]) << i;
  }
  const FakeFile& f = hub_.repo("org/tiny").files.at("model.safetensors");
  EXPECT_EQ(slurp(fs::path(got[0]) / "model.safetensors"), f.content);
  // The file lock lets one thread fetch each blob; the others find it done.
  EXPECT_EQ(hub_.gets("/cdn/").size(), 1u);
}

TEST_F(ModelSourceTest, CorruptBodyFailsTheChecksumThenARetrySucceeds) {
  const FakeFile& f = hub_.repo("org/tiny").files.at("model.safetensors");
  hub_.corrupt("org/tiny/model.safetensors", true);
  Error e = resolve_error("org/tiny");
  EXPECT_EQ(e.code(), ErrorCode::kInternal);
  std::string msg = e.what();
  EXPECT_NE(msg.find("checksum mismatch"), std::string::npos) << msg;
  EXPECT_NE(msg.find("org/tiny/model.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected sha256 " + f.etag()), std::string::npos) << msg;
  fs::path rd = repo_dir("models--org--tiny");
  EXPECT_FALSE(fs::exists(rd / "blobs" / f.etag()));
  EXPECT_FALSE(fs::exists(rd / "blobs" / (f.etag() + ".incomplete")));
  EXPECT_FALSE(fs::exists(rd / "refs" / "main"));

  hub_.corrupt("org/tiny/model.safetensors", false);
  std::string snap = resolve_model_source("org/tiny");
  EXPECT_EQ(slurp(fs::path(snap) / "model.safetensors"), f.content);
}

TEST_F(ModelSourceTest, PrivateRepoNeedsHfToken) {
  Error e = resolve_error("org/private");
  EXPECT_EQ(e.code(), ErrorCode::kUnauthenticated);
  std::string msg = e.what();
  EXPECT_NE(msg.find("HTTP 401"), std::string::npos) << msg;
  EXPECT_NE(msg.find("org/private"), std::string::npos) << msg;
  EXPECT_NE(msg.find("set HF_TOKEN"), std::string::npos) << msg;

  env_.set("HF_TOKEN", "hf_wrong");
  e = resolve_error("org/private");
  EXPECT_EQ(e.code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(std::string(e.what()).find("HF_TOKEN was not accepted"), std::string::npos) << e.what();

  env_.set("HF_TOKEN", "hf_secret");
  hub_.reset_log();
  std::string snap = resolve_model_source("org/private");
  EXPECT_EQ(slurp(fs::path(snap) / "config.json"),
            hub_.repo("org/private").files.at("config.json").content);
  for (const LoggedRequest& r : hub_.requests()) {
    // Every Hub request carries the token (libcurl drops it only when a redirect changes host;
    // the fake CDN is on the same host, so it is not checked here).
    if (r.path.find("/cdn/") == std::string::npos) {
      EXPECT_EQ(r.auth, "Bearer hf_secret") << r.path;
    }
  }
}

TEST_F(ModelSourceTest, TokenFileUnderHfHomeIsUsed) {
  spit(home_ / "token", "hf_secret\n");
  std::string snap = resolve_model_source("org/private");
  EXPECT_TRUE(fs::exists(fs::path(snap) / "model.safetensors"));
}

TEST_F(ModelSourceTest, UnknownRepoAndRevisionAreNotFound) {
  Error e = resolve_error("org/missing");
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  std::string msg = e.what();
  EXPECT_NE(msg.find("repository 'org/missing' not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("HTTP 404"), std::string::npos) << msg;

  e = resolve_error("org/tiny@v9");
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_NE(std::string(e.what()).find("revision 'v9' not found"), std::string::npos) << e.what();
}

TEST_F(ModelSourceTest, RepoWithoutSafetensorsIsRejected) {
  Error e = resolve_error("org/binonly");
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  std::string msg = e.what();
  EXPECT_NE(msg.find("only safetensors weights"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pytorch_model.bin"), std::string::npos) << msg;
}

TEST_F(ModelSourceTest, ShardedWeightsAreAllDownloaded) {
  std::string snap = resolve_model_source("org/sharded");
  const FakeRepo& repo = hub_.repo("org/sharded");
  for (const auto& [path, f] : repo.files) {
    EXPECT_EQ(slurp(fs::path(snap) / path), f.content) << path;
  }
  hub_.reset_log();
  EXPECT_EQ(resolve_model_source("org/sharded"), snap);
  EXPECT_EQ(hub_.request_count(), 0u);
}

TEST_F(ModelSourceTest, OfflineWithAnEmptyCacheFailsClearly) {
  env_.set("HF_HUB_OFFLINE", "1");
  Error e = resolve_error("org/tiny");
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  std::string msg = e.what();
  EXPECT_NE(msg.find("not in the Hugging Face cache"), std::string::npos) << msg;
  EXPECT_NE(msg.find("HF_HUB_OFFLINE"), std::string::npos) << msg;
  EXPECT_NE(msg.find((home_ / "hub").string()), std::string::npos) << msg;
  EXPECT_EQ(hub_.request_count(), 0u);
}

TEST_F(ModelSourceTest, UnreachableHubFailsClearly) {
  env_.set("HF_ENDPOINT", "http://127.0.0.1:" + std::to_string(closed_port()));
  Error e = resolve_error("org/tiny");
  EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
  std::string msg = e.what();
  EXPECT_NE(msg.find("cannot reach the Hugging Face Hub"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not in the local cache"), std::string::npos) << msg;
}

TEST_F(ModelSourceTest, CacheIsFoundThroughHfHubCacheWithPlainFiles) {
  // A cache made by someone else (plain files instead of links), under HF_HUB_CACHE, which
  // wins over HF_HOME.
  fs::path cache = home_ / "other-cache";
  env_.set("HF_HUB_CACHE", cache.string());
  EXPECT_EQ(hf_hub_cache_dir(), cache);
  const std::string commit = "4444444444444444444444444444444444444444";
  fs::path rd = cache / "models--someone--model";
  spit(rd / "refs" / "main", commit + "\n");
  spit(rd / "refs" / "v1", commit);
  spit(rd / "snapshots" / commit / "config.json", "{}");
  spit(rd / "snapshots" / commit / "model.safetensors", make_safetensors(4, 9));
  EXPECT_EQ(resolve_model_source("someone/model"), (rd / "snapshots" / commit).string());
  EXPECT_EQ(resolve_model_source("someone/model@v1"), (rd / "snapshots" / commit).string());
  EXPECT_EQ(hub_.request_count(), 0u);
}

TEST_F(ModelSourceTest, IncompleteCachedSnapshotOfflineNamesWhatIsMissing) {
  fs::path rd = repo_dir("models--org--tiny");
  spit(rd / "refs" / "main", kTinyCommit);
  spit(rd / "snapshots" / kTinyCommit / "config.json", "{}");
  env_.set("HF_HUB_OFFLINE", "1");
  Error e = resolve_error("org/tiny");
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_NE(std::string(e.what()).find("lacks model.safetensors"), std::string::npos) << e.what();

  // Online, the missing files are fetched into the same snapshot (config.json is kept).
  env_.unset("HF_HUB_OFFLINE");
  std::string snap = resolve_model_source("org/tiny");
  EXPECT_EQ(slurp(fs::path(snap) / "config.json"), "{}");
  EXPECT_EQ(slurp(fs::path(snap) / "model.safetensors"),
            hub_.repo("org/tiny").files.at("model.safetensors").content);
  EXPECT_TRUE(hub_.gets("/resolve/" + kTinyCommit + "/config.json").empty());
}

TEST_F(ModelSourceTest, LocalFolderIsReturnedAsIs) {
  fs::path dir = home_ / "my-model";
  spit(dir / "config.json", "{}");
  EXPECT_EQ(resolve_model_source(dir.string()), dir.string());
  // A relative folder that looks like a repo id is still a folder when it exists.
  fs::path rel = home_ / "org" / "tiny";
  spit(rel / "config.json", "{}");
  fs::path cwd = fs::current_path();
  fs::current_path(home_);
  std::string got = resolve_model_source("org/tiny");
  fs::current_path(cwd);
  EXPECT_EQ(got, "org/tiny");
  EXPECT_EQ(hub_.request_count(), 0u);

  fs::create_directories(home_ / "empty");
  Error e = resolve_error((home_ / "empty").string());
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_NE(std::string(e.what()).find("has no config.json"), std::string::npos) << e.what();

  e = resolve_error((home_ / "does" / "not" / "exist").string());
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_NE(std::string(e.what()).find("neither an existing folder nor a Hugging Face repo id"),
            std::string::npos)
      << e.what();
  EXPECT_EQ(resolve_error("").code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ej::hub
