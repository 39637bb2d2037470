#include "domain/list_query.hpp"

#include "domain/search.hpp"
#include "domain/validation.hpp"

#include <emporium/util/ids.hpp>
#include <emporium/util/text.hpp>

#include <unordered_set>

namespace emporium::product::domain {
namespace {

std::string format_price(std::int64_t minor, const Currency& currency) {
  if (currency.exponent == 0) return std::to_string(minor);
  std::string cents = std::to_string(minor % 100);
  if (cents.size() < 2) cents.insert(0, "0");
  return std::to_string(minor / 100) + "." + cents;
}

}  // namespace

std::string_view sort_name(Sort sort) {
  switch (sort) {
    case Sort::CreatedAsc: return "createdAt";
    case Sort::CreatedDesc: return "-createdAt";
    case Sort::PriceAsc: return "price";
    case Sort::PriceDesc: return "-price";
    case Sort::NameAsc: return "name";
  }
  return "createdAt";
}

ListQuery parse_list_query(const QueryGetter& get, const Currency& currency, FieldErrors& errors) {
  ListQuery out;

  if (auto q = get("q")) {
    if (q->size() > kMaxQueryBytes) {
      errors.add("q", "must be at most " + std::to_string(kMaxQueryBytes) + " bytes");
    } else if (!is_valid_utf8(*q)) {
      errors.add("q", "must be valid UTF-8");
    } else {
      auto tokens = tokenize(*q);
      if (tokens.size() > kMaxQueryTokens) {
        errors.add("q", "must hold at most " + std::to_string(kMaxQueryTokens) + " words");
      } else {
        out.q = std::move(*q);
        out.tokens = std::move(tokens);
      }
    }
  }

  if (auto category = get("category")) {
    if (!is_valid_utf8(*category)) {
      errors.add("category", "must be valid UTF-8");
    } else {
      std::string value = trim(*category);
      if (auto problem = check_category(value)) {
        errors.add("category", *problem);
      } else {
        out.category = std::move(value);
      }
    }
  }

  const std::string price_rule =
      currency.exponent == 0
          ? "must be a whole number from 0 to " + std::to_string(max_price_minor(currency))
          : "must be a price from 0 to 99999999.99 with at most two decimals";
  if (auto text = get("minPrice")) {
    out.min_price_minor = parse_price_text(*text, currency);
    if (!out.min_price_minor) errors.add("minPrice", price_rule);
  }
  if (auto text = get("maxPrice")) {
    out.max_price_minor = parse_price_text(*text, currency);
    if (!out.max_price_minor) {
      errors.add("maxPrice", price_rule);
    } else if (out.min_price_minor && *out.max_price_minor < *out.min_price_minor) {
      errors.add("maxPrice", "must not be less than minPrice");
    }
  }

  if (auto text = get("inStock")) {
    if (*text == "true") {
      out.in_stock = true;
    } else if (*text == "false") {
      out.in_stock = false;
    } else {
      errors.add("inStock", "must be true or false");
    }
  }

  if (auto text = get("ids")) {
    out.has_ids = true;
    std::unordered_set<std::string> seen;
    std::string_view rest = *text;
    bool ok = true;
    std::size_t count = 0;
    while (ok) {
      const auto comma = rest.find(',');
      const std::string item = trim(rest.substr(0, comma));
      ++count;
      if (!is_object_id(item)) {
        ok = false;
      } else if (seen.insert(item).second) {
        out.ids.push_back(item);
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (!ok) {
      errors.add("ids", "must be a comma-separated list of product ids (24 lower-case hex)");
    } else if (count > kMaxIds) {
      errors.add("ids", "must list at most " + std::to_string(kMaxIds) + " ids");
    }
  }

  if (auto text = get("sort")) {
    if (*text == "price") {
      out.sort = Sort::PriceAsc;
    } else if (*text == "-price") {
      out.sort = Sort::PriceDesc;
    } else if (*text == "createdAt") {
      out.sort = Sort::CreatedAsc;
    } else if (*text == "-createdAt") {
      out.sort = Sort::CreatedDesc;
    } else if (*text == "name") {
      out.sort = Sort::NameAsc;
    } else {
      errors.add("sort", "must be one of price, -price, createdAt, -createdAt, name");
    }
  }

  if (auto text = get("page")) {
    if (auto value = parse_count(*text, 1, kMaxPage)) {
      out.page = *value;
    } else {
      errors.add("page", "must be an integer from 1 to " + std::to_string(kMaxPage));
    }
  }
  if (auto text = get("limit")) {
    if (auto value = parse_count(*text, 1, kMaxLimit)) {
      out.limit = *value;
    } else {
      errors.add("limit", "must be an integer from 1 to " + std::to_string(kMaxLimit));
    }
  } else if (out.has_ids) {
    out.limit = kMaxLimit;  // one call prices a whole cart
  }
  return out;
}

std::string list_query_string(const ListQuery& query, const Currency& currency, std::int64_t page) {
  std::string out;
  auto add = [&](std::string_view key, std::string_view value) {
    if (!out.empty()) out.push_back('&');
    out += key;
    out.push_back('=');
    out += percent_encode(value);
  };
  if (!query.q.empty()) add("q", query.q);
  if (query.category) add("category", *query.category);
  if (query.min_price_minor) add("minPrice", format_price(*query.min_price_minor, currency));
  if (query.max_price_minor) add("maxPrice", format_price(*query.max_price_minor, currency));
  if (query.in_stock) add("inStock", *query.in_stock ? "true" : "false");
  if (query.has_ids) {
    std::string ids;
    for (const auto& id : query.ids) {
      if (!ids.empty()) ids.push_back(',');
      ids += id;
    }
    add("ids", ids);
  }
  if (query.sort) add("sort", sort_name(*query.sort));
  add("limit", std::to_string(query.limit));
  add("page", std::to_string(page));
  return out;
}

}  // namespace emporium::product::domain
