// Validation of product request bodies (pure, no I/O): every writable field with its bounds
// (API.md product-service), all bad fields collected, server fields (`_id`, `__v`, timestamps,
// `currency`) never read. Each check_* returns the client message, or nullopt when acceptable.
#pragma once

#include "domain/product.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/json/json.hpp>
#include <emporium/money/currency.hpp>
#include <emporium/util/text.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace emporium::product::domain {

inline constexpr std::size_t kMaxNameChars = 200;
inline constexpr std::size_t kMaxDescriptionChars = 5000;
inline constexpr std::size_t kMaxCategoryChars = 100;
inline constexpr std::size_t kMaxSkuChars = 64;
inline constexpr std::size_t kMaxImages = 20;
inline constexpr std::size_t kMaxImageUrlBytes = 2048;
inline constexpr std::int64_t kMaxStock = 1'000'000'000;

// Number of code points of valid UTF-8 (the JSON layer already rejected invalid UTF-8).
std::size_t utf8_length(std::string_view text);
// Core's check, shared with the query-string parser.
using ::emporium::is_valid_utf8;
// Trims ASCII whitespace at both ends.
std::string trim(std::string_view text);

std::optional<std::string> check_name(std::string_view trimmed);
std::optional<std::string> check_description(std::string_view text);
std::optional<std::string> check_category(std::string_view trimmed);
std::optional<std::string> check_sku(std::string_view trimmed);
// http:// or https:// (scheme in any case), a non-empty host, ≤ 2048 bytes, no whitespace or
// control characters.
bool is_valid_image_url(std::string_view url);

enum class Mode { Create, Update };

// Reads name, description, price, category, stock, sku and images from `body`. Create: name,
// price, category and stock are required, description defaults to "". Update: any subset.
// Every problem is recorded in `errors` under the field's name (`images[3]` for one image).
ProductFields read_product_fields(const Json& body, Mode mode, const Currency& currency,
                                  FieldErrors& errors);

// The body's `__v` (the version an update is based on): absent/null -> nullopt; anything but a
// non-negative integer is recorded as an error on `__v`.
std::optional<std::int64_t> read_expected_version(const Json& body, FieldErrors& errors);

}  // namespace emporium::product::domain
