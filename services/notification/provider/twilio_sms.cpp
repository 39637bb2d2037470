#include "provider/twilio_sms.hpp"

#include <emporium/util/contact.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>
#include <utility>

namespace emporium::notification::provider {
namespace {

// 400 answers an operator can fix (credentials, the sending number): retried while attempts last.
constexpr int kOperatorFixable[] = {20003, 20404, 21212, 21606, 21659};

std::string join_missing(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " and " : ", ";
    out += names[i];
  }
  return out;
}

// Twilio's error document: {"code": 21211, "message": "…", "more_info": "…", "status": 400}.
struct TwilioError {
  int code = 0;
  std::string message;
};

TwilioError read_error(const http::ClientResponse& response) {
  TwilioError error;
  try {
    const Json body = Json::parse(response.body);
    if (body.is_object()) {
      if (auto it = body.find("code"); it != body.end() && it->is_number_integer()) {
        error.code = it->get<int>();
      }
      if (auto it = body.find("message"); it != body.end() && it->is_string()) {
        error.message = it->get<std::string>();
      }
    }
  } catch (const std::exception&) {
    // Not JSON (a proxy's page): described by the status alone.
  }
  return error;
}

std::string describe(const TwilioError& error, int status) {
  if (error.code != 0 && !error.message.empty()) {
    return "Twilio " + std::to_string(error.code) + ": " + error.message;
  }
  if (error.code != 0)
    return "Twilio " + std::to_string(error.code) + " (HTTP " + std::to_string(status) + ")";
  if (!error.message.empty()) return "Twilio HTTP " + std::to_string(status) + ": " + error.message;
  return "Twilio answered HTTP " + std::to_string(status);
}

// Retry-After in seconds (Twilio sends delta-seconds); nullopt when absent or not a number.
std::optional<std::int64_t> retry_after_ms(std::optional<std::string_view> value) {
  if (!value) return std::nullopt;
  std::int64_t seconds = 0;
  const auto* end = value->data() + value->size();
  const auto [ptr, ec] = std::from_chars(value->data(), end, seconds);
  if (ec != std::errc() || ptr != end || seconds < 0 || seconds > 86400) return std::nullopt;
  return seconds * 1000;
}

std::optional<std::int64_t> retry_after_ms(const HttpError& error) {
  for (const auto& [name, value] : error.headers()) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "retry-after") return retry_after_ms(std::string_view(value));
  }
  return std::nullopt;
}

class UnconfiguredSms : public SmsSender {
 public:
  explicit UnconfiguredSms(std::string reason) : reason_(std::move(reason)) {}
  Delivery send(const Sms&) override { return Delivery::fail(reason_); }

 private:
  std::string reason_;
};

http::ExternalClient make_client(const TwilioConfig& config) {
  if (!config.missing().empty()) {
    throw std::invalid_argument("TwilioSms needs " + join_missing(config.missing()));
  }
  http::ExternalOptions options = config.api.options;
  options.auth = http::BasicAuth{config.account_sid, config.auth_token};
  return http::ExternalClient("twilio", config.api.base_url, std::move(options));
}

}  // namespace

TwilioConfig TwilioConfig::from_env(const Env& env) {
  TwilioConfig c;
  c.account_sid = env.string("TWILIO_ACCOUNT_SID", "");
  if (!std::all_of(c.account_sid.begin(), c.account_sid.end(),
                   [](unsigned char ch) { return std::isalnum(ch) != 0; })) {
    throw ConfigError("TWILIO_ACCOUNT_SID: must be letters and digits (AC…)");
  }
  c.auth_token = env.string("TWILIO_AUTH_TOKEN", "");
  c.from_number = env.string("TWILIO_PHONE_NUMBER", "");
  if (!c.from_number.empty() && !is_valid_phone(c.from_number)) {
    throw ConfigError("TWILIO_PHONE_NUMBER: must be an E.164 number such as +14155552671");
  }
  c.api = http::provider_from_env(env, "TWILIO", "https://api.twilio.com");
  return c;
}

std::vector<std::string> TwilioConfig::missing() const {
  std::vector<std::string> names;
  if (account_sid.empty()) names.emplace_back("TWILIO_ACCOUNT_SID");
  if (auth_token.empty()) names.emplace_back("TWILIO_AUTH_TOKEN");
  if (from_number.empty()) names.emplace_back("TWILIO_PHONE_NUMBER");
  return names;
}

TwilioSms::TwilioSms(const TwilioConfig& config)
    : path_("/2010-04-01/Accounts/" + config.account_sid + "/Messages.json"),
      from_(config.from_number),
      client_(make_client(config)) {}

Delivery TwilioSms::send(const Sms& sms) {
  if (!is_valid_phone(sms.to)) return Delivery::fail("the recipient is not an E.164 phone number");
  if (sms.body.empty()) return Delivery::fail("the message is empty");
  http::ClientResponse response;
  try {
    response = client_.call(http::ExternalRequest::form(
        http::Method::Post, path_, Json{{"To", sms.to}, {"From", from_}, {"Body", sms.body}}));
  } catch (const http::ProviderError& e) {
    return Delivery::retry("Twilio: " + e.detail(), retry_after_ms(e));
  }
  if (response.status == 200 || response.status == 201) {
    try {
      const Json body = Json::parse(response.body);
      if (body.is_object() && body.contains("sid") && body["sid"].is_string()) {
        return Delivery::sent(body["sid"].get<std::string>());
      }
    } catch (const std::exception&) {
    }
    // Accepted, but the answer is not what Twilio documents: sending again would double it.
    return Delivery::sent("Twilio accepted the message (HTTP " + std::to_string(response.status) +
                          ") without a sid");
  }
  const TwilioError error = read_error(response);
  const std::string detail = describe(error, response.status);
  if (response.status == 429)
    return Delivery::retry(detail, retry_after_ms(response.header("Retry-After")));
  if (response.status == 401 || response.status == 403 || response.status == 404) {
    return Delivery::retry(detail);
  }
  if (std::find(std::begin(kOperatorFixable), std::end(kOperatorFixable), error.code) !=
      std::end(kOperatorFixable)) {
    return Delivery::retry(detail);
  }
  if (response.status >= 400 && response.status < 500) return Delivery::fail(detail);
  // 1xx/3xx (a redirect the client does not follow): nothing was sent that we know of.
  return Delivery::retry(detail);
}

std::unique_ptr<SmsSender> make_sms_sender(const TwilioConfig& config) {
  const auto missing = config.missing();
  if (!missing.empty()) {
    return std::make_unique<UnconfiguredSms>("SMS is not configured: " + join_missing(missing) +
                                             " must be set");
  }
  return std::make_unique<TwilioSms>(config);
}

}  // namespace emporium::notification::provider
