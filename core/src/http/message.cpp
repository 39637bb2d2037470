// Request/response façade helpers.
#include "emporium/http/message.hpp"

#include <boost/url/parse_query.hpp>

#include <strings.h>

namespace emporium::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string_view method_name(Method m) {
  switch (m) {
    case Method::Get: return "GET";
    case Method::Head: return "HEAD";
    case Method::Post: return "POST";
    case Method::Put: return "PUT";
    case Method::Delete: return "DELETE";
    case Method::Patch: return "PATCH";
    case Method::Options: return "OPTIONS";
    case Method::Other: break;
  }
  return "OTHER";
}

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [key, value] : path_params) {
    if (key == name) return value;
  }
  return {};
}

std::optional<std::string> Request::query(std::string_view name) const {
  if (!query_cache_) {
    std::vector<std::pair<std::string, std::string>> parsed;
    auto params = boost::urls::parse_query(query_string);
    if (params) {
      // Percent-decoded, and '+' is a space as in form-encoded queries (`q=red+shirt`).
      boost::urls::encoding_opts opts;
      opts.space_as_plus = true;
      for (auto param : *params) {
        auto key = param.key.decode(opts);
        std::string value;
        if (param.has_value) {
          auto decoded = param.value.decode(opts);
          value.assign(decoded.begin(), decoded.end());
        }
        parsed.emplace_back(std::string(key.begin(), key.end()), std::move(value));
      }
    }
    query_cache_ = std::move(parsed);
  }
  for (const auto& [key, value] : *query_cache_) {
    if (key != name) continue;
    // PostgreSQL cannot store NUL in text, and no parameter needs it: refuse it here, once.
    if (value.find('\0') != std::string::npos) {
      throw bad_request("Query parameter " + key + " must not contain %00",
                        {{key, "must not contain the NUL character"}});
    }
    return value;
  }
  return std::nullopt;
}

const Principal& Request::user() const {
  if (!principal) throw unauthorized();
  return *principal;
}

Response Response::json(int status, const Json& value) {
  Response res;
  res.status = status;
  res.body = dump_json(value);
  return res;
}

Response Response::no_content() {
  Response res;
  res.status = 204;
  res.content_type.clear();
  return res;
}

Response& Response::set_header(std::string name, std::string value) {
  for (auto& [key, existing] : headers) {
    if (iequals(key, name)) {
      existing = std::move(value);
      return *this;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

std::optional<std::string_view> Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

}  // namespace emporium::http
