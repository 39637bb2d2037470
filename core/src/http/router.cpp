// Route matching. Patterns and paths are split on '/'; a trailing slash is ignored; matching is
// case-sensitive; at each segment a static match beats a parameter, so `/categories` wins over
// `/:id` regardless of registration order.
#include "emporium/http/router.hpp"

#include <algorithm>

namespace emporium::http {

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

// Specificity: compares static-ness segment by segment, earlier segments first.
bool more_specific(const Route& a, const Route& b) {
  for (std::size_t i = 0; i < a.segments.size() && i < b.segments.size(); ++i) {
    bool a_param = a.segments[i].starts_with(':');
    bool b_param = b.segments[i].starts_with(':');
    if (a_param != b_param) return !a_param;
  }
  return false;
}

bool matches(const Route& route, const std::vector<std::string_view>& parts,
             std::vector<std::pair<std::string, std::string>>* params) {
  if (route.segments.size() != parts.size()) return false;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto& seg = route.segments[i];
    if (seg.starts_with(':')) {
      if (parts[i].empty()) return false;
      if (params) params->emplace_back(seg.substr(1), std::string(parts[i]));
    } else if (seg != parts[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::add(Method method, std::string pattern, Handler handler, RouteOptions options) {
  auto route = std::make_unique<Route>();
  route->method = method;
  for (auto part : split_path(pattern)) route->segments.emplace_back(part);
  route->pattern = std::move(pattern);
  route->handler = std::move(handler);
  route->options = options;
  // Keep the most specific routes first so the first match is the right one.
  auto it = std::find_if(routes_.begin(), routes_.end(),
                         [&](const auto& existing) { return more_specific(*route, *existing); });
  routes_.insert(it, std::move(route));
}

Router::Match Router::match(Method method, std::string_view path) const {
  Match result;
  auto parts = split_path(path);
  std::vector<std::string> allowed;
  auto allow = [&](Method m) {
    std::string name(method_name(m));
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) allowed.push_back(name);
  };
  // HEAD is served by the GET route where no HEAD route exists (RFC 9110 §9.3.2): same status
  // and headers, no body (the server drops it).
  const Route* get_route = nullptr;
  for (const auto& route : routes_) {
    if (!matches(*route, parts, nullptr)) continue;
    if (route->method == method && !result.route) {
      result.route = route.get();
      matches(*route, parts, &result.params);
    } else if (route->method != method) {
      if (method == Method::Head && route->method == Method::Get && !get_route) {
        get_route = route.get();
      }
      allow(route->method);
      if (route->method == Method::Get) allow(Method::Head);
    }
  }
  if (!result.route && get_route) {
    result.route = get_route;
    matches(*get_route, parts, &result.params);
  }
  if (!result.route) {
    for (std::size_t i = 0; i < allowed.size(); ++i) {
      if (i) result.allow += ", ";
      result.allow += allowed[i];
    }
  }
  return result;
}

}  // namespace emporium::http
