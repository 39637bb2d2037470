#include "provider/smtp_mailer.hpp"

#include "domain/mime.hpp"

#include <emporium/util/contact.hpp>
#include <emporium/util/time.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

namespace emporium::notification::provider {
namespace {

constexpr long kMaxConnectMs = 10000;

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Never paired with curl_global_cleanup (as in core's transport): senders live until exit.
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("curl_global_init failed");
    }
  });
}

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// The message as libcurl's read callback consumes it.
struct Upload {
  std::string_view data;
};

size_t read_message(char* buffer, size_t size, size_t count, void* userdata) {
  auto* upload = static_cast<Upload*>(userdata);
  const size_t n = std::min(size * count, upload->data.size());
  std::memcpy(buffer, upload->data.data(), n);
  upload->data.remove_prefix(n);
  return n;
}

// The server's replies as libcurl's debug callback sees them (one line per call, CRLF kept),
// each complete reply as one string, a multi-line one joined with spaces
// ("250 mail.example PIPELINING SIZE 10240000").
struct Replies {
  std::string pending;
  std::string current;
  std::vector<std::string> all;

  // The last reply with `code`: the one CURLINFO_RESPONSE_CODE reports, not the "221 Bye" of
  // the QUIT libcurl sends after a refusal.
  std::string last_with(long code) const {
    const std::string prefix = std::to_string(code);
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (it->compare(0, prefix.size(), prefix) == 0) return *it;
    }
    return {};
  }

  void feed(std::string_view chunk) {
    pending.append(chunk);
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      on_line(line);
    }
  }

  void on_line(const std::string& line) {
    const bool coded = line.size() >= 3 && std::all_of(line.begin(), line.begin() + 3,
                                                       [](char c) { return c >= '0' && c <= '9'; });
    if (coded && line.size() >= 4 && line[3] == '-') {  // "250-…": more lines follow
      current += current.empty() ? line.substr(0, 3) + " " + line.substr(4) : " " + line.substr(4);
      return;
    }
    if (current.empty()) {
      all.push_back(line);
    } else {
      all.push_back(current + (line.size() > 4 ? " " + line.substr(4) : std::string()));
    }
    current.clear();
  }
};

int on_debug(CURL*, curl_infotype type, char* data, size_t size, void* userdata) {
  if (type == CURLINFO_HEADER_IN) static_cast<Replies*>(userdata)->feed({data, size});
  return 0;
}

template <typename T>
void set(CURL* h, CURLoption option, T value) {
  if (curl_easy_setopt(h, option, value) != CURLE_OK) {
    throw std::runtime_error("curl_easy_setopt " + std::to_string(static_cast<int>(option)) +
                             " failed");
  }
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool has_line_break(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

class UnconfiguredMailer : public Mailer {
 public:
  Delivery send(const Email&) override {
    return Delivery::fail("email is not configured: SMTP_URL is unset");
  }
};

}  // namespace

SmtpConfig SmtpConfig::from_env(const Env& env) {
  SmtpConfig c;
  c.url = env.string("SMTP_URL", "");
  if (!c.url.empty()) {
    const std::string_view rest = starts_with(c.url, "smtps://") ? std::string_view(c.url).substr(8)
                                  : starts_with(c.url, "smtp://")
                                      ? std::string_view(c.url).substr(7)
                                      : std::string_view();
    const bool bad_chars = std::any_of(c.url.begin(), c.url.end(), [](char ch) {
      return static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7F;
    });
    if (rest.empty() || rest.front() == '/' || rest.front() == ':' || bad_chars) {
      // Not the value itself: it may carry a user and password.
      throw ConfigError("SMTP_URL: must be smtp://host[:port] or smtps://host[:port]");
    }
  }
  c.user = env.string("NODEMAILER_EMAIL", "");
  c.password = env.string("NODEMAILER_PASSWORD", "");
  if (auto from = env.get("SMTP_FROM"); from && !from->empty()) {
    if (!is_valid_email(*from)) throw ConfigError("SMTP_FROM: must be an email address");
    c.from = *from;
  } else if (is_valid_email(c.user)) {
    c.from = c.user;
  } else {
    c.from = "no-reply@localhost";
  }
  c.from_name = env.string("STORE_NAME", "Emporium");
  if (has_line_break(c.from_name)) throw ConfigError("STORE_NAME: must be one line");
  c.require_tls = env.boolean("SMTP_REQUIRE_TLS", false) ||
                  (!c.password.empty() && !env.boolean("SMTP_ALLOW_PLAIN_AUTH", false));
  c.ca_file = env.string("SMTP_CA_FILE", "");
  if (!c.ca_file.empty() && !std::ifstream(c.ca_file).good()) {
    throw ConfigError("SMTP_CA_FILE: cannot read '" + c.ca_file + "'");
  }
  c.timeout_ms = static_cast<int>(env.integer("SMTP_TIMEOUT_MS", 30000, 100, 600000));
  return c;
}

SmtpMailer::SmtpMailer(SmtpConfig config, std::function<std::int64_t()> clock)
    : config_(std::move(config)), clock_(clock ? std::move(clock) : [] { return now_ms(); }) {
  init_curl_once();
}

Delivery SmtpMailer::send(const Email& email) {
  if (!is_valid_email(email.to)) {
    return Delivery::fail("the recipient is not a valid email address");
  }
  std::string message;
  try {
    message = domain::build_mime({.from_address = config_.from,
                                  .from_name = config_.from_name,
                                  .to = email.to,
                                  .subject = email.subject,
                                  .text = email.text,
                                  .html = email.html,
                                  .message_id = email.message_id,
                                  .date_ms = clock_(),
                                  .boundary = {}});
  } catch (const std::invalid_argument& e) {
    return Delivery::fail(std::string("the message cannot be sent: ") + e.what());
  }

  std::unique_ptr<CURL, EasyDeleter> handle(curl_easy_init());
  if (!handle) return Delivery::retry("SMTP: curl_easy_init failed");
  CURL* h = handle.get();
  const std::string mail_from = "<" + config_.from + ">";
  std::unique_ptr<curl_slist, SlistDeleter> rcpt(
      curl_slist_append(nullptr, ("<" + email.to + ">").c_str()));
  if (!rcpt) return Delivery::retry("SMTP: out of memory");
  Upload upload{message};
  Replies replies;
  char error[CURL_ERROR_SIZE] = {0};

  set(h, CURLOPT_URL, config_.url.c_str());
  set(h, CURLOPT_MAIL_FROM, mail_from.c_str());
  set(h, CURLOPT_MAIL_RCPT, rcpt.get());
  set(h, CURLOPT_UPLOAD, 1L);
  set(h, CURLOPT_READFUNCTION, &read_message);
  set(h, CURLOPT_READDATA, &upload);
  set(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
  // smtp://: STARTTLS when offered (required with SMTP_REQUIRE_TLS); smtps:// is TLS anyway.
  set(h, CURLOPT_USE_SSL, static_cast<long>(config_.require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY));
  if (!config_.user.empty()) {
    set(h, CURLOPT_USERNAME, config_.user.c_str());
    set(h, CURLOPT_PASSWORD, config_.password.c_str());
  }
  if (!config_.ca_file.empty()) set(h, CURLOPT_CAINFO, config_.ca_file.c_str());
  set(h, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout_ms));
  set(h, CURLOPT_CONNECTTIMEOUT_MS, std::min<long>(config_.timeout_ms, kMaxConnectMs));
  set(h, CURLOPT_NOSIGNAL, 1L);
  set(h, CURLOPT_ERRORBUFFER, error);
  // The debug callback sees the server's reply lines (and only with VERBOSE; nothing is printed).
  set(h, CURLOPT_DEBUGFUNCTION, &on_debug);
  set(h, CURLOPT_DEBUGDATA, &replies);
  set(h, CURLOPT_VERBOSE, 1L);

  const CURLcode rc = curl_easy_perform(h);
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  const std::string reply = replies.last_with(code);
  if (rc == CURLE_OK) return Delivery::sent(reply.empty() ? std::to_string(code) : reply);
  if (code >= 400) {
    // The server refused (AUTH, MAIL FROM, RCPT TO or the message): its own words.
    return Delivery::retry(reply.empty() ? "SMTP " + std::to_string(code) : reply);
  }
  const std::string reason = error[0] != 0 ? std::string(error) : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_URL_MALFORMAT:  // libcurl refused an address it cannot put in a command
      return Delivery::fail("SMTP: " + reason);
    case CURLE_USE_SSL_FAILED:
      return Delivery::retry(
          "SMTP: the server does not offer STARTTLS and SMTP_REQUIRE_TLS is set (" + reason + ")");
    case CURLE_OPERATION_TIMEDOUT:
      return Delivery::retry("SMTP: no answer within " + std::to_string(config_.timeout_ms) +
                             " ms (" + reason + ")");
    default: return Delivery::retry("SMTP: " + reason);
  }
}

std::unique_ptr<Mailer> make_mailer(const SmtpConfig& config) {
  if (config.url.empty()) return std::make_unique<UnconfiguredMailer>();
  return std::make_unique<SmtpMailer>(config);
}

}  // namespace emporium::notification::provider
