#include "sealed_pair.hpp"

#include <emporium/util/crypto.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>

#include <climits>
#include <memory>
#include <stdexcept>

namespace emporium::user {
namespace {

constexpr std::string_view kPrefix = "v1.";
constexpr std::string_view kKeyLabel = "successor:";
constexpr int kNonceBytes = 12;
constexpr int kTagBytes = 16;
// Both tokens are base64url or JWT text: neither contains a newline.
constexpr char kSeparator = '\n';

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

// OpenSSL failures leave entries on the thread's error queue; do not leak them to later callers.
struct ErrorQueueGuard {
  ~ErrorQueueGuard() { ERR_clear_error(); }
};

std::string derive_key(std::string_view old_raw_token) {
  std::string input(kKeyLabel);
  input.append(old_raw_token);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha256(), nullptr) != 1 ||
      length != 32) {
    throw std::runtime_error("SHA-256 failed");
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

unsigned char* bytes(std::string& s) {
  return reinterpret_cast<unsigned char*>(s.data());
}

}  // namespace

std::string seal_successor(std::string_view old_raw_token, std::string_view old_token_hash,
                           const SuccessorPair& pair) {
  ErrorQueueGuard guard;
  const std::string key = derive_key(old_raw_token);
  const std::string nonce = random_bytes(kNonceBytes);
  std::string plain = pair.refresh_token;
  plain += kSeparator;
  plain += pair.access_token;
  if (plain.size() > INT_MAX / 2 || old_token_hash.size() > INT_MAX / 2) {
    throw std::runtime_error("successor pair too large to seal");
  }

  std::string out = nonce;
  out.resize(kNonceBytes + plain.size() + kTagBytes);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  int final_length = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key), bytes(nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &length, bytes(old_token_hash),
                        static_cast<int>(old_token_hash.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), bytes(out) + kNonceBytes, &length, bytes(plain),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), bytes(out) + kNonceBytes + length, &final_length) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          bytes(out) + kNonceBytes + plain.size()) != 1) {
    throw std::runtime_error("AES-256-GCM sealing failed");
  }
  return std::string(kPrefix) + base64url_encode(out);
}

std::optional<SuccessorPair> unseal_successor(std::string_view old_raw_token,
                                              std::string_view old_token_hash,
                                              std::string_view sealed) {
  ErrorQueueGuard guard;
  if (sealed.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string data;
  if (!base64url_decode(sealed.substr(kPrefix.size()), data)) return std::nullopt;
  if (data.size() < static_cast<std::size_t>(kNonceBytes + kTagBytes) ||
      data.size() > INT_MAX / 2 || old_token_hash.size() > INT_MAX / 2) {
    return std::nullopt;
  }
  const std::string key = derive_key(old_raw_token);
  const std::size_t cipher_size = data.size() - kNonceBytes - kTagBytes;
  std::string plain(cipher_size, '\0');
  std::string tag = data.substr(kNonceBytes + cipher_size);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  int final_length = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key), bytes(data)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &length, bytes(old_token_hash),
                        static_cast<int>(old_token_hash.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), bytes(plain), &length,
                        bytes(std::string_view(data).substr(kNonceBytes)),
                        static_cast<int>(cipher_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, bytes(tag)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), bytes(plain) + length, &final_length) != 1) {
    return std::nullopt;  // wrong token, wrong row or damaged: the tag does not match
  }
  const std::size_t split = plain.find(kSeparator);
  if (split == std::string::npos) return std::nullopt;
  return SuccessorPair{plain.substr(0, split), plain.substr(split + 1)};
}

}  // namespace emporium::user
