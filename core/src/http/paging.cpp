#include "emporium/http/paging.hpp"

#include "emporium/util/text.hpp"

namespace emporium::http {

Page read_page(const Request& request, FieldErrors& errors) {
  Page out;
  if (const auto text = request.query("page")) {
    if (auto value = parse_count(*text, 1, kMaxPage)) {
      out.page = *value;
    } else {
      errors.add("page", "page must be an integer from 1 to " + std::to_string(kMaxPage));
    }
  }
  if (const auto text = request.query("limit")) {
    if (auto value = parse_count(*text, 1, kMaxPageLimit)) {
      out.limit = *value;
    } else {
      errors.add("limit", "limit must be an integer from 1 to " + std::to_string(kMaxPageLimit));
    }
  }
  return out;
}

void set_page_headers(Response& response, const Page& page, std::int64_t total,
                      std::string_view base_path, std::string_view filters) {
  response.set_header("X-Total-Count", std::to_string(total));
  std::string links;
  auto add_link = [&](std::int64_t target, const char* rel) {
    if (!links.empty()) links += ", ";
    links += "<" + std::string(base_path) + "?";
    if (!filters.empty()) links += std::string(filters) + "&";
    links += "page=" + std::to_string(target) + "&limit=" + std::to_string(page.limit) +
             ">; rel=\"" + rel + "\"";
  };
  if (page.page * page.limit < total) add_link(page.page + 1, "next");
  if (page.page > 1) add_link(page.page - 1, "prev");
  if (!links.empty()) response.set_header("Link", links);
}

}  // namespace emporium::http
