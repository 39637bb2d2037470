// Paging of list endpoints (API.md "Lists"): `?page=` (1-based, default 1) and `&limit=` (1..100,
// default 20; anything else is 400 naming the parameter); the body stays an array, and the
// response carries `X-Total-Count` and a relative `Link` header with `rel="next"` / `rel="prev"`.
#pragma once

#include "emporium/error/errors.hpp"
#include "emporium/http/message.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace emporium::http {

inline constexpr std::int64_t kDefaultPageLimit = 20;
inline constexpr std::int64_t kMaxPageLimit = 100;
inline constexpr std::int64_t kMaxPage = 1'000'000'000;

struct Page {
  std::int64_t page = 1;
  std::int64_t limit = kDefaultPageLimit;
  std::int64_t offset() const { return (page - 1) * limit; }
};

// The request's `page` and `limit`; a malformed one is recorded in `errors` under its name.
Page read_page(const Request& request, FieldErrors& errors);

// Sets `X-Total-Count: total` and, when there is a next or a previous page, `Link` with
// `<base_path?filters&page=N&limit=L>; rel="next"` (filters: an already-encoded query string of
// the listing's other parameters, possibly empty).
void set_page_headers(Response& response, const Page& page, std::int64_t total,
                      std::string_view base_path, std::string_view filters);

}  // namespace emporium::http
