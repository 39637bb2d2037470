#include "emporium/testing/database.hpp"

#include <emporium/util/crypto.hpp>

#include <cstdlib>
#include <exception>
#include <system_error>

namespace emporium::testing {
namespace {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

}  // namespace

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::Sqlite ? "Sqlite" : "Postgres";
}

bool postgres_available() {
  return !env_or_empty("EMPORIUM_TEST_PG_URL").empty();
}
bool postgres_required() {
  return env_or_empty("EMPORIUM_REQUIRE_PG") == "1";
}

std::string unique_suffix() {
  return sha256_hex(random_bytes(16)).substr(0, 16);
}

TempSqliteFile::TempSqliteFile(std::string_view prefix)
    : path_(std::filesystem::temp_directory_path() /
            (std::string(prefix) + "-test-" + unique_suffix() + ".db")) {}

TempSqliteFile::~TempSqliteFile() {
  std::error_code ignored;
  for (const char* extra : {"", "-wal", "-shm", "-journal"}) {
    std::filesystem::remove(path_.string() + extra, ignored);
  }
}

TempPgSchema::TempPgSchema(std::string_view prefix)
    : base_url_(env_or_empty("EMPORIUM_TEST_PG_URL")),
      name_(std::string(prefix) + "_test_" + unique_suffix()) {
  db::Database::open(base_url_)->with_tx(db::TxKind::Write,
                                         [&](db::Tx& tx) { tx.exec("CREATE SCHEMA " + name_); });
  url_ = base_url_ + (base_url_.find('?') == std::string::npos ? "?" : "&") +
         "options=-csearch_path%3D" + name_;
}

TempPgSchema::~TempPgSchema() {
  try {
    db::Database::open(base_url_)->with_tx(db::TxKind::Write, [&](db::Tx& tx) {
      tx.exec("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
    });
  } catch (const std::exception&) {
    // Cleanup is best effort; a leftover schema does not change any result.
  }
}

TestDatabase::TestDatabase(Backend backend, const db::MigrationSet& migrations,
                           std::string_view prefix, int pool_size) {
  if (backend == Backend::Sqlite) {
    url_ = file_.emplace(prefix).url();
  } else {
    url_ = schema_.emplace(prefix).url();
  }
  db_ = db::Database::open(url_, db::Options{.pool_size = pool_size});
  db_->migrate(migrations);
}

}  // namespace emporium::testing
