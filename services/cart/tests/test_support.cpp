#include "test_support.hpp"

#include "cart_service.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/util/crypto.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <stdexcept>

namespace emporium::cart::testing {
namespace {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string unique_suffix() {
  return sha256_hex(random_bytes(16)).substr(0, 16);
}

}  // namespace

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
    file_ = std::filesystem::temp_directory_path() / ("cart-test-" + unique_suffix() + ".db");
    url_ = "sqlite://" + file_.string();
  } else {
    const std::string base = env_or_empty("EMPORIUM_TEST_PG_URL");
    schema_ = "cart_test_" + unique_suffix();
    db::Database::open(base)->with_tx(db::TxKind::Write,
                                      [&](db::Tx& tx) { tx.exec("CREATE SCHEMA " + schema_); });
    // Every connection of this database works in the throwaway schema.
    url_ = base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
           schema_;
  }
  db::Options options;
  options.pool_size = pool_size;
  db_ = db::Database::open(url_, options);
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

void FakeCatalog::put(domain::Product product) {
  std::lock_guard lock(mutex_);
  products_[product.id] = std::move(product);
}

void FakeCatalog::erase(const std::string& id) {
  std::lock_guard lock(mutex_);
  products_.erase(id);
}

std::optional<domain::Product> FakeCatalog::find(const std::string& product_id,
                                                 const catalog::CallContext& context) {
  ++find_calls_;
  if (unavailable_) throw service_unavailable("product-service is unavailable");
  std::lock_guard lock(mutex_);
  last_request_id_ = context.request_id;
  const auto it = products_.find(product_id);
  if (it == products_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::vector<domain::Product>> FakeCatalog::find_many(
    const std::vector<std::string>& product_ids, const catalog::CallContext& context) {
  ++find_many_calls_;
  std::lock_guard lock(mutex_);
  last_ids_ = product_ids;
  last_request_id_ = context.request_id;
  if (unavailable_) return std::nullopt;
  std::vector<domain::Product> found;
  for (const auto& id : product_ids) {
    if (const auto it = products_.find(id); it != products_.end()) found.push_back(it->second);
  }
  return found;
}

std::vector<std::string> FakeCatalog::last_ids() const {
  std::lock_guard lock(mutex_);
  return last_ids_;
}

std::string FakeCatalog::last_request_id() const {
  std::lock_guard lock(mutex_);
  return last_request_id_;
}

}  // namespace emporium::cart::testing
