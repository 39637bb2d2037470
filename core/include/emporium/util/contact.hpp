// Contact addresses as user input: email syntax and E.164 phone numbers. Shared by user-service
// (registration, profile edits) and notification-service (the `to` of a send), so both accept and
// refuse the same addresses. Each check_* returns the message for the client, or nullopt when the
// value is acceptable.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace emporium {

inline constexpr std::size_t kMaxEmailBytes = 254;

// A practical subset of RFC 5321 addresses: ASCII only, ≤ 254 bytes, a dot-atom local part of
// at most 64 bytes, a domain of at least two dot-separated labels (letters, digits, inner hyphens,
// ≤ 63 bytes each) whose last label is not all digits. No whitespace or control characters, so a
// valid address is safe in a mail header.
bool is_valid_email(std::string_view email);
std::optional<std::string> check_email(std::string_view email);

// E.164: ^\+[1-9][0-9]{1,14}$
bool is_valid_phone(std::string_view phone);
std::optional<std::string> check_phone(std::string_view phone);

}  // namespace emporium
