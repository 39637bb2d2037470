// Drives an App's request pipeline (App::handle: errors, JSON, auth, handler) without sockets.
#pragma once

#include <emporium/app/app.hpp>
#include <emporium/http/message.hpp>
#include <emporium/json/json.hpp>

#include <set>
#include <string>
#include <string_view>

namespace emporium::testing {

// What a client sees: status, content type, parsed JSON body (null when empty), and the response.
struct Reply {
  int status = 0;
  std::string content_type;
  Json body;
  http::Response raw;

  std::string header(std::string_view name) const;
  // The `field` of every entry of the body's `errors` array.
  std::set<std::string> error_fields() const;
};

// A request as the server would hand it over from 127.0.0.1: path and query string split from
// `target`, and `Content-Type` appended to `headers` when there is a body.
http::Request make_request(http::Method method, const std::string& target,
                           http::Headers headers = {}, const std::string& body = "",
                           const std::string& content_type = "application/json");

// Runs `request` through `app` and parses the reply.
Reply send(App& app, http::Request request);

// {"Authorization": "Bearer <token>"}
http::Headers bearer(const std::string& token);

// {"X-Internal-Token": <caller's token derived from the shared INTERNAL_TOKEN>}: a call made by
// `caller` ("order", …) to a service configured with `shared_token`.
http::Headers internal_call(const std::string& shared_token, std::string_view caller);

}  // namespace emporium::testing
