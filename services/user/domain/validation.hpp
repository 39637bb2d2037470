// Pure validation and normalisation of user input (no I/O): ASCII lower-casing, names,
// passwords, roles, and the contact checks shared with notification-service (email syntax, E.164
// phone numbers; emporium/util/contact.hpp). Each check_* returns the message for the client, or
// nullopt when the value is acceptable.
#pragma once

#include <emporium/util/contact.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace emporium::user::domain {

using emporium::check_email;
using emporium::check_phone;
using emporium::is_valid_email;
using emporium::is_valid_phone;
using emporium::kMaxEmailBytes;

inline constexpr std::size_t kMinNameChars = 1;
inline constexpr std::size_t kMaxNameChars = 100;
inline constexpr std::size_t kMinPasswordBytes = 8;
inline constexpr std::size_t kMaxPasswordBytes = 1024;

inline constexpr std::string_view kRoleCustomer = "customer";
inline constexpr std::string_view kRoleAdmin = "admin";

// Lower-cases A-Z only; other bytes (including UTF-8) are kept as they are.
std::string lower_ascii(std::string_view text);

// Number of code points of valid UTF-8 (the JSON layer already rejected invalid UTF-8).
std::size_t utf8_length(std::string_view text);

// Trims ASCII whitespace at both ends; the stored name is the trimmed one.
std::string trim_name(std::string_view name);
// `name` as stored (trimmed): 1..100 characters, no control characters.
std::optional<std::string> check_name(std::string_view name);

// 8..1024 bytes (argon2 hashes bytes; the upper bound keeps one hash cheap).
std::optional<std::string> check_password(std::string_view password);

bool is_valid_role(std::string_view role);
std::optional<std::string> check_role(std::string_view role);

}  // namespace emporium::user::domain
