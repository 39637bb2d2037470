// The sealed successor pair: only the presented old token (and the row it belongs to) opens it,
// and the stored text contains neither token.
#include "sealed_pair.hpp"

#include <emporium/util/crypto.hpp>

#include <gtest/gtest.h>

namespace emporium::user {
namespace {

const SuccessorPair kPair{"new-refresh-token-abcdefghijklmnopqrstuvwxyz0123",
                          "eyJhbGciOiJFUzI1NiJ9.eyJ1c2VySWQiOiJ4In0.c2lnbmF0dXJl"};

TEST(SealedPair, RoundTripsWithTheOldToken) {
  const std::string old_raw = random_token(32);
  const std::string hash = sha256_hex(old_raw);
  const std::string sealed = seal_successor(old_raw, hash, kPair);
  const auto opened = unseal_successor(old_raw, hash, sealed);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->refresh_token, kPair.refresh_token);
  EXPECT_EQ(opened->access_token, kPair.access_token);
}

TEST(SealedPair, TheStoredTextHoldsNeitherToken) {
  const std::string old_raw = random_token(32);
  const std::string sealed = seal_successor(old_raw, sha256_hex(old_raw), kPair);
  EXPECT_EQ(sealed.find(kPair.refresh_token), std::string::npos);
  EXPECT_EQ(sealed.find(kPair.access_token), std::string::npos);
  EXPECT_EQ(sealed.find(old_raw), std::string::npos);
  EXPECT_EQ(sealed.rfind("v1.", 0), 0U);
  // A fresh nonce each time: sealing twice gives two texts.
  EXPECT_NE(sealed, seal_successor(old_raw, sha256_hex(old_raw), kPair));
}

TEST(SealedPair, OnlyTheOldTokenAndItsRowOpenIt) {
  const std::string old_raw = random_token(32);
  const std::string hash = sha256_hex(old_raw);
  const std::string sealed = seal_successor(old_raw, hash, kPair);
  // What a reader of the table has: the hash, not the raw token.
  EXPECT_FALSE(unseal_successor(hash, hash, sealed));
  EXPECT_FALSE(unseal_successor(random_token(32), hash, sealed));
  EXPECT_FALSE(unseal_successor(old_raw, sha256_hex("another row"), sealed));
  EXPECT_FALSE(unseal_successor(old_raw, hash, ""));
  EXPECT_FALSE(unseal_successor(old_raw, hash, "v1."));
  EXPECT_FALSE(unseal_successor(old_raw, hash, "v1.!!!"));
  EXPECT_FALSE(unseal_successor(old_raw, hash, "v2." + sealed.substr(3)));
  std::string data;
  ASSERT_TRUE(base64url_decode(sealed.substr(3), data));
  for (std::size_t i : {std::size_t{0}, std::size_t{12}, data.size() / 2, data.size() - 1}) {
    std::string bad = data;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_FALSE(unseal_successor(old_raw, hash, "v1." + base64url_encode(bad))) << i;
  }
  EXPECT_TRUE(unseal_successor(old_raw, hash, sealed));
}

}  // namespace
}  // namespace emporium::user
