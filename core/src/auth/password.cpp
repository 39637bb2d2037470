// argon2id password hashing (DESIGN §6) with a concurrency gate: each hash costs tens of MiB, so a
// burst of logins must queue briefly or be turned away with 503, never exhaust memory.
#include "emporium/auth/password.hpp"

#include "emporium/error/errors.hpp"
#include "emporium/util/crypto.hpp"

#include <argon2.h>
#include <sys/resource.h>
#include <unistd.h>

#include <future>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace emporium::auth {
namespace {

constexpr std::uint32_t kSaltBytes = 16;
constexpr std::uint32_t kHashBytes = 32;

// Reads "<name>=<decimal>" at the front of `text` and advances past it.
bool take_number(std::string_view& text, std::string_view name, std::uint32_t& value) {
  if (text.substr(0, name.size()) != name) return false;
  text.remove_prefix(name.size());
  if (text.empty() || text.front() < '0' || text.front() > '9') return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{}) return false;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return true;
}

// A non-empty run of the unpadded standard base64 alphabet PHC strings use.
bool take_b64(std::string_view& text) {
  std::size_t n = 0;
  const auto is_b64 = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  };
  while (n < text.size() && is_b64(text[n])) ++n;
  text.remove_prefix(n);
  return n > 0;
}

bool take(std::string_view& text, std::string_view expected) {
  if (text.substr(0, expected.size()) != expected) return false;
  text.remove_prefix(expected.size());
  return true;
}

}  // namespace

PasswordHasher::PasswordHasher(Argon2Params params, int max_concurrent, int max_waiting)
    : params_(params),
      max_concurrent_(std::max(1, max_concurrent)),
      max_waiting_(std::max(0, max_waiting)) {
  // Hashes run on these threads only. Each hash mallocs one m_cost block (19 MiB by default) that
  // glibc keeps in the hashing thread's arena once its dynamic mmap threshold has risen: with a few
  // threads of our own, memory stays at max_concurrent blocks, and reusing them spares the page
  // faults of a fresh mmap per hash. (Hashing on every worker thread kept ~170 MiB after a login
  // burst; mmapping each block instead cost ~70% more CPU per login. Both measured.)
  threads_.reserve(static_cast<std::size_t>(max_concurrent_));
  for (int i = 0; i < max_concurrent_; ++i) threads_.emplace_back([this] { serve(); });
  // Computed once, with the live parameters, so a dummy verification costs what a real one does.
  dummy_hash_ = hash(random_token(24));
}

PasswordHasher::~PasswordHasher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

namespace {
constexpr int kHashThreadNice = 10;
}  // namespace

void PasswordHasher::serve() {
  // Hashing is CPU work that can wait a little; reads cannot. A lower priority for these threads
  // (Linux applies nice per thread) lets the I/O threads and the workers preempt a login burst,
  // so probes and reads keep their latency while the burst shares what is left.
  setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kHashThreadNice);
  for (;;) {
    std::function<void()> work;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work();  // never throws: run() wraps the caller's work
  }
}

void PasswordHasher::run(const std::function<void()>& work) {
  std::promise<void> done;
  auto finished = done.get_future();
  std::exception_ptr error;
  {
    std::lock_guard lock(mutex_);
    if (pending_ >= max_concurrent_ + max_waiting_) {
      throw emporium::service_unavailable("Too many password checks in progress, retry shortly", 1);
    }
    ++pending_;
    queue_.emplace_back([&] {
      try {
        work();
      } catch (...) {
        error = std::current_exception();
      }
      // Free the place before waking the caller, so its next call finds it free.
      {
        std::lock_guard inner(mutex_);
        --pending_;
      }
      done.set_value();
    });
  }
  cv_.notify_one();
  finished.wait();
  if (error) std::rethrow_exception(error);
}

std::string PasswordHasher::hash(std::string_view password) {
  const std::string salt = random_bytes(kSaltBytes);
  const std::size_t length = argon2_encodedlen(
      params_.t_cost, params_.m_cost_kib, params_.parallelism, kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(length, '\0');
  int rc = 0;
  run([&] {
    rc = argon2id_hash_encoded(params_.t_cost, params_.m_cost_kib, params_.parallelism,
                               password.data(), password.size(), salt.data(), salt.size(),
                               kHashBytes, encoded.data(), encoded.size());
  });
  if (rc != ARGON2_OK) {
    throw std::runtime_error(std::string("argon2id hashing failed: ") + argon2_error_message(rc));
  }
  encoded.resize(std::strlen(encoded.c_str()));
  return encoded;
}

bool PasswordHasher::verify(std::string_view encoded, std::string_view password) {
  argon2_type type;
  if (encoded.starts_with("$argon2id$")) {
    type = Argon2_id;
  } else if (encoded.starts_with("$argon2i$")) {
    type = Argon2_i;
  } else if (encoded.starts_with("$argon2d$")) {
    type = Argon2_d;
  } else {
    return false;
  }
  // libargon2 wants a NUL-terminated string; an embedded NUL would silently truncate it.
  if (encoded.find('\0') != std::string_view::npos) return false;
  const std::string terminated(encoded);
  int rc = ARGON2_OK;
  run([&] { rc = argon2_verify(terminated.c_str(), password.data(), password.size(), type); });
  return rc == ARGON2_OK;
}

bool PasswordHasher::needs_rehash(std::string_view encoded) const {
  std::uint32_t version = 0;
  Argon2Params found;
  if (!take(encoded, "$argon2id$") || !take_number(encoded, "v=", version) ||
      version != ARGON2_VERSION_13 || !take(encoded, "$") ||
      !take_number(encoded, "m=", found.m_cost_kib) || !take(encoded, ",") ||
      !take_number(encoded, "t=", found.t_cost) || !take(encoded, ",") ||
      !take_number(encoded, "p=", found.parallelism) || !take(encoded, "$") || !take_b64(encoded) ||
      !take(encoded, "$") || !take_b64(encoded) || !encoded.empty()) {
    return true;
  }
  return found.m_cost_kib != params_.m_cost_kib || found.t_cost != params_.t_cost ||
         found.parallelism != params_.parallelism;
}

void PasswordHasher::dummy_verify(std::string_view password) {
  // The result is meaningless; only the time spent matters.
  static_cast<void>(verify(dummy_hash_, password));
}

}  // namespace emporium::auth
