#include "provider/stripe_provider.hpp"

#include <emporium/error/errors.hpp>

#include <utility>

namespace emporium::payment::provider {
namespace {

std::string string_member(const Json& object, const char* key) {
  if (!object.is_object()) return {};
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::string> optional_member(const Json& object, const char* key) {
  auto value = string_member(object, key);
  if (value.empty()) return std::nullopt;
  return value;
}

Json parse_or_empty(const std::string& body) {
  try {
    return Json::parse(body);
  } catch (const std::exception&) {
    return Json::object();
  }
}

}  // namespace

StripeProvider::StripeProvider(http::ExternalClient client) : client_(std::move(client)) {}

ChargeResult StripeProvider::charge(const ChargeRequest& request) {
  const Json fields{
      {"amount", request.amount},
      {"currency", request.currency},
      {"payment_method", request.payment_method},
      {"confirm", true},
      {"automatic_payment_methods", {{"enabled", true}, {"allow_redirects", "never"}}},
      {"metadata", {{"orderId", request.order_id}, {"paymentId", request.payment_id}}},
  };
  auto call = http::ExternalRequest::form(http::Method::Post, "/v1/payment_intents", fields);
  call.idempotency_key = request.idempotency_key;
  const auto response = client_.call(call);
  if (response.status == 409 || response.status == 429) {
    // The same key still being worked on (idempotency_key_in_use), a lock or a rate limit: no
    // outcome yet. Like no answer: the payment stays open and a retry asks again with the key.
    throw http::ProviderError(service_unavailable("Stripe is busy with this payment; retry", 1),
                              "stripe", true, response.status);
  }
  const Json body = parse_or_empty(response.body);
  ChargeResult result;
  if (response.status == 200) {
    const std::string status = string_member(body, "status");
    result.provider_payment_id = optional_member(body, "id");
    if (status == "succeeded") {
      result.kind = ChargeResult::Kind::Succeeded;
    } else if (status == "requires_action") {
      result.kind = ChargeResult::Kind::RequiresAction;
      result.client_secret = optional_member(body, "client_secret");
    } else {
      result.kind = ChargeResult::Kind::Declined;
      result.failure_code = status.empty() ? "unexpected_answer" : status;
      result.failure_reason = "the payment ended " + result.failure_code;
    }
    if (!result.provider_payment_id)
      throw bad_gateway("Stripe answered without a PaymentIntent id");
    return result;
  }
  const Json error = body.is_object() && body.contains("error") ? body["error"] : Json::object();
  result.failure_code = string_member(error, "code");
  const std::string decline = string_member(error, "decline_code");
  const std::string message = string_member(error, "message");
  result.failure_reason = !decline.empty() ? decline : !message.empty() ? message : "refused";
  if (error.is_object() && error.contains("payment_intent")) {
    result.provider_payment_id = optional_member(error["payment_intent"], "id");
  }
  if (response.status == 402) {
    result.kind = ChargeResult::Kind::Declined;
    if (result.failure_code.empty()) result.failure_code = "card_declined";
  } else {
    result.kind = ChargeResult::Kind::Invalid;
    if (result.failure_code.empty()) result.failure_code = "invalid_request";
  }
  return result;
}

RefundResult StripeProvider::refund(const std::string& provider_payment_id, std::int64_t amount,
                                    const std::string& idempotency_key) {
  auto call = http::ExternalRequest::form(
      http::Method::Post, "/v1/refunds",
      Json{{"payment_intent", provider_payment_id}, {"amount", amount}});
  call.idempotency_key = idempotency_key;
  const auto response = client_.call(call);
  const Json body = parse_or_empty(response.body);
  RefundResult result;
  if (response.status == 200) {
    result.succeeded = string_member(body, "status") != "failed";
    result.provider_refund_id = optional_member(body, "id");
    if (!result.succeeded) result.failure_reason = string_member(body, "failure_reason");
    return result;
  }
  const Json error = body.is_object() && body.contains("error") ? body["error"] : Json::object();
  result.failure_reason = string_member(error, "code");
  if (result.failure_reason.empty()) result.failure_reason = string_member(error, "message");
  if (result.failure_reason.empty()) result.failure_reason = "refused";
  return result;
}

}  // namespace emporium::payment::provider
