#include "emporium/testing/tokens.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstddef>
#include <stdexcept>

namespace emporium::testing {

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

}  // namespace emporium::testing
