#include "domain/payment.hpp"

#include <emporium/util/crypto.hpp>

#include <array>
#include <charconv>
#include <utility>

namespace emporium::payment::domain {
namespace {

constexpr std::array<std::pair<Status, std::string_view>, 5> kNames{{
    {Status::Processing, "processing"},
    {Status::RequiresAction, "requires_action"},
    {Status::Succeeded, "succeeded"},
    {Status::Failed, "failed"},
    {Status::Refunded, "refunded"},
}};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view status_name(Status status) {
  for (const auto& [s, name] : kNames) {
    if (s == status) return name;
  }
  return "unknown";
}

std::optional<Status> parse_status(std::string_view text) {
  for (const auto& [s, name] : kNames) {
    if (name == text) return s;
  }
  return std::nullopt;
}

bool is_open(Status status) {
  return status == Status::Processing || status == Status::RequiresAction;
}

bool accepts_outcome(Status status) {
  return is_open(status);
}

std::int64_t refundable(const Payment& payment) {
  if (payment.status != Status::Succeeded && payment.status != Status::Refunded) return 0;
  return payment.amount > payment.refunded ? payment.amount - payment.refunded : 0;
}

SignatureCheck verify_stripe_signature(std::string_view header, std::string_view body,
                                       std::string_view secret, std::int64_t now_s,
                                       std::int64_t tolerance_s) {
  std::optional<std::int64_t> t;
  std::string_view t_text;
  std::vector<std::string_view> signatures;
  while (!header.empty()) {
    const auto comma = header.find(',');
    const std::string_view part = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const auto eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = part.substr(0, eq);
    const std::string_view value = part.substr(eq + 1);
    if (key == "t") {
      std::int64_t parsed = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
      if (ec != std::errc() || ptr != value.data() + value.size() || value.empty()) {
        return SignatureCheck::Malformed;
      }
      t = parsed;
      t_text = value;
    } else if (key == "v1") {
      signatures.push_back(value);
    }
  }
  if (!t || signatures.empty()) return SignatureCheck::Malformed;
  std::string signed_payload;
  signed_payload.reserve(t_text.size() + 1 + body.size());
  signed_payload.append(t_text).append(".").append(body);
  const std::string expected = hmac_sha256_hex(secret, signed_payload);
  bool match = false;
  for (const auto& candidate : signatures) {
    match = constant_time_equal(candidate, expected) || match;
  }
  if (!match) return SignatureCheck::NoMatch;
  const std::int64_t skew = now_s > *t ? now_s - *t : *t - now_s;
  if (skew > tolerance_s) return SignatureCheck::Expired;
  return SignatureCheck::Valid;
}

std::string stripe_signature(std::string_view body, std::string_view secret, std::int64_t t) {
  const std::string t_text = std::to_string(t);
  return "t=" + t_text + ",v1=" + hmac_sha256_hex(secret, t_text + "." + std::string(body));
}

}  // namespace emporium::payment::domain
