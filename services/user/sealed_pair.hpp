// The successor pair of a rotated refresh token, kept for the retry grace (DESIGN §6) without
// storing a usable token: AES-256-GCM under SHA-256("successor:" + the old raw refresh token).
// The database holds only SHA-256(old raw token), so reading the table yields neither the key nor
// the pair; the client that retries with the old token derives the key again. The row's token
// hash is the associated data, so a sealed value cannot be moved to another row.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace emporium::user {

struct SuccessorPair {
  std::string refresh_token;
  std::string access_token;
};

// Text safe for a TEXT column: "v1." + base64url(nonce ‖ ciphertext ‖ tag).
std::string seal_successor(std::string_view old_raw_token, std::string_view old_token_hash,
                           const SuccessorPair& pair);

// nullopt when `sealed` was not made by seal_successor with this token and hash (or is damaged).
std::optional<SuccessorPair> unseal_successor(std::string_view old_raw_token,
                                              std::string_view old_token_hash,
                                              std::string_view sealed);

}  // namespace emporium::user
