// argon2id hashing, verification, re-hash detection and the concurrency gate.
#include "emporium/auth/password.hpp"

#include "emporium/error/errors.hpp"
#include "emporium/util/crypto.hpp"

#include <argon2.h>
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

namespace emporium::auth {
namespace {

// Cheap parameters keep the suite fast under sanitizers; the production defaults are tested once.
constexpr Argon2Params kFast{1, 256, 1};

TEST(PasswordHasher, HashThenVerify) {
  PasswordHasher hasher(kFast, 2, 8);
  const std::string encoded = hasher.hash("correct horse battery staple");
  EXPECT_TRUE(encoded.starts_with("$argon2id$v=19$m=256,t=1,p=1$")) << encoded;
  EXPECT_TRUE(hasher.verify(encoded, "correct horse battery staple"));
  EXPECT_FALSE(hasher.verify(encoded, "correct horse battery stapl"));
  EXPECT_FALSE(hasher.verify(encoded, ""));
  EXPECT_FALSE(hasher.needs_rehash(encoded));
}

TEST(PasswordHasher, SaltsDiffer) {
  PasswordHasher hasher(kFast, 2, 8);
  const std::string a = hasher.hash("same");
  const std::string b = hasher.hash("same");
  EXPECT_NE(a, b);
  EXPECT_TRUE(hasher.verify(a, "same"));
  EXPECT_TRUE(hasher.verify(b, "same"));
}

TEST(PasswordHasher, PasswordsWithNulAndNonAsciiBytes) {
  PasswordHasher hasher(kFast, 2, 8);
  const std::string password("p\0ss\xc3\xa9", 6);
  const std::string encoded = hasher.hash(password);
  EXPECT_TRUE(hasher.verify(encoded, password));
  EXPECT_FALSE(hasher.verify(encoded, "p"));
  EXPECT_TRUE(hasher.verify(hasher.hash(""), ""));
}

TEST(PasswordHasher, DefaultParametersMatchDesign) {
  PasswordHasher hasher(Argon2Params{}, 1, 1);
  const std::string encoded = hasher.hash("pw");
  EXPECT_TRUE(encoded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << encoded;
  EXPECT_TRUE(hasher.verify(encoded, "pw"));
}

TEST(PasswordHasher, GarbageHashesAreFalse) {
  PasswordHasher hasher(kFast, 2, 8);
  const std::string good = hasher.hash("pw");
  for (const std::string& bad :
       {std::string(), std::string("pw"), std::string("$2b$10$abcdefghijklmnopqrstuv"),
        std::string("$argon2id$"), std::string("$argon2id$v=19$m=256,t=1,p=1$$"),
        std::string("$argon2id$v=19$m=x,t=1,p=1$c2FsdHNhbHQ$aGFzaA"),
        std::string("$argon2x$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaA"), good + "$",
        std::string(good).insert(10, 1, '\0')}) {
    EXPECT_FALSE(hasher.verify(bad, "pw")) << bad;
    EXPECT_TRUE(hasher.needs_rehash(bad)) << bad;
  }
  // Well-formed but with a shorter hash: a different output, so the password does not match.
  EXPECT_FALSE(hasher.verify(good.substr(0, good.size() - 5), "pw"));
}

TEST(PasswordHasher, OtherArgon2VariantsVerifyByPrefix) {
  PasswordHasher hasher(kFast, 2, 8);
  const std::string salt = random_bytes(16);
  for (argon2_type type : {Argon2_i, Argon2_d}) {
    char encoded[256];
    ASSERT_EQ(argon2_hash(1, 256, 1, "pw", 2, salt.data(), salt.size(), nullptr, 32, encoded,
                          sizeof encoded, type, ARGON2_VERSION_13),
              ARGON2_OK);
    EXPECT_TRUE(hasher.verify(encoded, "pw")) << encoded;
    EXPECT_FALSE(hasher.verify(encoded, "pW")) << encoded;
    EXPECT_TRUE(hasher.needs_rehash(encoded)) << encoded;  // not argon2id
  }
}

TEST(PasswordHasher, NeedsRehashComparesEveryParameter) {
  PasswordHasher hasher(kFast, 2, 8);
  const std::string tail = "$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
  EXPECT_FALSE(hasher.needs_rehash("$argon2id$v=19$m=256,t=1,p=1" + tail));
  EXPECT_TRUE(hasher.needs_rehash("$argon2id$v=19$m=512,t=1,p=1" + tail));
  EXPECT_TRUE(hasher.needs_rehash("$argon2id$v=19$m=256,t=2,p=1" + tail));
  EXPECT_TRUE(hasher.needs_rehash("$argon2id$v=19$m=256,t=1,p=2" + tail));
  EXPECT_TRUE(hasher.needs_rehash("$argon2id$v=16$m=256,t=1,p=1" + tail));
  EXPECT_TRUE(hasher.needs_rehash("$argon2i$v=19$m=256,t=1,p=1" + tail));
  EXPECT_TRUE(hasher.needs_rehash("$argon2id$v=19$t=1,m=256,p=1" + tail));
  EXPECT_TRUE(hasher.needs_rehash("$argon2id$v=19$m=+256,t=1,p=1" + tail));
  EXPECT_TRUE(hasher.needs_rehash("$argon2id$v=19$m=99999999999,t=1,p=1" + tail));
  PasswordHasher other(Argon2Params{2, 512, 1}, 1, 1);
  EXPECT_TRUE(other.needs_rehash(hasher.hash("pw")));
}

TEST(PasswordHasher, SeedParameterHashVerifiesAndNeedsRehash) {
  // The seed's hashes come from npm argon2 defaults: argon2id, m=65536, t=3, p=4.
  const std::string salt = random_bytes(16);
  const std::string password = "seed-password";
  char encoded[256];
  ASSERT_EQ(argon2id_hash_encoded(3, 65536, 4, password.data(), password.size(), salt.data(),
                                  salt.size(), 32, encoded, sizeof encoded),
            ARGON2_OK);
  ASSERT_TRUE(std::string(encoded).starts_with("$argon2id$v=19$m=65536,t=3,p=4$")) << encoded;
  PasswordHasher hasher(Argon2Params{}, 1, 4);
  EXPECT_TRUE(hasher.verify(encoded, password));
  EXPECT_FALSE(hasher.verify(encoded, "seed-passwore"));
  EXPECT_TRUE(hasher.needs_rehash(encoded));
}

TEST(PasswordHasher, DummyVerifyRuns) {
  PasswordHasher hasher(kFast, 1, 1);
  EXPECT_NO_THROW(hasher.dummy_verify("anything"));
}

TEST(PasswordHasher, FullQueueAnswers503WithRetryAfter) {
  // One slot, no queue: while another thread hashes, a second caller is turned away at once.
  PasswordHasher hasher(Argon2Params{2, 8192, 1}, 1, 0);
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    while (!stop) {
      try {
        static_cast<void>(hasher.hash("busy"));
      } catch (const HttpError&) {
        // The main thread held the slot for a moment; keep the pressure on.
      }
    }
  });
  std::optional<HttpError> refused;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    try {
      static_cast<void>(hasher.verify("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "x"));
    } catch (const HttpError& e) {
      refused = e;
    }
  }
  stop = true;
  busy.join();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status(), 503);
  bool retry_after = false;
  for (const auto& [name, value] : refused->headers()) {
    if (name == "Retry-After") retry_after = value == "1";
  }
  EXPECT_TRUE(retry_after);
  // With the other thread gone, the slot is free again.
  EXPECT_TRUE(hasher.verify(hasher.hash("pw"), "pw"));
}

TEST(PasswordHasher, WaitersQueueInsteadOfFailing) {
  PasswordHasher hasher(kFast, 1, 8);
  std::atomic<int> ok{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        try {
          if (hasher.verify(hasher.hash("pw"), "pw")) ++ok;
        } catch (const HttpError&) {
          ++refused;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(refused.load(), 0);
}

TEST(PasswordHasher, HashMemoryStaysAtOneBlockPerHashingThread) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan replaces malloc, so glibc's arenas are not what hashing uses";
#else
  // The default parameters allocate 19 MiB per hash, which glibc keeps in the hashing thread's
  // arena. Hashing on the callers' threads grew the arenas by ~19 MiB per caller (~76 MiB here,
  // measured); on the hasher's one thread they hold one block.
  PasswordHasher hasher(Argon2Params{}, 1, 8);
  const std::size_t before = mallinfo2().arena;
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&hasher] {
      for (int i = 0; i < 2; ++i) static_cast<void>(hasher.hash("pw"));
    });
  }
  for (auto& thread : threads) thread.join();
  const std::size_t after = mallinfo2().arena;
  EXPECT_LT(after, before + (30U << 20)) << "arena bytes grew from " << before << " to " << after;
#endif
}

}  // namespace
}  // namespace emporium::auth
