// Small cryptographic helpers over OpenSSL.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace emporium {

std::string random_bytes(std::size_t count);
std::string base64url_encode(std::string_view bytes);
// Returns false on characters outside the base64url alphabet or an impossible length.
bool base64url_decode(std::string_view text, std::string& out);
std::string sha256_hex(std::string_view data);
// HMAC-SHA256 of `data` under `key`, lower-case hex (Stripe signatures, derived caller tokens).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// Opaque token of `bytes` random bytes, base64url without padding.
std::string random_token(std::size_t bytes = 32);
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace emporium
