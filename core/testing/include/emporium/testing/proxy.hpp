// A TCP proxy that can freeze like a stopped server (the kernel still accepts and acknowledges,
// nothing is answered), for tests of what happens when PostgreSQL stops answering mid-call: a
// statement, a COMMIT whose answer is lost.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace emporium::testing {

// A TCP proxy to one upstream that can stop forwarding, as a frozen server does: connections are
// still accepted by the kernel and bytes acknowledged, but nothing is answered. thaw() resumes,
// bytes buffered meanwhile included.
class FreezableProxy {
 public:
  FreezableProxy(std::string host, int port) : host_(std::move(host)), port_(port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_, 64) != 0) {
      throw std::runtime_error("proxy: cannot listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    listen_port_ = ntohs(addr.sin_port);
    if (::pipe(wake_) != 0) throw std::runtime_error("proxy: pipe");
    thread_ = std::thread([this] { loop(); });
  }
  ~FreezableProxy() {
    stop_ = true;
    poke();
    thread_.join();
    for (auto [a, b] : pairs_) {
      ::close(a);
      ::close(b);
    }
    ::close(listener_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  FreezableProxy(const FreezableProxy&) = delete;
  FreezableProxy& operator=(const FreezableProxy&) = delete;

  int port() const { return listen_port_; }
  void freeze() {
    frozen_ = true;
    poke();
  }
  void thaw() {
    frozen_ = false;
    poke();
  }

 private:
  void poke() { [[maybe_unused]] auto n = ::write(wake_[1], "x", 1); }

  int connect_upstream() const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    ::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  static bool write_all(int fd, const char* data, ssize_t size) {
    while (size > 0) {
      const ssize_t n = ::write(fd, data, static_cast<std::size_t>(size));
      if (n <= 0) return false;
      data += n;
      size -= n;
    }
    return true;
  }

  void loop() {
    while (!stop_) {
      std::vector<pollfd> fds{{wake_[0], POLLIN, 0}};
      const bool frozen = frozen_;
      if (!frozen) {
        fds.push_back({listener_, POLLIN, 0});
        for (auto [a, b] : pairs_) {
          fds.push_back({a, POLLIN, 0});
          fds.push_back({b, POLLIN, 0});
        }
      }
      if (::poll(fds.data(), fds.size(), 200) <= 0) continue;
      char buf[65536];
      if (fds[0].revents != 0) [[maybe_unused]]
        auto n = ::read(wake_[0], buf, sizeof buf);
      if (frozen) continue;
      if (fds[1].revents != 0) {
        const int client = ::accept(listener_, nullptr, nullptr);
        if (client >= 0) {
          const int upstream = connect_upstream();
          if (upstream < 0) {
            ::close(client);
          } else {
            pairs_.emplace_back(client, upstream);
          }
        }
      }
      std::vector<bool> closed(pairs_.size(), false);
      for (std::size_t i = 0; i < pairs_.size() && 2 + 2 * i + 1 < fds.size(); ++i) {
        for (int side = 0; side < 2; ++side) {
          if (fds[2 + 2 * i + side].revents == 0 || closed[i]) continue;
          const int from = side == 0 ? pairs_[i].first : pairs_[i].second;
          const int to = side == 0 ? pairs_[i].second : pairs_[i].first;
          const ssize_t n = ::read(from, buf, sizeof buf);
          if (n <= 0 || !write_all(to, buf, n)) closed[i] = true;
        }
      }
      for (std::size_t i = pairs_.size(); i > 0; --i) {
        if (!closed[i - 1]) continue;
        ::close(pairs_[i - 1].first);
        ::close(pairs_[i - 1].second);
        pairs_.erase(pairs_.begin() + static_cast<std::ptrdiff_t>(i - 1));
      }
    }
  }

  std::string host_;
  int port_;
  int listener_ = -1;
  int listen_port_ = 0;
  int wake_[2] = {-1, -1};
  std::atomic<bool> frozen_{false};
  std::atomic<bool> stop_{false};
  std::vector<std::pair<int, int>> pairs_;  // (client, upstream), owned by the loop thread
  std::thread thread_;
};

// host and port of a postgresql://user@host:port/db… URL, and the same URL through `proxy_port`.
struct PgAddress {
  std::string host;
  int port = 5432;
  std::string via(const std::string& url, int proxy_port) const {
    const auto scheme = url.find("://") + 3;
    const auto end = url.find_first_of("/?", scheme);
    const auto at = url.rfind('@', end);
    const auto host_start = at != std::string::npos && at >= scheme ? at + 1 : scheme;
    return url.substr(0, host_start) + "127.0.0.1:" + std::to_string(proxy_port) + url.substr(end);
  }
};
inline PgAddress pg_address(const std::string& url) {
  const auto scheme = url.find("://") + 3;
  const auto end = url.find_first_of("/?", scheme);
  const auto at = url.rfind('@', end);
  const auto host_start = at != std::string::npos && at >= scheme ? at + 1 : scheme;
  const std::string hostport = url.substr(host_start, end - host_start);
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos) return {hostport, 5432};
  return {hostport.substr(0, colon), std::stoi(hostport.substr(colon + 1))};
}

}  // namespace emporium::testing
