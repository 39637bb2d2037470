#include "test_support.hpp"

#include "user_service.hpp"

#include <filesystem>
#include <fstream>

namespace emporium::user::testing {

std::string write_temp_file(const std::string& contents, const std::string& suffix) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("user-test-" + ::emporium::testing::unique_suffix() + suffix);
  std::ofstream(path, std::ios::binary) << contents;
  return path.string();
}

TestDatabase::TestDatabase(Backend backend)
    : ::emporium::testing::TestDatabase(backend, migrations(), "user", 4) {}

}  // namespace emporium::user::testing
