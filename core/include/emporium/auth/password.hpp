// argon2id password hashing on a bounded number of concurrent workers (DESIGN §6).
// Each hash costs tens of MiB and milliseconds, so at most `max_concurrent` run at once and at most
// `max_waiting` callers queue; beyond that service_unavailable (503, Retry-After) is thrown.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace emporium::auth {

struct Argon2Params {
  std::uint32_t t_cost = 2;
  std::uint32_t m_cost_kib = 19456;
  std::uint32_t parallelism = 1;
};

class PasswordHasher {
 public:
  PasswordHasher(Argon2Params params, int max_concurrent, int max_waiting);

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
  class Slot;
  Argon2Params params_;
  int max_concurrent_;
  int max_waiting_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int running_ = 0;
  int waiting_ = 0;
  std::string dummy_hash_;
};

}  // namespace emporium::auth
