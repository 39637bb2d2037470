// Check order (DESIGN §4): JSON (before the handler) -> 401 -> 403 -> 404 path ids -> 400 body.
#include "handlers/notification_handlers.hpp"

#include "handlers/dto.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/http/paging.hpp>
#include <emporium/util/contact.hpp>
#include <emporium/util/ids.hpp>

#include <string>

namespace emporium::notification {
namespace {

using http::Request;
using http::Response;

// Every service may ask for a message; each names itself (auth/callers.hpp).
const std::vector<std::string> kCallers = {"user", "product", "cart", "order", "payment"};

// A required string member of 1..max bytes; records the problem under `field`.
std::optional<std::string> required_text(const Json& body, const char* field, std::size_t max,
                                         FieldErrors& errors) {
  const auto it = body.find(field);
  if (it == body.end() || it->is_null()) {
    errors.add(field, std::string(field) + " is required");
    return std::nullopt;
  }
  return read_string(body, field, errors, 1, max);
}

Response queued(const domain::Notification& n) {
  return Response::json(202, Json{{"_id", n.id}, {"status", "queued"}});
}

Response post_email(Notifications& notifications, Request& request) {
  const Json& body = request.json_object();
  FieldErrors errors;
  Notifications::EmailInput input;
  if (auto to = required_text(body, "to", 254, errors)) {
    if (auto problem = check_email(*to)) {
      errors.add("to", "to: " + *problem);
    } else {
      input.to = *to;
    }
  }
  if (auto subject = required_text(body, "subject", domain::kMaxSubjectBytes, errors)) {
    if (domain::has_control_char(*subject)) {
      errors.add("subject", "subject must be one line without control characters");
    } else {
      input.subject = *subject;
    }
  }
  if (auto text = required_text(body, "text", domain::kMaxTextBytes, errors)) input.text = *text;
  if (auto html = read_string(body, "html", errors, 0, domain::kMaxHtmlBytes);
      html && !html->empty()) {
    input.html = std::move(*html);
  }
  errors.throw_if_any();
  return queued(notifications.queue_email(input));
}

Response post_sms(Notifications& notifications, Request& request) {
  const Json& body = request.json_object();
  FieldErrors errors;
  std::string to;
  std::string message;
  if (auto value = required_text(body, "to", 16, errors)) {
    if (auto problem = check_phone(*value)) {
      errors.add("to", "to: " + *problem);
    } else {
      to = *value;
    }
  }
  if (auto value = required_text(body, "message", domain::kMaxSmsBytes, errors)) message = *value;
  errors.throw_if_any();
  return queued(notifications.queue_sms(to, message));
}

Response get_one(Notifications& notifications, Request& request) {
  const std::string id(request.param("id"));
  if (!is_object_id(id)) throw not_found("Notification not found");
  return Response::json(200, dto::notification_json(notifications.get(id)));
}

Response list(Notifications& notifications, Request& request) {
  FieldErrors errors;
  const auto page = http::read_page(request, errors);
  std::optional<domain::Status> status;
  std::string filters;
  if (const auto text = request.query("status")) {
    status = domain::parse_status(*text);
    if (!status) {
      errors.add("status", "status must be queued, sent or failed");
    } else {
      filters = "status=" + *text;
    }
  }
  errors.throw_if_any();
  const auto found = notifications.list(status, page.offset(), page.limit);
  Json out = Json::array();
  for (const auto& n : found.items) out.push_back(dto::notification_json(n));
  auto response = Response::json(200, out);
  http::set_page_headers(response, page, found.total, "/api/notification", filters);
  return response;
}

}  // namespace

void register_notification_handlers(App& app, const std::shared_ptr<Notifications>& notifications) {
  using http::Access;
  using http::Method;
  auto bind = [notifications](Response (*fn)(Notifications&, Request&)) {
    return [notifications, fn](Request& r) { return fn(*notifications, r); };
  };
  app.route(Method::Post, "/api/notification/email", bind(post_email),
            {Access::AdminOrInternal, true, http::Lane::Worker, kCallers});
  app.route(Method::Post, "/api/notification/sms", bind(post_sms),
            {Access::AdminOrInternal, true, http::Lane::Worker, kCallers});
  app.route(Method::Get, "/api/notification", bind(list), {Access::Admin, false});
  app.route(Method::Get, "/api/notification/:id", bind(get_one), {Access::Admin, false});
}

}  // namespace emporium::notification
