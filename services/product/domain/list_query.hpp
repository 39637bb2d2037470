// The catalog listing's query parameters (API.md GET /api/products), parsed and validated without
// I/O: every bad value is a FieldError naming the parameter, all of them collected.
#pragma once

#include <emporium/error/errors.hpp>
#include <emporium/money/currency.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::product::domain {

inline constexpr std::int64_t kDefaultLimit = 20;
inline constexpr std::int64_t kMaxLimit = 100;
inline constexpr std::int64_t kMaxPage = 1'000'000;
inline constexpr std::size_t kMaxIds = 100;
inline constexpr std::size_t kMaxQueryBytes = 500;

enum class Sort { CreatedAsc, CreatedDesc, PriceAsc, PriceDesc, NameAsc };
std::string_view sort_name(Sort sort);

struct ListQuery {
  std::string q;                    // as given (for links)
  std::vector<std::string> tokens;  // search tokens; empty: no text filter
  std::optional<std::string> category;
  std::optional<std::int64_t> min_price_minor;
  std::optional<std::int64_t> max_price_minor;
  std::optional<bool> in_stock;  // true: stock > 0; false: stock == 0
  std::vector<std::string> ids;  // distinct, in the order given
  bool has_ids = false;
  std::optional<Sort> sort;  // nullopt: createdAt (oldest first)
  std::int64_t page = 1;
  std::int64_t limit = kDefaultLimit;  // kMaxLimit when `ids` is given without `limit`

  std::int64_t offset() const { return (page - 1) * limit; }
  Sort effective_sort() const { return sort.value_or(Sort::CreatedAsc); }
};

// `get(name)` returns the decoded query parameter or nullopt. Throws nothing; problems go to
// `errors`.
using QueryGetter = std::function<std::optional<std::string>(std::string_view)>;
ListQuery parse_list_query(const QueryGetter& get, const Currency& currency, FieldErrors& errors);

// The relative query string of the same listing on another page (`q=…&category=…&page=N`),
// values percent-encoded; used for the Link header.
std::string list_query_string(const ListQuery& query, const Currency& currency, std::int64_t page);

}  // namespace emporium::product::domain
