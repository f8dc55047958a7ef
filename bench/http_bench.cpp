// http_bench: a small closed-loop HTTP/1.1 load client for the HTTP front. N keep-alive
// connections on one epoll thread each send a request, wait for the whole response
// (Content-Length), and send the next; prints requests/s, p50 and p99 latency.
//   http_bench HOST PORT CONNECTIONS SECONDS METHOD PATH [BODY] [API_KEY]
// One line of output: "conns=N reqs=R rps=X p50_us=A p99_us=B errors=E reconnects=C"; a
// connection the server closes is reopened (its handshake counts in the next latency).
// Used by bench/http_bench.sh, which runs it against the new and the old front.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  std::string in;
  size_t sent = 0;
  Clock::time_point t0;
};

int open_conn(const char* host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host, &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

// Length of a complete response at the start of `s` (0 when not complete yet).
size_t complete_response(const std::string& s) {
  size_t end = s.find("\r\n\r\n");
  if (end == std::string::npos) return 0;
  size_t len = 0;
  for (size_t pos = s.find("\r\n"); pos < end; pos = s.find("\r\n", pos + 2)) {
    if (strncasecmp(s.c_str() + pos + 2, "content-length:", 15) == 0) {
      len = std::strtoull(s.c_str() + pos + 17, nullptr, 10);
    }
  }
  return s.size() >= end + 4 + len ? end + 4 + len : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: http_bench HOST PORT CONNS SECONDS METHOD PATH [BODY] [KEY]\n");
    return 2;
  }
  const char* host = argv[1];
  int port = std::atoi(argv[2]);
  int conns = std::atoi(argv[3]);
  double seconds = std::atof(argv[4]);
  std::string body = argc > 7 ? argv[7] : "";
  std::string key = argc > 8 ? argv[8] : "";
  std::string req = std::string(argv[5]) + " " + argv[6] + " HTTP/1.1\r\nHost: " + host + "\r\n";
  if (!key.empty()) req += "Authorization: Bearer " + key + "\r\n";
  if (!body.empty()) {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;

  int ep = epoll_create1(0);
  std::vector<Conn> cs(static_cast<size_t>(conns));
  for (size_t i = 0; i < cs.size(); ++i) {
    cs[i].fd = open_conn(host, port);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
  }
  std::vector<int64_t> lat_us;
  lat_us.reserve(1 << 20);
  int64_t errors = 0;
  int64_t reconnects = 0;  // connections the server closed (each costs a new handshake)
  const auto warm_end = Clock::now() + std::chrono::milliseconds(300);
  const auto end = warm_end + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  auto send_some = [&](Conn& c) {
    if (c.sent == 0) c.t0 = Clock::now();
    while (c.sent < req.size()) {
      ssize_t n = ::send(c.fd, req.data() + c.sent, req.size() - c.sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      c.sent += static_cast<size_t>(n);
    }
  };
  for (auto& c : cs) send_some(c);
  std::vector<epoll_event> evs(1024);
  char buf[65536];
  while (Clock::now() < end) {
    int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
    for (int i = 0; i < n; ++i) {
      Conn& c = cs[evs[static_cast<size_t>(i)].data.u64];
      if (evs[static_cast<size_t>(i)].events & EPOLLOUT) send_some(c);
      if (!(evs[static_cast<size_t>(i)].events & EPOLLIN)) continue;
      bool eof = false;
      for (;;) {
        ssize_t got = ::recv(c.fd, buf, sizeof(buf), 0);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) eof = true;
        if (got <= 0) break;
        c.in.append(buf, static_cast<size_t>(got));
      }
      while (size_t len = complete_response(c.in)) {
        auto now = Clock::now();
        if (c.in.compare(0, 12, "HTTP/1.1 200") != 0) ++errors;
        if (now >= warm_end) {
          lat_us.push_back(
              std::chrono::duration_cast<std::chrono::microseconds>(now - c.t0).count());
        }
        c.in.erase(0, len);
        c.sent = 0;
        if (!eof) send_some(c);
      }
      if (eof) {  // the server closed (e.g. httplib's 5 requests per connection): reconnect
        ++reconnects;
        epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        ::close(c.fd);
        c.fd = open_conn(host, port);
        c.in.clear();
        c.sent = 0;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u64 = evs[static_cast<size_t>(i)].data.u64;
        epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
        send_some(c);
      }
    }
  }
  std::sort(lat_us.begin(), lat_us.end());
  auto pct = [&](double p) {
    return lat_us.empty() ? 0
                          : lat_us[static_cast<size_t>(p * static_cast<double>(lat_us.size() - 1))];
  };
  std::printf("conns=%d reqs=%zu rps=%.0f p50_us=%lld p99_us=%lld errors=%lld reconnects=%lld\n",
              conns, lat_us.size(), static_cast<double>(lat_us.size()) / seconds,
              static_cast<long long>(pct(0.5)), static_cast<long long>(pct(0.99)),
              static_cast<long long>(errors), static_cast<long long>(reconnects));
  for (auto& c : cs) ::close(c.fd);
  return 0;
}
