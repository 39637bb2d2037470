// ES256 JSON Web Tokens (DESIGN §6): signing for user-service, verification everywhere.
// Keys are parsed once; verification is our own code over OpenSSL EVP_DigestVerify and checks
// alg == ES256, a known kid, an integer exp in the future (30 s leeway), `iat` and `nbf` (when
// present) integers not in the future beyond that leeway, iss, a 24-hex userId, a known role, and
// a low-S signature (s <= n/2; the signer emits only those). Verified tokens are cached (bounded
// LRU until exp), rejected ones in a small negative cache.
#pragma once

#include "emporium/auth/principal.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace emporium::auth {

struct Claims {
  std::string user_id;
  std::string role;
  std::string issuer;
  std::string jti;
  std::int64_t iat = 0;
  std::int64_t exp = 0;
};

// The RFC 7638 thumbprint of a P-256 public key, base64url: the default `kid`.
std::string key_thumbprint(const std::string& public_pem);

class JwtSigner {
 public:
  // `pem` is a PKCS#8 or SEC1 P-256 private key. An empty `kid` means the key's thumbprint.
  JwtSigner(const std::string& private_pem, std::string kid, std::string issuer,
            std::int64_t ttl_seconds);
  ~JwtSigner();
  JwtSigner(const JwtSigner&) = delete;
  JwtSigner& operator=(const JwtSigner&) = delete;

  std::string sign(const std::string& user_id, const std::string& role) const;
  const std::string& kid() const { return kid_; }
  // PEM of the public half, for verifiers in the same process.
  const std::string& public_pem() const { return public_pem_; }
  // `{"keys":[{kty,crv,x,y,kid,alg,use}]}`
  nlohmann::json jwks() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string kid_;
  std::string issuer_;
  std::int64_t ttl_;
  std::string public_pem_;
};

class JwtVerifier {
 public:
  explicit JwtVerifier(std::string issuer, std::size_t cache_size = 10000);
  ~JwtVerifier();
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  // Registers a P-256 public key (PEM). An empty `kid` means the key's thumbprint.
  void add_public_key(const std::string& public_pem, std::string kid = {});
  // Registers every EC P-256 key of a JWKS document; returns how many were added.
  std::size_t add_jwks(const nlohmann::json& jwks);

  // Thread-safe. nullopt for any token that fails a check.
  std::optional<Claims> verify(std::string_view token) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emporium::auth
