// ES256 signing and verification: round trips, JWKS, every rejection DESIGN §6 lists, the caches.
// Tests own their keys (DESIGN §11), so they can mint expired, foreign and malformed tokens.
#include "emporium/auth/jwt.hpp"

#include "emporium/util/crypto.hpp"
#include "emporium/util/ids.hpp"
#include "emporium/util/time.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace emporium::auth {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free_all(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct SigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
struct EncoderFree {
  void operator()(OSSL_ENCODER_CTX* p) const { OSSL_ENCODER_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

constexpr const char* kIssuer = "emporium-test";
constexpr const char* kUserId = "507f1f77bcf86cd799439011";

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(length));
}

struct TestKey {
  PkeyPtr pkey;
  std::string private_pem;  // PKCS#8
  std::string sec1_pem;     // "EC PRIVATE KEY"
  std::string public_pem;
};

TestKey make_key(const char* curve = "P-256") {
  TestKey key;
  key.pkey.reset(EVP_EC_gen(curve));
  if (!key.pkey) throw std::runtime_error("EVP_EC_gen failed");
  BioPtr priv(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(priv.get(), key.pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
  key.private_pem = bio_string(priv.get());
  BioPtr pub(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(pub.get(), key.pkey.get());
  key.public_pem = bio_string(pub.get());
  // SEC1 through the encoder API (PEM_write_bio_ECPrivateKey is deprecated in OpenSSL 3).
  std::unique_ptr<OSSL_ENCODER_CTX, EncoderFree> enc(OSSL_ENCODER_CTX_new_for_pkey(
      key.pkey.get(), EVP_PKEY_KEYPAIR, "PEM", "type-specific", nullptr));
  unsigned char* data = nullptr;
  std::size_t length = 0;
  if (!enc || OSSL_ENCODER_to_data(enc.get(), &data, &length) != 1) {
    throw std::runtime_error("SEC1 encoding failed");
  }
  key.sec1_pem.assign(reinterpret_cast<char*>(data), length);
  OPENSSL_free(data);
  return key;
}

// A key shared by most tests: P-256 generation is cheap, but one key keeps the tests readable.
const TestKey& shared_key() {
  static const TestKey key = make_key();
  return key;
}

struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

// The order n of P-256, from FIPS 186-4 (independent of the constant in jwt.cpp).
BnPtr p256_order() {
  BIGNUM* n = nullptr;
  BN_hex2bn(&n, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
  return BnPtr(n);
}

BnPtr s_of(const std::string& raw) {
  return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr));
}

// s > n/2, i.e. 2s > n.
bool is_high_s(const std::string& raw) {
  const BnPtr twice(BN_new());
  BN_lshift1(twice.get(), s_of(raw).get());
  return BN_cmp(twice.get(), p256_order().get()) > 0;
}

// The same signature with S replaced by n - S: equally valid ECDSA, the other "form".
std::string with_s_negated(const std::string& raw) {
  const BnPtr negated(BN_new());
  BN_sub(negated.get(), p256_order().get(), s_of(raw).get());
  std::string out = raw;
  BN_bn2binpad(negated.get(), reinterpret_cast<unsigned char*>(out.data()) + 32, 32);
  return out;
}

// ES256 over arbitrary header/payload text, so tests can mint tokens the signer never would.
std::string sign_raw(EVP_PKEY* pkey, const std::string& header, const std::string& payload) {
  std::string input = base64url_encode(header) + "." + base64url_encode(payload);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::size_t length = 0;
  EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey);
  EVP_DigestSign(ctx.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::vector<unsigned char> der(length);
  if (EVP_DigestSign(ctx.get(), der.data(), &length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    throw std::runtime_error("sign failed");
  }
  const unsigned char* p = der.data();
  std::unique_ptr<ECDSA_SIG, SigFree> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(length)));
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(64, '\0');
  BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  if (is_high_s(raw)) raw = with_s_negated(raw);  // what a correct signer sends (low S)
  return input + "." + base64url_encode(raw);
}

std::int64_t now_s() {
  return now_ms() / 1000;
}

nlohmann::json valid_claims() {
  const std::int64_t now = now_s();
  return {{"userId", kUserId}, {"role", "customer"}, {"iat", now},
          {"exp", now + 900},  {"iss", kIssuer},     {"jti", "abc"}};
}

class JwtTest : public ::testing::Test {
 protected:
  JwtTest() : signer_(shared_key().private_pem, "", kIssuer, 900), verifier_(kIssuer) {
    verifier_.add_public_key(shared_key().public_pem);
  }

  nlohmann::json header(const std::string& alg = "ES256") const {
    return {{"alg", alg}, {"typ", "JWT"}, {"kid", signer_.kid()}};
  }
  std::string mint(const nlohmann::json& claims) const {
    return sign_raw(shared_key().pkey.get(), header().dump(), claims.dump());
  }

  JwtSigner signer_;
  JwtVerifier verifier_;
};

std::vector<std::string> split(const std::string& token) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = token.find('.', start);
    parts.push_back(token.substr(start, dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

nlohmann::json decode_part(const std::string& part) {
  std::string text;
  EXPECT_TRUE(base64url_decode(part, text));
  return nlohmann::json::parse(text);
}

// ---------------------------------------------------------------- signing and round trips

TEST_F(JwtTest, SignedTokenVerifiesWithItsClaims) {
  const auto before = now_s();
  const std::string token = signer_.sign(kUserId, "admin");
  const auto claims = verifier_.verify(token);
  ASSERT_TRUE(claims.has_value());
  EXPECT_EQ(claims->user_id, kUserId);
  EXPECT_EQ(claims->role, "admin");
  EXPECT_EQ(claims->issuer, kIssuer);
  EXPECT_GE(claims->iat, before);
  EXPECT_EQ(claims->exp, claims->iat + 900);
  std::string jti;
  ASSERT_TRUE(base64url_decode(claims->jti, jti));
  EXPECT_EQ(jti.size(), 16u);
}

TEST_F(JwtTest, TokenHasTheDocumentedHeaderClaimsAndRawSignature) {
  const auto parts = split(signer_.sign(kUserId, "customer"));
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(decode_part(parts[0]),
            (nlohmann::json{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", signer_.kid()}}));
  const auto payload = decode_part(parts[1]);
  for (const char* name : {"userId", "role", "iat", "exp", "iss", "jti"}) {
    EXPECT_TRUE(payload.contains(name)) << name;
  }
  EXPECT_TRUE(payload["exp"].is_number_integer());
  std::string signature;
  ASSERT_TRUE(base64url_decode(parts[2], signature));
  EXPECT_EQ(signature.size(), 64u);
}

TEST_F(JwtTest, EveryTokenHasItsOwnJti) {
  EXPECT_NE(signer_.sign(kUserId, "customer"), signer_.sign(kUserId, "customer"));
}

TEST_F(JwtTest, ExplicitKidIsUsed) {
  JwtSigner signer(shared_key().private_pem, "key-2026", kIssuer, 60);
  EXPECT_EQ(signer.kid(), "key-2026");
  JwtVerifier verifier(kIssuer);
  verifier.add_public_key(signer.public_pem(), "key-2026");
  EXPECT_TRUE(verifier.verify(signer.sign(kUserId, "customer")).has_value());
}

TEST_F(JwtTest, Sec1PrivateKeyIsAccepted) {
  JwtSigner signer(shared_key().sec1_pem, "", kIssuer, 60);
  EXPECT_EQ(signer.kid(), signer_.kid());
  EXPECT_TRUE(verifier_.verify(signer.sign(kUserId, "customer")).has_value());
}

TEST(JwtKeys, NonP256KeysAreRefused) {
  const TestKey p384 = make_key("P-384");
  EXPECT_THROW(JwtSigner(p384.private_pem, "", kIssuer, 60), std::runtime_error);
  JwtVerifier verifier(kIssuer);
  EXPECT_THROW(verifier.add_public_key(p384.public_pem), std::runtime_error);
  EXPECT_THROW(key_thumbprint(p384.public_pem), std::runtime_error);

  PkeyPtr ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_TRUE(ed);
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), ed.get(), nullptr, nullptr, 0, nullptr, nullptr);
  EXPECT_THROW(JwtSigner(bio_string(bio.get()), "", kIssuer, 60), std::runtime_error);

  EXPECT_THROW(JwtSigner("not a pem", "", kIssuer, 60), std::runtime_error);
  EXPECT_THROW(JwtSigner(shared_key().public_pem, "", kIssuer, 60), std::runtime_error);
  EXPECT_THROW(
      verifier.add_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
      std::runtime_error);
}

// ---------------------------------------------------------------- thumbprints and JWKS

TEST(JwtKeys, ThumbprintMatchesThePublishedRfc9449Example) {
  // RFC 9449 (DPoP) §6.1: the EC P-256 JWK of its Figure 2 has the RFC 7638 thumbprint below.
  const std::string pem =
      "-----BEGIN PUBLIC KEY-----\n"
      "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEl8tFrhx+34tV3hRICRDY9zCkDlpB\n"
      "hF42UQUfWVAWBFv1UTiN/86T+jrjNtNOVy40lqMea3q/1MNWtTQJ28ZEMA==\n"
      "-----END PUBLIC KEY-----\n";
  EXPECT_EQ(key_thumbprint(pem), "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
}

TEST_F(JwtTest, ThumbprintIsStableAndIsTheDefaultKid) {
  const std::string kid = key_thumbprint(shared_key().public_pem);
  EXPECT_EQ(kid.size(), 43u);
  EXPECT_EQ(kid, key_thumbprint(shared_key().public_pem));
  EXPECT_EQ(kid, signer_.kid());
  JwtSigner again(shared_key().private_pem, "", kIssuer, 60);
  EXPECT_EQ(again.kid(), kid);
  EXPECT_EQ(again.public_pem(), signer_.public_pem());
  EXPECT_NE(key_thumbprint(make_key().public_pem), kid);
}

TEST_F(JwtTest, JwksDescribesThePublicKey) {
  const auto jwks = signer_.jwks();
  ASSERT_TRUE(jwks["keys"].is_array());
  ASSERT_EQ(jwks["keys"].size(), 1u);
  const auto& jwk = jwks["keys"][0];
  EXPECT_EQ(jwk["kty"], "EC");
  EXPECT_EQ(jwk["crv"], "P-256");
  EXPECT_EQ(jwk["kid"], signer_.kid());
  EXPECT_EQ(jwk["alg"], "ES256");
  EXPECT_EQ(jwk["use"], "sig");
  std::string x;
  std::string y;
  ASSERT_TRUE(base64url_decode(jwk["x"].get<std::string>(), x));
  ASSERT_TRUE(base64url_decode(jwk["y"].get<std::string>(), y));
  EXPECT_EQ(x.size(), 32u);
  EXPECT_EQ(y.size(), 32u);
  // The kid is the RFC 7638 thumbprint of exactly these members.
  const std::string canonical = R"({"crv":"P-256","kty":"EC","x":")" + jwk["x"].get<std::string>() +
                                R"(","y":")" + jwk["y"].get<std::string>() + R"("})";
  std::string digest;
  ASSERT_TRUE(base64url_decode(signer_.kid(), digest));
  EXPECT_EQ(sha256_hex(canonical).size(), 64u);
  std::string hex;
  for (unsigned char c : digest) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", c);
    hex += buf;
  }
  EXPECT_EQ(hex, sha256_hex(canonical));
}

TEST_F(JwtTest, JwksKeyVerifiesTokens) {
  JwtVerifier verifier(kIssuer);
  EXPECT_EQ(verifier.add_jwks(signer_.jwks()), 1u);
  const auto claims = verifier.verify(signer_.sign(kUserId, "customer"));
  ASSERT_TRUE(claims.has_value());
  EXPECT_EQ(claims->user_id, kUserId);
}

TEST_F(JwtTest, JwksWithoutKidUsesTheThumbprint) {
  auto jwks = signer_.jwks();
  jwks["keys"][0].erase("kid");
  jwks["keys"][0].erase("alg");
  jwks["keys"][0].erase("use");
  JwtVerifier verifier(kIssuer);
  EXPECT_EQ(verifier.add_jwks(jwks), 1u);
  EXPECT_TRUE(verifier.verify(signer_.sign(kUserId, "customer")).has_value());
}

TEST_F(JwtTest, JwksSkipsEntriesItCannotUse) {
  const auto good = signer_.jwks()["keys"][0];
  auto with = [&](const char* key, nlohmann::json value) {
    auto jwk = good;
    jwk[key] = std::move(value);
    return jwk;
  };
  std::string x;
  base64url_decode(good["x"].get<std::string>(), x);
  x[31] = static_cast<char>(x[31] ^ 1);  // moves the point off the curve
  const nlohmann::json jwks = {{"keys",
                                {
                                    {{"kty", "RSA"}, {"n", "AQAB"}, {"e", "AQAB"}, {"kid", "rsa"}},
                                    with("crv", "P-384"),
                                    with("use", "enc"),
                                    with("alg", "ES384"),
                                    with("kid", 7),
                                    with("x", base64url_encode(x)),
                                    with("x", "AAAA"),
                                    with("y", 12),
                                    "not an object",
                                }}};
  JwtVerifier verifier(kIssuer);
  EXPECT_EQ(verifier.add_jwks(jwks), 0u);
  EXPECT_EQ(verifier.add_jwks(nlohmann::json::array()), 0u);
  EXPECT_EQ(verifier.add_jwks({{"keys", "x"}}), 0u);
  EXPECT_FALSE(verifier.verify(signer_.sign(kUserId, "customer")).has_value());
}

TEST_F(JwtTest, KeyAddedLaterAcceptsATokenRejectedBefore) {
  // The negative cache must not keep refusing a token once its key is known.
  JwtVerifier verifier(kIssuer);
  const std::string token = signer_.sign(kUserId, "customer");
  EXPECT_FALSE(verifier.verify(token).has_value());
  verifier.add_jwks(signer_.jwks());
  EXPECT_TRUE(verifier.verify(token).has_value());
}

// ---------------------------------------------------------------- rejections

TEST_F(JwtTest, HandMintedValidTokenIsAccepted) {
  // Guards the rejection tests below: their tokens differ from this one in one respect only.
  EXPECT_TRUE(verifier_.verify(mint(valid_claims())).has_value());
}

TEST_F(JwtTest, TamperedPayloadIsRejected) {
  const auto parts = split(signer_.sign(kUserId, "customer"));
  auto payload = decode_part(parts[1]);
  payload["role"] = "admin";
  const std::string forged = parts[0] + "." + base64url_encode(payload.dump()) + "." + parts[2];
  EXPECT_FALSE(verifier_.verify(forged).has_value());
}

TEST_F(JwtTest, TamperedSignatureIsRejected) {
  const std::string token = signer_.sign(kUserId, "customer");
  const auto parts = split(token);
  std::string signature;
  ASSERT_TRUE(base64url_decode(parts[2], signature));
  for (std::size_t i : {0u, 31u, 32u, 63u}) {
    std::string bad = signature;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_FALSE(
        verifier_.verify(parts[0] + "." + parts[1] + "." + base64url_encode(bad)).has_value())
        << i;
  }
  // Right length in text but not 64 bytes, and a DER signature where raw R||S belongs.
  EXPECT_FALSE(verifier_.verify(parts[0] + "." + parts[1] + "." + parts[2] + "AA").has_value());
  EXPECT_FALSE(verifier_.verify(parts[0] + "." + parts[1] + "." + parts[2].substr(4)).has_value());
  EXPECT_FALSE(verifier_.verify(parts[0] + "." + parts[1] + ".").has_value());
  EXPECT_FALSE(
      verifier_.verify(parts[0] + "." + parts[1] + "." + base64url_encode(std::string(64, '\0')))
          .has_value());
  EXPECT_TRUE(verifier_.verify(token).has_value());
}

TEST_F(JwtTest, TokenOfAnotherKeyWithTheSameKidIsRejected) {
  const TestKey other = make_key();
  EXPECT_FALSE(verifier_.verify(sign_raw(other.pkey.get(), header().dump(), valid_claims().dump()))
                   .has_value());
}

TEST_F(JwtTest, AlgNoneIsRejected) {
  const std::string payload = base64url_encode(valid_claims().dump());
  for (const char* alg : {"none", "None", "NONE"}) {
    std::string unsigned_token = base64url_encode(header(alg).dump());
    unsigned_token += '.';
    unsigned_token += payload;
    EXPECT_FALSE(verifier_.verify(unsigned_token + ".").has_value()) << alg;
    EXPECT_FALSE(verifier_.verify(unsigned_token).has_value()) << alg;
  }
  // A valid ES256 signature does not rescue a header that names another algorithm.
  EXPECT_FALSE(
      verifier_
          .verify(sign_raw(shared_key().pkey.get(), header("none").dump(), valid_claims().dump()))
          .has_value());
  EXPECT_FALSE(
      verifier_
          .verify(sign_raw(shared_key().pkey.get(), header("es256").dump(), valid_claims().dump()))
          .has_value());
}

TEST_F(JwtTest, Hs256WithThePublicKeyAsSecretIsRejected) {
  // The classic algorithm-confusion attack: HMAC keyed with the (public) verification key.
  const std::string input =
      base64url_encode(header("HS256").dump()) + "." + base64url_encode(valid_claims().dump());
  const std::string& secret = shared_key().public_pem;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_length = 0;
  ASSERT_NE(
      HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_length),
      nullptr);
  const std::string token =
      input + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), mac_length));
  EXPECT_FALSE(verifier_.verify(token).has_value());
}

TEST_F(JwtTest, HeaderWithoutKidOrWithCritIsRejected) {
  nlohmann::json no_kid = {{"alg", "ES256"}, {"typ", "JWT"}};
  EXPECT_FALSE(
      verifier_.verify(sign_raw(shared_key().pkey.get(), no_kid.dump(), valid_claims().dump()))
          .has_value());
  nlohmann::json numeric_kid = {{"alg", "ES256"}, {"kid", 1}};
  EXPECT_FALSE(
      verifier_.verify(sign_raw(shared_key().pkey.get(), numeric_kid.dump(), valid_claims().dump()))
          .has_value());
  auto crit = header();
  crit["crit"] = {"exp"};
  EXPECT_FALSE(
      verifier_.verify(sign_raw(shared_key().pkey.get(), crit.dump(), valid_claims().dump()))
          .has_value());
}

TEST_F(JwtTest, ExpiredTokenIsRejectedBeyondTheLeeway) {
  auto claims = valid_claims();
  claims["exp"] = now_s() - 60;
  EXPECT_FALSE(verifier_.verify(mint(claims)).has_value());
  claims["exp"] = now_s() - 10;  // inside the 30 s leeway
  EXPECT_TRUE(verifier_.verify(mint(claims)).has_value());
}

TEST_F(JwtTest, ExpMustBeAnInteger) {
  const auto exp = now_s() + 900;
  for (const nlohmann::json& value :
       {nlohmann::json(std::to_string(exp)), nlohmann::json(static_cast<double>(exp)),
        nlohmann::json(static_cast<double>(exp) + 0.5), nlohmann::json(nullptr),
        nlohmann::json(true), nlohmann::json::array({exp}),
        nlohmann::json(std::numeric_limits<std::uint64_t>::max())}) {
    auto claims = valid_claims();
    claims["exp"] = value;
    EXPECT_FALSE(verifier_.verify(mint(claims)).has_value()) << value.dump();
  }
  auto claims = valid_claims();
  claims.erase("exp");
  EXPECT_FALSE(verifier_.verify(mint(claims)).has_value());
}

TEST_F(JwtTest, IatMustBeAnIntegerWhenPresent) {
  auto claims = valid_claims();
  claims["iat"] = "now";
  EXPECT_FALSE(verifier_.verify(mint(claims)).has_value());
  claims["iat"] = 1.5;
  EXPECT_FALSE(verifier_.verify(mint(claims)).has_value());
  claims.erase("iat");
  EXPECT_TRUE(verifier_.verify(mint(claims)).has_value());
}

TEST_F(JwtTest, HighSSignatureIsRejected) {
  // (r, n - s) verifies mathematically for the same message; only the low form is accepted, so
  // a token has exactly one valid encoding.
  for (int i = 0; i < 8; ++i) {
    const std::string token = signer_.sign(kUserId, "customer");
    const auto parts = split(token);
    std::string signature;
    ASSERT_TRUE(base64url_decode(parts[2], signature));
    EXPECT_FALSE(is_high_s(signature)) << "the signer must emit low-S signatures";
    EXPECT_TRUE(verifier_.verify(token).has_value());
    const std::string flipped =
        parts[0] + "." + parts[1] + "." + base64url_encode(with_s_negated(signature));
    EXPECT_FALSE(verifier_.verify(flipped).has_value());
  }
}

TEST_F(JwtTest, SignerEmitsLowSEveryTime) {
  // ECDSA's S is high about half the time; 64 tokens would all be low by chance with p = 2^-64.
  for (int i = 0; i < 64; ++i) {
    std::string signature;
    ASSERT_TRUE(base64url_decode(split(signer_.sign(kUserId, "admin"))[2], signature));
    ASSERT_FALSE(is_high_s(signature)) << i;
  }
}

TEST_F(JwtTest, IatOrNbfInTheFutureBeyondTheLeewayIsRejected) {
  auto claims = valid_claims();
  claims["iat"] = now_s() + 86400;
  EXPECT_FALSE(verifier_.verify(mint(claims)).has_value());
  claims["iat"] = now_s() + 120;
  EXPECT_FALSE(verifier_.verify(mint(claims)).has_value());
  claims["iat"] = now_s() + 10;  // clock skew inside the 30 s leeway
  EXPECT_TRUE(verifier_.verify(mint(claims)).has_value());

  claims = valid_claims();
  claims["nbf"] = now_s() + 86400;
  EXPECT_FALSE(verifier_.verify(mint(claims)).has_value());
  claims["nbf"] = now_s() + 120;
  EXPECT_FALSE(verifier_.verify(mint(claims)).has_value());
  claims["nbf"] = "later";
  EXPECT_FALSE(verifier_.verify(mint(claims)).has_value());
  claims["nbf"] = now_s() + 10;
  EXPECT_TRUE(verifier_.verify(mint(claims)).has_value());
  claims["nbf"] = now_s() - 600;
  EXPECT_TRUE(verifier_.verify(mint(claims)).has_value());
}

TEST_F(JwtTest, WrongIssuerIsRejected) {
  JwtSigner other(shared_key().private_pem, "", "someone-else", 900);
  EXPECT_FALSE(verifier_.verify(other.sign(kUserId, "customer")).has_value());
  auto claims = valid_claims();
  claims.erase("iss");
  EXPECT_FALSE(verifier_.verify(mint(claims)).has_value());
  claims["iss"] = nlohmann::json::array({kIssuer});
  EXPECT_FALSE(verifier_.verify(mint(claims)).has_value());
}

TEST_F(JwtTest, UnknownKidIsRejected) {
  JwtSigner other(shared_key().private_pem, "rotated-away", kIssuer, 900);
  EXPECT_FALSE(verifier_.verify(other.sign(kUserId, "customer")).has_value());
}

TEST_F(JwtTest, BadUserIdIsRejected) {
  for (const nlohmann::json& value :
       {nlohmann::json("not-an-id"), nlohmann::json("507F1F77BCF86CD799439011"),
        nlohmann::json("507f1f77bcf86cd79943901"), nlohmann::json(""), nlohmann::json(42),
        nlohmann::json(nullptr)}) {
    auto claims = valid_claims();
    claims["userId"] = value;
    EXPECT_FALSE(verifier_.verify(mint(claims)).has_value()) << value.dump();
  }
  EXPECT_FALSE(verifier_.verify(signer_.sign("1", "customer")).has_value());
}

TEST_F(JwtTest, UnknownRoleIsRejected) {
  for (const char* role : {"superuser", "Admin", "internal", ""}) {
    EXPECT_FALSE(verifier_.verify(signer_.sign(kUserId, role)).has_value()) << role;
  }
  auto claims = valid_claims();
  claims.erase("role");
  EXPECT_FALSE(verifier_.verify(mint(claims)).has_value());
}

TEST_F(JwtTest, WrongNumberOfPartsIsRejected) {
  const std::string token = signer_.sign(kUserId, "customer");
  const auto parts = split(token);
  EXPECT_FALSE(verifier_.verify(parts[0] + "." + parts[1]).has_value());
  EXPECT_FALSE(verifier_.verify(token + "." + parts[2]).has_value());
  EXPECT_FALSE(verifier_.verify(token + ".").has_value());
  EXPECT_FALSE(verifier_.verify("." + token).has_value());
}

TEST_F(JwtTest, GarbageNeverThrowsAndIsRejected) {
  const std::string head = base64url_encode(header().dump());
  const std::string body = base64url_encode(valid_claims().dump());
  const std::string sig = base64url_encode(std::string(64, 'x'));
  std::string deep(5000, '[');
  const std::vector<std::string> garbage = {
      "",
      ".",
      "..",
      "...",
      "a.b.c",
      "Bearer " + signer_.sign(kUserId, "customer"),
      head + ".!!!." + sig,
      head + "." + body + ".***",
      base64url_encode("{") + "." + body + "." + sig,
      base64url_encode("[]") + "." + body + "." + sig,
      base64url_encode("\"ES256\"") + "." + body + "." + sig,
      head + "." + base64url_encode("{\"exp\":") + "." + sig,
      head + "." + base64url_encode("null") + "." + sig,
      head + "." + base64url_encode(deep) + "." + sig,
      head + "." + base64url_encode("{\"userId\":\"\xff\xfe\"}") + "." + sig,
      std::string(9000, 'a'),
      head + "." + base64url_encode(std::string(8000, ' ') + valid_claims().dump()) + "." + sig,
      std::string("\0.\0.\0", 5),
  };
  for (const auto& token : garbage) {
    EXPECT_NO_THROW(EXPECT_FALSE(verifier_.verify(token).has_value()) << token.substr(0, 80));
    // The second call answers from the negative cache; the result must be the same.
    EXPECT_FALSE(verifier_.verify(token).has_value());
  }
}

TEST_F(JwtTest, OversizedTokenIsRejectedEvenIfSigned) {
  auto claims = valid_claims();
  claims["pad"] = std::string(9000, 'p');
  EXPECT_FALSE(verifier_.verify(mint(claims)).has_value());
}

// ---------------------------------------------------------------- caches and threads

TEST_F(JwtTest, CacheReturnsTheSameClaimsTwice) {
  const std::string token = signer_.sign(kUserId, "admin");
  const auto first = verifier_.verify(token);
  const auto second = verifier_.verify(token);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(first->user_id, second->user_id);
  EXPECT_EQ(first->role, second->role);
  EXPECT_EQ(first->jti, second->jti);
  EXPECT_EQ(first->iat, second->iat);
  EXPECT_EQ(first->exp, second->exp);
}

TEST_F(JwtTest, SmallCacheEvictsAndStillVerifies) {
  JwtVerifier verifier(kIssuer, 2);
  verifier.add_public_key(shared_key().public_pem);
  std::vector<std::string> tokens;
  tokens.reserve(5);
  for (int i = 0; i < 5; ++i) tokens.push_back(signer_.sign(new_object_id(), "customer"));
  for (int round = 0; round < 3; ++round) {
    for (const auto& token : tokens) EXPECT_TRUE(verifier.verify(token).has_value());
  }
  JwtVerifier uncached(kIssuer, 0);
  uncached.add_public_key(shared_key().public_pem);
  EXPECT_TRUE(uncached.verify(tokens[0]).has_value());
  EXPECT_TRUE(uncached.verify(tokens[0]).has_value());
}

TEST_F(JwtTest, CachedTokenIsRejectedOnceExpired) {
  using namespace std::chrono_literals;
  // Start at the beginning of a second so the token below is valid for most of it.
  const auto start = now_s();
  while (now_s() == start) std::this_thread::sleep_for(5ms);
  auto claims = valid_claims();
  const std::int64_t exp = now_s() - 29;  // valid only until the leeway runs out, within 1 s
  claims["exp"] = exp;
  const std::string token = mint(claims);
  ASSERT_TRUE(verifier_.verify(token).has_value());  // now cached
  ASSERT_TRUE(verifier_.verify(token).has_value());
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (now_s() <= exp + 30 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_FALSE(verifier_.verify(token).has_value());
}

TEST_F(JwtTest, ConcurrentVerificationAgrees) {
  std::vector<std::string> tokens;
  tokens.reserve(20);
  for (int i = 0; i < 20; ++i)
    tokens.push_back(signer_.sign(new_object_id(), i % 2 ? "admin" : "customer"));
  JwtVerifier verifier(kIssuer, 8);  // smaller than the token set, so threads also evict
  verifier.add_public_key(shared_key().public_pem);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        const auto& token = tokens[static_cast<std::size_t>((i * 7 + t) % 20)];
        if (!verifier.verify(token)) ++failures;
        if (verifier.verify(token + "x")) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(JwtTest, CostOfOneVerificationWithoutCache) {
  // Informational only (DESIGN §11: speed is never asserted).
  JwtVerifier verifier(kIssuer, 0);
  verifier.add_public_key(shared_key().public_pem);
  const std::string token = signer_.sign(kUserId, "customer");
  constexpr int kRounds = 200;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) ASSERT_TRUE(verifier.verify(token).has_value());
  const auto uncached_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
      kRounds;
  const auto cached_start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) ASSERT_TRUE(verifier_.verify(token).has_value());
  const auto cached_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - cached_start)
          .count() /
      kRounds;
  std::printf("[ info     ] verify: %.1f us uncached, %.1f us cached\n", uncached_us, cached_us);
}

}  // namespace
}  // namespace emporium::auth
