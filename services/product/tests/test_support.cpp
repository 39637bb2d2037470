#include "test_support.hpp"

#include "product_service.hpp"

#include <emporium/util/crypto.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <stdexcept>

namespace emporium::product::testing {
namespace {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string unique_suffix() {
  return sha256_hex(random_bytes(16)).substr(0, 16);
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

TestDatabase::TestDatabase(Backend backend, int pool_size) : backend_(backend) {
  if (backend == Backend::Sqlite) {
    file_ = std::filesystem::temp_directory_path() / ("product-test-" + unique_suffix() + ".db");
    url_ = "sqlite://" + file_.string();
  } else {
    const std::string base = env_or_empty("EMPORIUM_TEST_PG_URL");
    schema_ = "product_test_" + unique_suffix();
    db::Database::open(base)->with_tx(db::TxKind::Write,
                                      [&](db::Tx& tx) { tx.exec("CREATE SCHEMA " + schema_); });
    // Every connection of this database works in the throwaway schema.
    url_ = base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
           schema_;
  }
  db_ = db::Database::open(url_, db::Options{pool_size, 5000, 12});
  db_->migrate(migrations());
}

TestDatabase::~TestDatabase() {
  db_.reset();
  try {
    if (backend_ == Backend::Sqlite) {
      std::error_code ignored;
      for (const char* extra : {"", "-wal", "-shm", "-journal"}) {
        std::filesystem::remove(file_.string() + extra, ignored);
      }
    } else {
      db::Database::open(env_or_empty("EMPORIUM_TEST_PG_URL"))
          ->with_tx(db::TxKind::Write,
                    [&](db::Tx& tx) { tx.exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE"); });
    }
  } catch (const std::exception&) {
    // Cleanup is best effort; a leftover schema or file does not change any result.
  }
}

std::string generate_ec_private_key_pem() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) throw std::runtime_error("EVP_EC_gen failed");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

domain::ProductFields fields(std::string name, std::int64_t price_minor, std::string category,
                             std::int64_t stock, std::string description) {
  domain::ProductFields f;
  f.name = std::move(name);
  f.description = std::move(description);
  f.price_minor = price_minor;
  f.category = std::move(category);
  f.stock = stock;
  f.images = std::vector<std::string>();
  return f;
}

}  // namespace emporium::product::testing
