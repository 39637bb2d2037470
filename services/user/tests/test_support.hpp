// Test helpers for user-service: a fresh migrated database per test (emporium::testing), a temp
// file writer and cheap argon2 parameters.
#pragma once

#include <emporium/auth/password.hpp>
#include <emporium/testing/clock.hpp>
#include <emporium/testing/database.hpp>
#include <emporium/testing/tokens.hpp>

#include <string>

namespace emporium::user::testing {

using ::emporium::testing::Backend;
using ::emporium::testing::backend_name;
using ::emporium::testing::FakeClock;
using ::emporium::testing::generate_ec_private_key_pem;

// Writes `contents` to a new file in the temp directory and returns its path.
std::string write_temp_file(const std::string& contents, const std::string& suffix);

// Cheap parameters so tests do not spend seconds in argon2.
inline auth::Argon2Params fast_argon2() {
  return {1, 64, 1};
}

// A database with user-service's migrations applied.
class TestDatabase : public ::emporium::testing::TestDatabase {
 public:
  explicit TestDatabase(Backend backend);
};

}  // namespace emporium::user::testing
