// The request/response façade handlers see. No Beast or Asio here: handlers compile in about a
// second and run on the worker pool, where blocking work (database, argon2) is allowed.
#pragma once

#include "emporium/auth/principal.hpp"
#include "emporium/json/json.hpp"
#include "emporium/util/text.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace emporium::http {

enum class Method { Get, Head, Post, Put, Delete, Patch, Options, Other };
std::string_view method_name(Method m);

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Route;  // router.hpp

class Request {
 public:
  Method method = Method::Other;
  std::string method_text;   // as received
  std::string target;        // path and query as received
  std::string path;          // percent-decoding not applied; the router matches raw segments
  std::string query_string;  // without '?'
  Headers headers;
  std::string body;
  std::string peer_address;    // the TCP peer
  std::string client_address;  // X-Real-IP when the peer is a trusted proxy, else the peer
  std::string request_id;
  std::string route;  // the matched route template (metrics label), "unmatched" otherwise
  std::vector<std::pair<std::string, std::string>> path_params;
  // Set when the route was matched before dispatch (to pick the request's lane), so the match
  // is not done twice; `path_params` holds its parameters then.
  const Route* matched = nullptr;
  std::optional<Principal> principal;
  std::int64_t received_ms = 0;
  // True while a Lane::Memory route's handler runs on the I/O thread (router.hpp): it must
  // answer from memory or call leave_io_thread().
  bool io_attempt = false;
  // True once a Lane::Memory route's memory gate answered true for this request: memory was
  // valid after the request arrived, also when the handler then left the I/O thread.
  bool memory_gate_passed = false;

  // Case-insensitive header lookup.
  std::optional<std::string_view> header(std::string_view name) const;
  // Path parameter by name (`:id` -> "id"); empty when absent.
  std::string_view param(std::string_view name) const;
  // Decoded query parameter; the first one when repeated. Throws bad_request (400 naming the
  // parameter) when any parameter of the query has a malformed %-escape, is not UTF-8 or holds NUL.
  std::optional<std::string> query(std::string_view name) const;
  // The parsed JSON body; present for routes declared with `json_body`.
  const Json& json() const { return json_; }
  // The parsed JSON body when it is an object, the shape every route's body has; 400 otherwise.
  const Json& json_object() const;
  void set_json(Json value) { json_ = std::move(value); }
  // Frees the body and its parsed JSON now, on the calling thread. The server calls it on the
  // worker that ran the handler: freeing a 1 MiB document of small objects costs milliseconds of
  // CPU that must not land on an I/O thread.
  void release_body();
  // The authenticated caller; throws unauthorized (401) when there is none.
  const Principal& user() const;
  // From a handler running on the I/O thread (io_attempt) that finds it would have to block:
  // throws LeaveIoThread, and the server runs the whole request again on the worker lane.
  [[noreturn]] void leave_io_thread() const;

 private:
  Json json_;
  mutable std::optional<ParsedQuery> query_cache_;
};

class Response {
 public:
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  Headers headers;
  std::string body;

  static Response json(int status, const Json& value);
  static Response no_content();
  Response& set_header(std::string name, std::string value);
  std::optional<std::string_view> header(std::string_view name) const;
};

// Not an error: see Request::leave_io_thread(). Passes through the App's error mapping untouched.
struct LeaveIoThread {};

using Handler = std::function<Response(Request&)>;
// Middleware wraps the rest of the chain: `return next(request);` or answer itself.
using Middleware = std::function<Response(Request&, const Handler& next)>;

}  // namespace emporium::http
