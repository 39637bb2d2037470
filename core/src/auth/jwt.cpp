// ES256 JWT signing and verification (DESIGN §6) as our own code over OpenSSL 3 EVP: libjwt 1.10
// checks nothing but the signature and re-parses the key on every call. Keys are parsed once and
// shared read-only between threads; every call gets its own EVP_MD_CTX.
#include "emporium/auth/jwt.hpp"

#include "emporium/util/crypto.hpp"
#include "emporium/util/ids.hpp"
#include "emporium/util/time.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <cstring>
#include <limits>
#include <list>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace emporium::auth {
namespace {

// ---- RAII for OpenSSL objects ----

template <auto Fn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Fn(p);
  }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using SharedPkey = std::shared_ptr<EVP_PKEY>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;

constexpr std::size_t kCoordinateBytes = 32;  // P-256
constexpr std::size_t kSignatureBytes = 2 * kCoordinateBytes;
constexpr std::size_t kMaxTokenBytes = 8192;
constexpr std::int64_t kLeewaySeconds = 30;
constexpr std::size_t kNegativeCacheSize = 1024;
constexpr std::int64_t kNegativeTtlMs = 60'000;

// OpenSSL failures leave entries on the thread's error queue; a later, unrelated TLS call on the
// same thread (libcurl) would read them as its own error.
struct ErrorQueueGuard {
  ~ErrorQueueGuard() { ERR_clear_error(); }
};

// Without a callback, OpenSSL would prompt on the terminal for an encrypted PEM.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

BioPtr memory_bio(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw std::runtime_error("BIO_new_mem_buf failed");
  return bio;
}

void require_p256(const EVP_PKEY* pkey, const char* what) {
  char name[64] = {};
  std::size_t length = 0;
  if (!EVP_PKEY_is_a(pkey, "EC") ||
      EVP_PKEY_get_group_name(pkey, name, sizeof name, &length) != 1 ||
      (std::strcmp(name, "prime256v1") != 0 && std::strcmp(name, "P-256") != 0)) {
    throw std::runtime_error(std::string(what) + " is not an EC P-256 key");
  }
}

PkeyPtr load_private_key(const std::string& pem) {
  ErrorQueueGuard guard;
  if (pem.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw std::runtime_error("JWT private key is too large");
  }
  BioPtr bio = memory_bio(pem);
  // Reads both PKCS#8 ("PRIVATE KEY") and SEC1 ("EC PRIVATE KEY").
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!pkey) throw std::runtime_error("JWT private key is not a readable PEM private key");
  require_p256(pkey.get(), "JWT private key");
  return pkey;
}

PkeyPtr load_public_key(const std::string& pem) {
  ErrorQueueGuard guard;
  if (pem.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw std::runtime_error("JWT public key is too large");
  }
  BioPtr bio = memory_bio(pem);
  PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
  if (!pkey) throw std::runtime_error("JWT public key is not a readable PEM public key");
  require_p256(pkey.get(), "JWT public key");
  return pkey;
}

std::string public_key_pem(EVP_PKEY* pkey) {
  ErrorQueueGuard guard;
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey) != 1) {
    throw std::runtime_error("cannot write the JWT public key as PEM");
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

std::string bignum_bytes(const BIGNUM* bn, std::size_t width) {
  std::string out(width, '\0');
  if (BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(width)) !=
      static_cast<int>(width)) {
    throw std::runtime_error("EC value does not fit its width");
  }
  return out;
}

// The affine coordinates of the public point, base64url of 32-byte big-endian values (RFC 7518
// §6.2.1).
std::pair<std::string, std::string> public_coordinates(const EVP_PKEY* pkey) {
  ErrorQueueGuard guard;
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  const int ok_x = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x);
  BnPtr x_owner(x);
  const int ok_y = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
  BnPtr y_owner(y);
  if (ok_x != 1 || ok_y != 1) throw std::runtime_error("cannot read the EC public point");
  return {base64url_encode(bignum_bytes(x, kCoordinateBytes)),
          base64url_encode(bignum_bytes(y, kCoordinateBytes))};
}

std::string sha256_raw(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

// RFC 7638: the required members in lexicographic order, no whitespace.
std::string thumbprint_of(const std::string& x, const std::string& y) {
  return base64url_encode(
      sha256_raw(R"({"crv":"P-256","kty":"EC","x":")" + x + R"(","y":")" + y + R"("})"));
}

// Builds a public key from JWK coordinates; OpenSSL rejects points that are not on the curve.
PkeyPtr key_from_coordinates(const std::string& x, const std::string& y) {
  ErrorQueueGuard guard;
  std::string point = "\x04" + x + y;  // SEC1 uncompressed point
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    throw std::runtime_error("cannot build EC key parameters");
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    throw std::runtime_error("JWK is not a valid P-256 public key");
  }
  PkeyPtr pkey(raw);
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    throw std::runtime_error("JWK is not a valid P-256 public key");
  }
  return pkey;
}

// ---- token helpers ----

std::optional<std::int64_t> json_int64(const nlohmann::json& value) {
  // is_number_integer() is false for 1.0 and "1": JSON floats and strings are not NumericDates
  // here.
  if (value.is_number_unsigned()) {
    const auto v = value.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return std::nullopt;
    return static_cast<std::int64_t>(v);
  }
  if (value.is_number_integer()) return value.get<std::int64_t>();
  return std::nullopt;
}

std::optional<nlohmann::json> decode_json_object(std::string_view part) {
  std::string text;
  if (!base64url_decode(part, text)) return std::nullopt;
  // No-throw parse: a malformed header or payload is a rejection, not an exception.
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return std::nullopt;
  return doc;
}

const std::string* string_member(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return nullptr;
  return it->get_ptr<const std::string*>();
}

bool known_role(const std::string& role) {
  return role == "customer" || role == "admin";
}

// Raw R||S (JWS, RFC 7518 §3.4) to the DER ECDSA-Sig-Value that EVP_DigestVerify expects.
std::optional<std::vector<unsigned char>> raw_signature_to_der(const std::string& raw) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BnPtr r(BN_bin2bn(bytes, static_cast<int>(kCoordinateBytes), nullptr));
  BnPtr s(BN_bin2bn(bytes + kCoordinateBytes, static_cast<int>(kCoordinateBytes), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  // ECDSA_SIG_set0 took ownership of both numbers.
  static_cast<void>(r.release());
  static_cast<void>(s.release());
  const int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0) return std::nullopt;
  std::vector<unsigned char> der(static_cast<std::size_t>(length));
  unsigned char* out = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &out) != length) return std::nullopt;
  return der;
}

// The order n of P-256 and n/2, big-endian. An ECDSA signature (r, s) is equally valid as
// (r, n - s); accepting only s <= n/2 makes each token's signature unique (no malleability).
constexpr unsigned char kP256Order[kCoordinateBytes] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
constexpr unsigned char kP256HalfOrder[kCoordinateBytes] = {
    0x7F, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xDE, 0x73, 0x7D, 0x56, 0xD3, 0x8B, 0xCF, 0x42, 0x79, 0xDC, 0xE5, 0x61, 0x7E, 0x31, 0x92, 0xA8};

// True when the 32-byte big-endian S of a raw R||S signature is above n/2.
bool high_s(const std::string& raw_signature) {
  return std::memcmp(raw_signature.data() + kCoordinateBytes, kP256HalfOrder, kCoordinateBytes) > 0;
}

std::string der_signature_to_raw(const unsigned char* der, std::size_t length) {
  const unsigned char* in = der;
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(length)));
  if (!sig) throw std::runtime_error("cannot decode the ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw = bignum_bytes(r, kCoordinateBytes) + bignum_bytes(s, kCoordinateBytes);
  if (high_s(raw)) {
    // OpenSSL does not normalise S; verifiers (ours included) accept only the low form.
    BnPtr order(BN_bin2bn(kP256Order, static_cast<int>(kCoordinateBytes), nullptr));
    BnPtr low(BN_new());
    if (!order || !low || BN_sub(low.get(), order.get(), s) != 1) {
      throw std::runtime_error("cannot normalise the ECDSA signature");
    }
    raw = bignum_bytes(r, kCoordinateBytes) + bignum_bytes(low.get(), kCoordinateBytes);
  }
  return raw;
}

std::int64_t now_seconds() {
  return now_ms() / 1000;
}

}  // namespace

std::string key_thumbprint(const std::string& public_pem) {
  const PkeyPtr pkey = load_public_key(public_pem);
  const auto [x, y] = public_coordinates(pkey.get());
  return thumbprint_of(x, y);
}

// ============================== signer ==============================

struct JwtSigner::Impl {
  PkeyPtr pkey;
  std::string x;
  std::string y;
  std::string header_b64;  // the header never changes, so it is encoded once
};

JwtSigner::JwtSigner(const std::string& private_pem, std::string kid, std::string issuer,
                     std::int64_t ttl_seconds)
    : impl_(std::make_unique<Impl>()),
      kid_(std::move(kid)),
      issuer_(std::move(issuer)),
      ttl_(ttl_seconds) {
  impl_->pkey = load_private_key(private_pem);
  std::tie(impl_->x, impl_->y) = public_coordinates(impl_->pkey.get());
  public_pem_ = public_key_pem(impl_->pkey.get());
  if (kid_.empty()) kid_ = thumbprint_of(impl_->x, impl_->y);
  const nlohmann::json header = {{"alg", "ES256"}, {"typ", "JWT"}, {"kid", kid_}};
  impl_->header_b64 =
      base64url_encode(header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

JwtSigner::~JwtSigner() = default;

std::string JwtSigner::sign(const std::string& user_id, const std::string& role) const {
  ErrorQueueGuard guard;
  const std::int64_t iat = now_seconds();
  const nlohmann::json claims = {
      {"userId", user_id}, {"role", role},   {"iat", iat},
      {"exp", iat + ttl_}, {"iss", issuer_}, {"jti", random_token(16)},
  };
  std::string token = impl_->header_b64;
  token += '.';
  token += base64url_encode(claims.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));

  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t der_length = 0;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &der_length,
                     reinterpret_cast<const unsigned char*>(token.data()), token.size()) != 1) {
    throw std::runtime_error("ES256 signing failed");
  }
  std::vector<unsigned char> der(der_length);
  if (EVP_DigestSign(ctx.get(), der.data(), &der_length,
                     reinterpret_cast<const unsigned char*>(token.data()), token.size()) != 1) {
    throw std::runtime_error("ES256 signing failed");
  }
  token += '.';
  token += base64url_encode(der_signature_to_raw(der.data(), der_length));
  return token;
}

nlohmann::json JwtSigner::jwks() const {
  return {{"keys", nlohmann::json::array({{
                       {"kty", "EC"},
                       {"crv", "P-256"},
                       {"x", impl_->x},
                       {"y", impl_->y},
                       {"kid", kid_},
                       {"alg", "ES256"},
                       {"use", "sig"},
                   }})}};
}

// ============================== verifier ==============================

struct JwtVerifier::Impl {
  std::string issuer;
  std::size_t capacity;

  // Keys are normally added at start-up, but a JWKS refresh may add some while requests run.
  mutable std::shared_mutex keys_mutex;
  std::unordered_map<std::string, SharedPkey> keys;

  // Positive cache: LRU of verified tokens. The map's string_view keys point into the list nodes,
  // which never move, so each token is stored once. Claims are shared so a hit copies them outside
  // the lock.
  struct Entry {
    std::string token;
    std::shared_ptr<const Claims> claims;
  };
  mutable std::mutex cache_mutex;
  mutable std::list<Entry> lru;  // front = most recently used
  mutable std::unordered_map<std::string_view, std::list<Entry>::iterator> index;

  // Negative cache: rejected tokens by SHA-256, so an 8 KiB garbage token costs 32 bytes here.
  struct Rejected {
    std::string digest;
    std::int64_t expires_ms;
  };
  mutable std::mutex negative_mutex;
  mutable std::list<Rejected> rejected;  // front = newest
  mutable std::unordered_map<std::string_view, std::list<Rejected>::iterator> rejected_index;

  SharedPkey find_key(const std::string& kid) const {
    std::shared_lock lock(keys_mutex);
    const auto it = keys.find(kid);
    return it == keys.end() ? nullptr : it->second;
  }

  void add_key(std::string kid, PkeyPtr pkey) {
    {
      std::unique_lock lock(keys_mutex);
      keys[std::move(kid)] = SharedPkey(pkey.release(), EVP_PKEY_free);
    }
    // A token rejected for an unknown kid may be valid now.
    std::lock_guard lock(negative_mutex);
    rejected.clear();
    rejected_index.clear();
  }

  std::optional<Claims> check(std::string_view token, std::int64_t now_s) const;

  std::optional<Claims> cached(std::string_view token, std::int64_t now_s, bool& expired) const {
    std::shared_ptr<const Claims> claims;
    {
      std::lock_guard lock(cache_mutex);
      const auto it = index.find(token);
      if (it == index.end()) return std::nullopt;
      if (it->second->claims->exp <= now_s - kLeewaySeconds) {
        expired = true;
        const auto node = it->second;
        index.erase(it);  // first: its key points into the node
        lru.erase(node);
        return std::nullopt;
      }
      lru.splice(lru.begin(), lru, it->second);
      claims = it->second->claims;
    }
    return *claims;
  }

  void remember(std::string_view token, const Claims& claims) const {
    if (capacity == 0) return;
    // Allocate outside the lock; only list/map surgery happens under it.
    std::list<Entry> node;
    node.push_back(Entry{std::string(token), std::make_shared<const Claims>(claims)});
    std::list<Entry> evicted;
    std::lock_guard lock(cache_mutex);
    if (index.count(node.front().token) != 0) return;  // another thread got there first
    lru.splice(lru.begin(), node);
    index.emplace(lru.front().token, lru.begin());
    if (lru.size() > capacity) {
      index.erase(lru.back().token);
      evicted.splice(evicted.begin(), lru, std::prev(lru.end()));  // freed after unlock
    }
  }

  bool recently_rejected(const std::string& digest, std::int64_t now) const {
    std::lock_guard lock(negative_mutex);
    const auto it = rejected_index.find(digest);
    if (it == rejected_index.end()) return false;
    if (it->second->expires_ms > now) return true;
    const auto node = it->second;
    rejected_index.erase(it);  // first: its key points into the node
    rejected.erase(node);
    return false;
  }

  void remember_rejection(std::string digest, std::int64_t now) const {
    std::list<Rejected> node;
    node.push_back(Rejected{std::move(digest), now + kNegativeTtlMs});
    std::lock_guard lock(negative_mutex);
    if (rejected_index.count(node.front().digest) != 0) return;
    rejected.splice(rejected.begin(), node);
    rejected_index.emplace(rejected.front().digest, rejected.begin());
    if (rejected.size() > kNegativeCacheSize) {
      rejected_index.erase(rejected.back().digest);
      rejected.pop_back();
    }
  }
};

std::optional<Claims> JwtVerifier::Impl::check(std::string_view token, std::int64_t now_s) const {
  const std::size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return std::nullopt;
  const std::size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view header_part = token.substr(0, dot1);
  const std::string_view payload_part = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_part = token.substr(dot2 + 1);

  // Header: only ES256 with a key we know. Never let the token choose the algorithm.
  const auto header = decode_json_object(header_part);
  if (!header) return std::nullopt;
  const std::string* alg = string_member(*header, "alg");
  const std::string* kid = string_member(*header, "kid");
  if (!alg || *alg != "ES256" || !kid) return std::nullopt;
  // RFC 7515 §4.1.11: we understand no critical extension, so any `crit` is a rejection.
  if (header->contains("crit")) return std::nullopt;
  const SharedPkey key = find_key(*kid);
  if (!key) return std::nullopt;

  // Claims before the signature: they are cheap, and an expired token needs no ECDSA.
  const auto payload = decode_json_object(payload_part);
  if (!payload) return std::nullopt;
  Claims claims;
  const auto exp_it = payload->find("exp");
  if (exp_it == payload->end()) return std::nullopt;
  const auto exp = json_int64(*exp_it);
  if (!exp || *exp <= now_s - kLeewaySeconds) return std::nullopt;
  claims.exp = *exp;
  // A token issued (or valid only) in the future beyond the clock-skew leeway is not ours: our
  // signer stamps `iat` with its own clock. Checked like `exp`, as integers only.
  if (const auto iat_it = payload->find("iat"); iat_it != payload->end()) {
    const auto iat = json_int64(*iat_it);
    if (!iat || *iat > now_s + kLeewaySeconds) return std::nullopt;
    claims.iat = *iat;
  }
  if (const auto nbf_it = payload->find("nbf"); nbf_it != payload->end()) {
    const auto nbf = json_int64(*nbf_it);
    if (!nbf || *nbf > now_s + kLeewaySeconds) return std::nullopt;
  }
  const std::string* iss = string_member(*payload, "iss");
  if (!iss || *iss != issuer) return std::nullopt;
  const std::string* user_id = string_member(*payload, "userId");
  if (!user_id || !is_object_id(*user_id)) return std::nullopt;
  const std::string* role = string_member(*payload, "role");
  if (!role || !known_role(*role)) return std::nullopt;
  if (const auto jti_it = payload->find("jti"); jti_it != payload->end()) {
    if (!jti_it->is_string()) return std::nullopt;
    claims.jti = jti_it->get<std::string>();
  }
  claims.issuer = *iss;
  claims.user_id = *user_id;
  claims.role = *role;

  std::string raw_signature;
  if (!base64url_decode(signature_part, raw_signature) || raw_signature.size() != kSignatureBytes ||
      high_s(raw_signature)) {
    return std::nullopt;
  }
  const auto der = raw_signature_to_der(raw_signature);
  if (!der) return std::nullopt;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const std::string_view signed_part = token.substr(0, dot2);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestVerify(ctx.get(), der->data(), der->size(),
                       reinterpret_cast<const unsigned char*>(signed_part.data()),
                       signed_part.size()) != 1) {
    return std::nullopt;
  }
  return claims;
}

JwtVerifier::JwtVerifier(std::string issuer, std::size_t cache_size)
    : impl_(std::make_unique<Impl>()) {
  impl_->issuer = std::move(issuer);
  impl_->capacity = cache_size;
}

JwtVerifier::~JwtVerifier() = default;

void JwtVerifier::add_public_key(const std::string& public_pem, std::string kid) {
  PkeyPtr pkey = load_public_key(public_pem);
  if (kid.empty()) {
    const auto [x, y] = public_coordinates(pkey.get());
    kid = thumbprint_of(x, y);
  }
  impl_->add_key(std::move(kid), std::move(pkey));
}

std::size_t JwtVerifier::add_jwks(const nlohmann::json& jwks) {
  if (!jwks.is_object()) return 0;
  const auto keys_it = jwks.find("keys");
  if (keys_it == jwks.end() || !keys_it->is_array()) return 0;
  std::size_t added = 0;
  for (const auto& jwk : *keys_it) {
    // Entries we cannot use (RSA, other curves, encryption keys) are skipped, as RFC 7517 §5 asks.
    if (!jwk.is_object()) continue;
    const std::string* kty = string_member(jwk, "kty");
    const std::string* crv = string_member(jwk, "crv");
    const std::string* x_text = string_member(jwk, "x");
    const std::string* y_text = string_member(jwk, "y");
    if (!kty || *kty != "EC" || !crv || *crv != "P-256" || !x_text || !y_text) continue;
    if (jwk.contains("use") && jwk["use"] != "sig") continue;
    if (jwk.contains("alg") && jwk["alg"] != "ES256") continue;
    if (jwk.contains("kid") && !jwk["kid"].is_string()) continue;
    std::string x;
    std::string y;
    if (!base64url_decode(*x_text, x) || !base64url_decode(*y_text, y) ||
        x.size() != kCoordinateBytes || y.size() != kCoordinateBytes) {
      continue;
    }
    PkeyPtr pkey;
    try {
      pkey = key_from_coordinates(x, y);
    } catch (const std::runtime_error&) {
      continue;
    }
    std::string kid =
        jwk.contains("kid") ? jwk["kid"].get<std::string>() : thumbprint_of(*x_text, *y_text);
    impl_->add_key(std::move(kid), std::move(pkey));
    ++added;
  }
  return added;
}

std::optional<Claims> JwtVerifier::verify(std::string_view token) const {
  // Bounded before any work: an oversized header value is not worth a hash or a parse.
  if (token.empty() || token.size() > kMaxTokenBytes) return std::nullopt;
  try {
    const std::int64_t now = now_ms();
    const std::int64_t now_s = now / 1000;
    bool expired = false;
    if (auto hit = impl_->cached(token, now_s, expired)) return hit;
    if (expired) return std::nullopt;

    std::string digest = sha256_raw(token);
    if (impl_->recently_rejected(digest, now)) return std::nullopt;

    std::optional<Claims> claims;
    {
      ErrorQueueGuard guard;
      claims = impl_->check(token, now_s);
    }
    if (claims) {
      impl_->remember(token, *claims);
    } else {
      impl_->remember_rejection(std::move(digest), now);
    }
    return claims;
  } catch (...) {
    // Allocation failures and the like: a token we could not check is not a valid token.
    ERR_clear_error();
    return std::nullopt;
  }
}

}  // namespace emporium::auth
