#include "domain/validation.hpp"

#include <limits>

namespace emporium::product::domain {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// C0 controls and DEL; `allow_newlines` lets a description keep \n, \r and \t.
bool has_control(std::string_view text, bool allow_newlines) {
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (allow_newlines && (c == '\n' || c == '\r' || c == '\t')) continue;
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

std::optional<std::string> check_text(std::string_view text, std::size_t min_chars,
                                      std::size_t max_chars, bool allow_newlines) {
  const std::size_t length = utf8_length(text);
  if (length < min_chars) return std::string("must not be empty");
  if (length > max_chars) return "must be at most " + std::to_string(max_chars) + " characters";
  if (has_control(text, allow_newlines)) return std::string("must not contain control characters");
  return std::nullopt;
}

// A string member: nullopt (and an error) when present with another type.
std::optional<std::string> string_member(const Json& body, const char* field, FieldErrors& errors,
                                         bool& present) {
  const auto it = body.find(field);
  present = it != body.end() && !it->is_null();
  if (!present) return std::nullopt;
  if (!it->is_string()) {
    errors.add(field, "must be a string");
    return std::nullopt;
  }
  return it->get<std::string>();
}

}  // namespace

std::size_t utf8_length(std::string_view text) {
  std::size_t count = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

std::string trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

std::optional<std::string> check_name(std::string_view trimmed) {
  return check_text(trimmed, 1, kMaxNameChars, false);
}

std::optional<std::string> check_description(std::string_view text) {
  return check_text(text, 0, kMaxDescriptionChars, true);
}

std::optional<std::string> check_category(std::string_view trimmed) {
  return check_text(trimmed, 1, kMaxCategoryChars, false);
}

std::optional<std::string> check_sku(std::string_view trimmed) {
  return check_text(trimmed, 1, kMaxSkuChars, false);
}

bool is_valid_image_url(std::string_view url) {
  if (url.size() > kMaxImageUrlBytes) return false;
  for (char ch : url) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '\\') return false;
  }
  std::string scheme;
  const auto colon = url.find("://");
  if (colon == std::string_view::npos) return false;
  for (char c : url.substr(0, colon)) {
    scheme.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  if (scheme != "http" && scheme != "https") return false;
  std::string_view rest = url.substr(colon + 3);
  const auto end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  // The host is what precedes an optional :port (an IPv6 literal keeps its brackets).
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    host = host.substr(0, close + 1);
  } else if (const auto port = host.find(':'); port != std::string_view::npos) {
    host = host.substr(0, port);
  }
  return !host.empty();
}

ProductFields read_product_fields(const Json& body, Mode mode, const Currency& currency,
                                  FieldErrors& errors) {
  ProductFields out;
  const bool create = mode == Mode::Create;
  bool present = false;

  if (auto name = string_member(body, "name", errors, present)) {
    std::string value = trim(*name);
    if (auto problem = check_name(value)) {
      errors.add("name", *problem);
    } else {
      out.name = std::move(value);
    }
  } else if (!present && create) {
    errors.add("name", "is required");
  }

  if (auto description = string_member(body, "description", errors, present)) {
    if (auto problem = check_description(*description)) {
      errors.add("description", *problem);
    } else {
      out.description = std::move(*description);
    }
  } else if (!present && create) {
    out.description = std::string();
  }

  const auto price_it = body.find("price");
  if (price_it == body.end() || price_it->is_null()) {
    if (create) errors.add("price", "is required");
  } else {
    out.price_minor = read_price(body, "price", currency, errors);
  }

  if (auto category = string_member(body, "category", errors, present)) {
    std::string value = trim(*category);
    if (auto problem = check_category(value)) {
      errors.add("category", *problem);
    } else {
      out.category = std::move(value);
    }
  } else if (!present && create) {
    errors.add("category", "is required");
  }

  const auto stock_it = body.find("stock");
  if (stock_it == body.end() || stock_it->is_null()) {
    if (create) errors.add("stock", "is required");
  } else {
    out.stock = read_integer(body, "stock", errors, 0, kMaxStock);
  }

  if (const auto it = body.find("sku"); it != body.end()) {
    if (it->is_null()) {
      out.sku_present = true;
    } else if (!it->is_string()) {
      errors.add("sku", "must be a string");
    } else {
      std::string value = trim(it->get<std::string>());
      if (value.empty()) {
        out.sku_present = true;  // "" clears, like null
      } else if (auto problem = check_sku(value)) {
        errors.add("sku", *problem);
      } else {
        out.sku_present = true;
        out.sku = std::move(value);
      }
    }
  }

  if (const auto it = body.find("images"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) {
      errors.add("images", "must be an array of URLs");
    } else if (it->size() > kMaxImages) {
      errors.add("images", "must hold at most " + std::to_string(kMaxImages) + " URLs");
    } else {
      std::vector<std::string> images;
      bool ok = true;
      for (std::size_t i = 0; i < it->size(); ++i) {
        const Json& item = (*it)[i];
        const std::string field = "images[" + std::to_string(i) + "]";
        if (!item.is_string()) {
          errors.add(field, "must be a string");
          ok = false;
        } else if (!is_valid_image_url(item.get_ref<const std::string&>())) {
          errors.add(field, "must be an http(s) URL of at most 2048 characters");
          ok = false;
        } else {
          images.push_back(item.get<std::string>());
        }
      }
      if (ok) out.images = std::move(images);
    }
  } else if (create) {
    out.images = std::vector<std::string>();
  }
  return out;
}

std::optional<std::int64_t> read_expected_version(const Json& body, FieldErrors& errors) {
  const auto it = body.find("__v");
  if (it == body.end() || it->is_null()) return std::nullopt;
  return read_integer(body, "__v", errors, 0, std::numeric_limits<std::int64_t>::max());
}

}  // namespace emporium::product::domain
