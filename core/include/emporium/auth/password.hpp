// argon2id password hashing on a bounded worker pool (DESIGN §6).
// Each hash costs tens of MiB and milliseconds, so hashes run on `max_concurrent` threads of the
// hasher's own, and at most `max_waiting` callers queue; beyond that service_unavailable (503,
// Retry-After) is thrown. Callers block until their hash is done.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace emporium::auth {

struct Argon2Params {
  std::uint32_t t_cost = 2;
  std::uint32_t m_cost_kib = 19456;
  std::uint32_t parallelism = 1;
};

class PasswordHasher {
 public:
  PasswordHasher(Argon2Params params, int max_concurrent, int max_waiting);
  ~PasswordHasher();
  PasswordHasher(const PasswordHasher&) = delete;
  PasswordHasher& operator=(const PasswordHasher&) = delete;

  // Encoded PHC string: $argon2id$v=19$m=…,t=…,p=…$salt$hash
  std::string hash(std::string_view password);
  // False for a wrong password or an unparseable hash.
  bool verify(std::string_view encoded, std::string_view password);
  // True when `encoded` is not argon2id with exactly this hasher's parameters.
  bool needs_rehash(std::string_view encoded) const;
  // Spends the same time as a verification, for unknown accounts.
  void dummy_verify(std::string_view password);

  const Argon2Params& params() const { return params_; }

 private:
  // Runs `work` on a pool thread and waits for it; rethrows what it threw.
  void run(const std::function<void()>& work);
  void serve();

  Argon2Params params_;
  int max_concurrent_;
  int max_waiting_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  int pending_ = 0;  // queued + running
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::string dummy_hash_;
};

}  // namespace emporium::auth
