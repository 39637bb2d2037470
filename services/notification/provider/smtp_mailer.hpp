// Email over SMTP through libcurl (DESIGN §12): `SMTP_URL` smtp://host:port (STARTTLS when the
// server offers it; SMTP_REQUIRE_TLS=true refuses a server that does not) or smtps://host:port
// (implicit TLS), AUTH with the seed's NODEMAILER_EMAIL / NODEMAILER_PASSWORD when set, the
// message built by domain/mime.hpp. Certificates are verified against the system store (plus
// SMTP_CA_FILE when set).
//
// Policy of one send (STYLE: every outbound call states its timeout, retry policy and what a
// non-2xx means):
//   - timeout: SMTP_TIMEOUT_MS for the whole conversation, connect included (at most 10 s of it
//     to connect). No retry inside a send: the delivery worker retries with back-off.
//   - Sent: the server accepted the message after DATA (2xx); detail is its final reply
//     ("250 2.0.0 Ok: queued as 4F2A…").
//   - Retry: any 4xx or 5xx reply (to AUTH, MAIL FROM, RCPT TO or DATA), a timeout, a refused or
//     broken connection, a TLS failure, or no STARTTLS when TLS is required. 5xx is retried too:
//     operators fix a refused login or a full mailbox, and the worker bounds the attempts. detail
//     is the server's own reply ("451 4.3.0 try again later"), else libcurl's reason.
//   - Fail: a message that cannot be sent as it is: a recipient that is not a valid address, or
//     a header holding a line break (mime.hpp); and every send of an unconfigured mailer.
//   - Dot-stuffing: libcurl escapes a "." at the start of a line of the upload itself (checked
//     by provider_test against a real SMTP server), so the message is uploaded unstuffed.
//
// Thread-safe: each send uses its own curl easy handle (a connection per message; mail volume
// is small next to the cost of a TLS handshake per message).
#pragma once

#include "provider/channels.hpp"

#include <emporium/config/env.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace emporium::notification::provider {

struct SmtpConfig {
  std::string url;        // SMTP_URL smtp://host:port or smtps://host:port; empty: unconfigured
  std::string user;       // NODEMAILER_EMAIL (AUTH user; empty: no AUTH)
  std::string password;   // NODEMAILER_PASSWORD
  std::string from;       // SMTP_FROM, else NODEMAILER_EMAIL when it is an address, else
                          // "no-reply@localhost"
  std::string from_name;  // STORE_NAME, default "Emporium"
  // SMTP_REQUIRE_TLS; also true when a password is set (NODEMAILER_PASSWORD) unless
  // SMTP_ALLOW_PLAIN_AUTH=true: a password never crosses a connection an attacker stripped of
  // STARTTLS.
  bool require_tls = false;
  std::string ca_file;     // SMTP_CA_FILE: an extra CA bundle (tests, private relays)
  int timeout_ms = 30000;  // SMTP_TIMEOUT_MS, 100..600000

  // Throws ConfigError naming the variable: SMTP_URL not smtp[s]://host[:port][/ehlo-name],
  // SMTP_FROM not an address, STORE_NAME with a line break, SMTP_CA_FILE unreadable, a malformed
  // SMTP_REQUIRE_TLS or SMTP_TIMEOUT_MS.
  static SmtpConfig from_env(const Env& env);
};

class SmtpMailer : public Mailer {
 public:
  // `clock` gives the Date header's time (ms since the epoch); default now_ms.
  explicit SmtpMailer(SmtpConfig config, std::function<std::int64_t()> clock = {});
  Delivery send(const Email& email) override;

  const SmtpConfig& config() const { return config_; }

 private:
  SmtpConfig config_;
  std::function<std::int64_t()> clock_;
};

// SmtpMailer when config.url is set; else a mailer whose every send is
// Fail("email is not configured: SMTP_URL is unset").
std::unique_ptr<Mailer> make_mailer(const SmtpConfig& config);

}  // namespace emporium::notification::provider
