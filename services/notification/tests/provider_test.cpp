// The delivery channels against real peers on loopback: the SMTP mailer against aiosmtpd (Debian's
// python3-aiosmtpd, a real SMTP server that parses what it receives with Python's email package),
// and the Twilio sender against the core's own HTTP server playing Twilio. What is asserted is
// what the delivery worker and the customer see: Sent/Retry/Fail, the provider's own words in
// `detail`, and the message as a mail client reads it.
#include "domain/mime.hpp"
#include "provider/smtp_mailer.hpp"
#include "provider/twilio_sms.hpp"

#include <emporium/http/server.hpp>
#include <emporium/testing/sockets.hpp>
#include <emporium/util/crypto.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace emporium::notification::provider {
namespace {

using Kind = Delivery::Kind;

// An SMTP server that accepts mail for anyone but two local parts: `reject@…` is refused at RCPT
// (550) and `tempfail@…` at the end of DATA (451). Each accepted message is parsed by Python's
// email package and appended to a file as one JSON line.
constexpr const char* kSmtpServer = R"PY(
import asyncio, email, email.policy, json, sys
from aiosmtpd.smtp import SMTP

out_path = sys.argv[1]

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith('reject@'):
            return '550 5.1.1 <%s>: mailbox unavailable' % address
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        if any(r.startswith('tempfail@') for r in envelope.rcpt_tos):
            return '451 4.3.0 try again later'
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = [{'type': p.get_content_type(), 'charset': p.get_content_charset(),
                  'content': p.get_content()} for p in msg.walk() if not p.is_multipart()]
        record = {'mail_from': envelope.mail_from, 'rcpt_tos': envelope.rcpt_tos,
                  'subject': str(msg['subject']), 'from': str(msg['from']), 'to': str(msg['to']),
                  'message_id': str(msg['message-id']), 'date': str(msg['date']),
                  'content_type': msg.get_content_type(), 'parts': parts,
                  'defects': len(msg.defects) + sum(len(p.defects) for p in msg.walk())}
        with open(out_path, 'a') as f:
            f.write(json.dumps(record) + '\n')
        return '250 2.0.0 Ok: queued as TEST123'

def tls_context():
    # A self-signed certificate for 127.0.0.1, written beside the output for the client's CA file.
    import datetime, ipaddress, ssl
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, '127.0.0.1')])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    with open(out_path + '.pem', 'wb') as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(out_path + '.key', 'wb') as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(out_path + '.pem', out_path + '.key')
    return context

async def main():
    loop = asyncio.get_running_loop()
    if sys.argv[2] == 'starttls':
        # STARTTLS offered and required: MAIL before it is refused with 530.
        context = tls_context()
        factory = lambda: SMTP(Handler(), hostname='smtp.test', tls_context=context,
                               require_starttls=True)
    else:
        factory = lambda: SMTP(Handler(), hostname='smtp.test')
    server = await loop.create_server(factory, '127.0.0.1', 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
)PY";

// aiosmtpd as a child process (Debian's python3, which has the package; a pyenv python3 earlier
// in PATH may not), stopped by its pid.
class SmtpSink {
 public:
  explicit SmtpSink(bool starttls = false)
      : path_(std::filesystem::temp_directory_path() /
              ("emporium-smtp-" + sha256_hex(random_bytes(8)).substr(0, 16) + ".jsonl")) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    std::string python = "/usr/bin/python3", dash_c = "-c", script = kSmtpServer,
                out = path_.string(), mode = starttls ? "starttls" : "plain";
    char* argv[] = {python.data(), dash_c.data(), script.data(), out.data(), mode.data(), nullptr};
    const int rc = posix_spawn(&pid_, python.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      throw std::runtime_error("cannot start /usr/bin/python3");
    }
    // The server prints its port once it listens.
    std::string line;
    pollfd p{fds[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && poll(&p, 1, 15000) > 0) {
      char buffer[64];
      const ssize_t n = read(fds[0], buffer, sizeof buffer);
      if (n <= 0) break;
      line.append(buffer, static_cast<std::size_t>(n));
    }
    close(fds[0]);
    port_ = std::atoi(line.c_str());
    if (port_ <= 0) throw std::runtime_error("aiosmtpd did not start: '" + line + "'");
  }
  ~SmtpSink() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
    std::filesystem::remove(ca_file(), ignored);
    std::filesystem::remove(path_.string() + ".key", ignored);
  }

  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  // The server's self-signed certificate (STARTTLS mode).
  std::string ca_file() const { return path_.string() + ".pem"; }
  std::vector<Json> messages() const {
    std::vector<Json> out;
    std::ifstream in(path_);
    for (std::string line; std::getline(in, line);) out.push_back(Json::parse(line));
    return out;
  }

 private:
  std::filesystem::path path_;
  pid_t pid_ = 0;
  int port_ = 0;
};

SmtpConfig smtp_config(std::string url) {
  SmtpConfig c;
  c.url = std::move(url);
  c.from = "shop@mail.example.com";
  c.from_name = "Caf\xC3\xA9 Emporium";
  c.timeout_ms = 5000;
  return c;
}

Email email_to(std::string to) {
  Email e;
  e.to = std::move(to);
  e.subject =
      "Commande confirm\xC3\xA9"
      "e \xE2\x80\x94 n\xC2\xBA 42 \xF0\x9F\x93\xA6";
  e.text = "Bonjour Ada,\n.\n.leading dot\n..two dots\n" + std::string(200, 'x') + "\n";
  e.html = "<p>Bonjour <b>Ada</b></p>\n.\n<p>caf\xC3\xA9</p>";
  e.message_id = "665f1c2e8a1b2c3d4e5f6a7b";
  return e;
}

std::string crlf(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

TEST(SmtpMailerTest, AcceptedMessageReadsBackAsSent) {
  SmtpSink sink;
  SmtpMailer mailer(smtp_config(sink.url()), [] { return std::int64_t{1700000000000}; });
  const Email email = email_to("ada@example.org");
  const Delivery d = mailer.send(email);
  EXPECT_EQ(d.kind, Kind::Sent) << d.detail;
  EXPECT_EQ(d.detail, "250 2.0.0 Ok: queued as TEST123");

  const auto messages = sink.messages();
  ASSERT_EQ(messages.size(), 1u);
  const Json& m = messages[0];
  EXPECT_EQ(m["mail_from"], "shop@mail.example.com");
  EXPECT_EQ(m["rcpt_tos"], Json::array({"ada@example.org"}));
  EXPECT_EQ(m["subject"], email.subject);
  EXPECT_EQ(m["from"], "Caf\xC3\xA9 Emporium <shop@mail.example.com>");
  EXPECT_EQ(m["to"], "ada@example.org");
  EXPECT_EQ(m["message_id"], "<665f1c2e8a1b2c3d4e5f6a7b@mail.example.com>");
  EXPECT_EQ(m["date"], "Tue, 14 Nov 2023 22:13:20 +0000");
  EXPECT_EQ(m["content_type"], "multipart/alternative");
  EXPECT_EQ(m["defects"], 0);
  ASSERT_EQ(m["parts"].size(), 2u);
  EXPECT_EQ(m["parts"][0]["type"], "text/plain");
  EXPECT_EQ(m["parts"][0]["charset"], "utf-8");
  // Lines that start with a dot arrive as written: libcurl dot-stuffs the upload (a lone "."
  // would otherwise end DATA early and "..two" would lose a dot), and we must not do it again.
  // Python keeps the CRLF line breaks of the wire.
  EXPECT_EQ(m["parts"][0]["content"], crlf(email.text));
  EXPECT_EQ(m["parts"][1]["type"], "text/html");
  EXPECT_EQ(m["parts"][1]["content"], crlf(email.html));
}

TEST(SmtpMailerTest, TextOnlyEmailIsOnePart) {
  SmtpSink sink;
  SmtpMailer mailer(smtp_config(sink.url()));
  Email email = email_to("ada@example.org");
  email.html.clear();
  ASSERT_EQ(mailer.send(email).kind, Kind::Sent);
  const auto messages = sink.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["content_type"], "text/plain");
  EXPECT_EQ(messages[0]["parts"][0]["content"], crlf(email.text));
}

TEST(SmtpMailerTest, TemporaryRefusalIsRetryWithTheServersReply) {
  SmtpSink sink;
  SmtpMailer mailer(smtp_config(sink.url()));
  const Delivery d = mailer.send(email_to("tempfail@example.org"));
  EXPECT_EQ(d.kind, Kind::Retry);
  EXPECT_EQ(d.detail, "451 4.3.0 try again later");
  EXPECT_TRUE(sink.messages().empty());
}

TEST(SmtpMailerTest, PermanentRefusalIsRetriedTooWithTheServersReply) {
  SmtpSink sink;
  SmtpMailer mailer(smtp_config(sink.url()));
  const Delivery d = mailer.send(email_to("reject@example.org"));
  EXPECT_EQ(d.kind, Kind::Retry);
  EXPECT_EQ(d.detail, "550 5.1.1 <reject@example.org>: mailbox unavailable");
}

TEST(SmtpMailerTest, RefusedConnectionIsRetry) {
  SmtpMailer mailer(smtp_config("smtp://127.0.0.1:" + std::to_string(testing::free_port())));
  const Delivery d = mailer.send(email_to("ada@example.org"));
  EXPECT_EQ(d.kind, Kind::Retry);
  EXPECT_EQ(d.detail.rfind("SMTP: ", 0), 0u) << d.detail;
  EXPECT_NE(d.detail.find("onnect"), std::string::npos) << d.detail;
}

TEST(SmtpMailerTest, SilentServerIsRetryAfterTheTimeout) {
  // A socket that listens but never greets: the kernel accepts the connection, nobody answers.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  SmtpConfig config = smtp_config("smtp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
  config.timeout_ms = 400;
  SmtpMailer mailer(config);
  const auto t0 = std::chrono::steady_clock::now();
  const Delivery d = mailer.send(email_to("ada@example.org"));
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  close(fd);
  EXPECT_EQ(d.kind, Kind::Retry);
  EXPECT_NE(d.detail.find("no answer within 400 ms"), std::string::npos) << d.detail;
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST(SmtpMailerTest, RequiredTlsRefusesAServerWithoutStarttls) {
  SmtpSink sink;
  SmtpConfig config = smtp_config(sink.url());
  config.require_tls = true;
  SmtpMailer mailer(config);
  const Delivery d = mailer.send(email_to("ada@example.org"));
  EXPECT_EQ(d.kind, Kind::Retry);
  EXPECT_NE(d.detail.find("STARTTLS"), std::string::npos) << d.detail;
  EXPECT_TRUE(sink.messages().empty());
}

TEST(SmtpMailerTest, StartTlsIsUsedWhenTheServerOffersIt) {
  // The server refuses MAIL before STARTTLS, so an accepted message went over TLS.
  SmtpSink sink(true);
  SmtpConfig config = smtp_config(sink.url());
  config.ca_file = sink.ca_file();
  const Delivery d = SmtpMailer(config).send(email_to("ada@example.org"));
  EXPECT_EQ(d.kind, Kind::Sent) << d.detail;
  config.require_tls = true;
  EXPECT_EQ(SmtpMailer(config).send(email_to("ada@example.org")).kind, Kind::Sent);
  ASSERT_EQ(sink.messages().size(), 2u);
  EXPECT_EQ(sink.messages()[0]["subject"], email_to("x@example.org").subject);
}

TEST(SmtpMailerTest, UntrustedCertificateIsRetry) {
  SmtpSink sink(true);
  const Delivery d = SmtpMailer(smtp_config(sink.url())).send(email_to("ada@example.org"));
  EXPECT_EQ(d.kind, Kind::Retry);
  EXPECT_NE(d.detail.find("certificate"), std::string::npos) << d.detail;
  EXPECT_TRUE(sink.messages().empty());
}

TEST(SmtpMailerTest, ConcurrentSendsEachArrive) {
  SmtpSink sink;
  SmtpMailer mailer(smtp_config(sink.url()));
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::vector<Kind> kinds;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) {
        Email e = email_to("ada@example.org");
        e.message_id = "m" + std::to_string(t) + "." + std::to_string(i);
        const Delivery d = mailer.send(e);
        std::lock_guard lock(mutex);
        kinds.push_back(d.kind);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(kinds, std::vector<Kind>(12, Kind::Sent));
  EXPECT_EQ(sink.messages().size(), 12u);
}

TEST(SmtpMailerTest, UnsendableMessagesFail) {
  SmtpMailer mailer(smtp_config("smtp://127.0.0.1:1"));  // never contacted
  EXPECT_EQ(mailer.send(email_to("not an address")).kind, Kind::Fail);
  EXPECT_EQ(mailer.send(email_to("ada@example.org\r\nBcc: eve@example.com")).kind, Kind::Fail);
  Email e = email_to("ada@example.org");
  e.subject = "Hi\r\nBcc: eve@example.com";
  const Delivery d = mailer.send(e);
  EXPECT_EQ(d.kind, Kind::Fail);
  EXPECT_NE(d.detail.find("Subject"), std::string::npos) << d.detail;
}

TEST(SmtpMailerTest, UnconfiguredMailerFailsWithTheReason) {
  const auto mailer = make_mailer(SmtpConfig::from_env(Env::from_map({})));
  const Delivery d = mailer->send(email_to("ada@example.org"));
  EXPECT_EQ(d.kind, Kind::Fail);
  EXPECT_EQ(d.detail, "email is not configured: SMTP_URL is unset");
}

TEST(SmtpConfigTest, ReadsTheSeedsVariables) {
  const auto c = SmtpConfig::from_env(Env::from_map({{"SMTP_URL", "smtps://smtp.gmail.com:465"},
                                                     {"NODEMAILER_EMAIL", "shop@gmail.com"},
                                                     {"NODEMAILER_PASSWORD", "app-password"},
                                                     {"STORE_NAME", "Corner Shop"},
                                                     {"SMTP_REQUIRE_TLS", "true"},
                                                     {"SMTP_TIMEOUT_MS", "5000"}}));
  EXPECT_EQ(c.url, "smtps://smtp.gmail.com:465");
  EXPECT_EQ(c.user, "shop@gmail.com");
  EXPECT_EQ(c.password, "app-password");
  EXPECT_EQ(c.from, "shop@gmail.com");
  EXPECT_EQ(c.from_name, "Corner Shop");
  EXPECT_TRUE(c.require_tls);
  EXPECT_EQ(c.timeout_ms, 5000);

  const auto d = SmtpConfig::from_env(Env::from_map({{"NODEMAILER_EMAIL", "AKIAUSERNAME"}}));
  EXPECT_EQ(d.from, "no-reply@localhost");
  EXPECT_EQ(d.from_name, "Emporium");
  EXPECT_FALSE(d.require_tls);
  EXPECT_EQ(d.timeout_ms, 30000);
  const auto e = SmtpConfig::from_env(
      Env::from_map({{"NODEMAILER_EMAIL", "a@b.example"}, {"SMTP_FROM", "shop@b.example"}}));
  EXPECT_EQ(e.from, "shop@b.example");
  // A password never goes over plain SMTP unless the operator says so.
  EXPECT_TRUE(SmtpConfig::from_env(Env::from_map({{"NODEMAILER_EMAIL", "a@b.example"},
                                                  {"NODEMAILER_PASSWORD", "secret"}}))
                  .require_tls);
  EXPECT_FALSE(SmtpConfig::from_env(Env::from_map({{"NODEMAILER_EMAIL", "a@b.example"},
                                                   {"NODEMAILER_PASSWORD", "secret"},
                                                   {"SMTP_ALLOW_PLAIN_AUTH", "true"}}))
                   .require_tls);
}

TEST(SmtpConfigTest, ErrorsDoNotRepeatTheUrlWhichMayHoldCredentials) {
  try {
    SmtpConfig::from_env(Env::from_map({{"SMTP_URL", "smtp://user:hunter2@ mail.example.com"}}));
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
}

TEST(SmtpConfigTest, MalformedValuesNameTheVariable) {
  const auto error_of = [](std::map<std::string, std::string> vars) -> std::string {
    try {
      SmtpConfig::from_env(Env::from_map(std::move(vars)));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "<no error>";
  };
  EXPECT_EQ(error_of({{"SMTP_URL", "http://mail.example.com"}}).rfind("SMTP_URL:", 0), 0u);
  EXPECT_EQ(error_of({{"SMTP_URL", "smtp://"}}).rfind("SMTP_URL:", 0), 0u);
  EXPECT_EQ(error_of({{"SMTP_URL", "smtp://host :25"}}).rfind("SMTP_URL:", 0), 0u);
  EXPECT_EQ(error_of({{"SMTP_FROM", "not-an-address"}}).rfind("SMTP_FROM:", 0), 0u);
  EXPECT_EQ(error_of({{"STORE_NAME", "Shop\r\nBcc: x"}}).rfind("STORE_NAME:", 0), 0u);
  EXPECT_EQ(error_of({{"SMTP_CA_FILE", "/nonexistent/ca.pem"}}).rfind("SMTP_CA_FILE:", 0), 0u);
  EXPECT_NE(error_of({{"SMTP_REQUIRE_TLS", "maybe"}}).find("SMTP_REQUIRE_TLS"), std::string::npos);
  EXPECT_NE(error_of({{"SMTP_TIMEOUT_MS", "0"}}).find("SMTP_TIMEOUT_MS"), std::string::npos);
}

// ---- Twilio -------------------------------------------------------------------------------------

// Twilio on loopback: the core's http::Server answering with the test's handler and recording
// every request.
class FakeTwilio {
 public:
  explicit FakeTwilio(http::Handler handler) : handler_(std::move(handler)) {
    http::ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.drain_idle_ms = 0;
    o.shutdown_grace_ms = 5000;
    server_ = std::make_unique<http::Server>(
        o,
        [this](http::Request& r) {
          {
            std::lock_guard lock(mutex_);
            requests_.push_back(r);
          }
          return handler_(r);
        },
        [](http::Request&, int status, const std::string& detail) {
          return http::Response::json(status, Json{{"detail", detail}});
        });
    server_->listen();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~FakeTwilio() {
    server_->stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::vector<http::Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  http::Handler handler_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<http::Request> requests_;
};

TwilioConfig twilio_config(const std::string& base_url) {
  TwilioConfig c = TwilioConfig::from_env(Env::from_map({{"TWILIO_ACCOUNT_SID", "AC123"},
                                                         {"TWILIO_AUTH_TOKEN", "secret-token"},
                                                         {"TWILIO_PHONE_NUMBER", "+15005550006"},
                                                         {"TWILIO_API_BASE", base_url},
                                                         {"TWILIO_TIMEOUT_MS", "2000"}}));
  c.api.options.retry_backoff_ms = 1;
  c.api.options.max_retry_backoff_ms = 5;
  c.api.options.failures_to_open = 100;
  return c;
}

http::Response twilio_error(int status, int code, const std::string& message) {
  return http::Response::json(
      status, Json{{"code", code},
                   {"message", message},
                   {"more_info", "https://www.twilio.com/docs/errors/" + std::to_string(code)},
                   {"status", status}});
}

TEST(TwilioSmsTest, CreatedMessageIsSentWithItsSid) {
  FakeTwilio twilio([](http::Request&) {
    return http::Response::json(201, Json{{"sid", "SM0123456789abcdef"}, {"status", "queued"}});
  });
  TwilioSms sms(twilio_config(twilio.url()));
  const Delivery d = sms.send({"+14155552671", "Emporium: order 42 shipped & on its way"});
  EXPECT_EQ(d.kind, Kind::Sent);
  EXPECT_EQ(d.detail, "SM0123456789abcdef");

  const auto requests = twilio.requests();
  ASSERT_EQ(requests.size(), 1u);
  const http::Request& r = requests[0];
  EXPECT_EQ(r.method, http::Method::Post);
  EXPECT_EQ(r.path, "/2010-04-01/Accounts/AC123/Messages.json");
  EXPECT_EQ(r.header("Authorization").value_or(""),
            "Basic " + domain::base64("AC123:secret-token"));
  EXPECT_EQ(r.header("Content-Type").value_or(""), "application/x-www-form-urlencoded");
  EXPECT_EQ(r.body,
            "Body=Emporium%3A%20order%2042%20shipped%20%26%20on%20its%20way"
            "&From=%2B15005550006&To=%2B14155552671");
  EXPECT_FALSE(r.header("Idempotency-Key"));
  EXPECT_FALSE(r.header("X-Internal-Token"));
}

TEST(TwilioSmsTest, InvalidNumberIsFailWithTwiliosCodeAndMessage) {
  FakeTwilio twilio([](http::Request&) {
    return twilio_error(400, 21211, "The 'To' number +1415555 is not a valid phone number.");
  });
  TwilioSms sms(twilio_config(twilio.url()));
  const Delivery d = sms.send({"+1415555", "hi"});
  EXPECT_EQ(d.kind, Kind::Fail);
  EXPECT_EQ(d.detail, "Twilio 21211: The 'To' number +1415555 is not a valid phone number.");
}

TEST(TwilioSmsTest, UnsubscribedRecipientIsFail) {
  FakeTwilio twilio([](http::Request&) {
    return twilio_error(400, 21610, "Attempt to send to unsubscribed recipient");
  });
  TwilioSms sms(twilio_config(twilio.url()));
  const Delivery d = sms.send({"+14155552671", "hi"});
  EXPECT_EQ(d.kind, Kind::Fail);
  EXPECT_EQ(d.detail, "Twilio 21610: Attempt to send to unsubscribed recipient");
}

TEST(TwilioSmsTest, RateLimitIsRetryAfterItsDelay) {
  FakeTwilio twilio([](http::Request&) {
    auto r = twilio_error(429, 20429, "Too Many Requests");
    r.set_header("Retry-After", "7");
    return r;
  });
  TwilioSms sms(twilio_config(twilio.url()));
  const Delivery d = sms.send({"+14155552671", "hi"});
  EXPECT_EQ(d.kind, Kind::Retry);
  EXPECT_EQ(d.detail, "Twilio 20429: Too Many Requests");
  EXPECT_EQ(d.retry_after_ms, 7000);
}

TEST(TwilioSmsTest, OperatorFixableRefusalsAreRetry) {
  FakeTwilio twilio([](http::Request& r) {
    if (r.body.rfind("Body=401&", 0) == 0) {
      return twilio_error(401, 20003, "Authenticate");
    }
    return twilio_error(
        400, 21606,
        "The 'From' phone number provided is not a valid message-capable Twilio phone number.");
  });
  TwilioSms sms(twilio_config(twilio.url()));
  const Delivery auth = sms.send({"+14155552671", "401"});
  EXPECT_EQ(auth.kind, Kind::Retry);
  EXPECT_EQ(auth.detail, "Twilio 20003: Authenticate");
  const Delivery from = sms.send({"+14155552671", "hi"});
  EXPECT_EQ(from.kind, Kind::Retry);
  EXPECT_EQ(from.detail.rfind("Twilio 21606: ", 0), 0u);
}

TEST(TwilioSmsTest, ServerErrorIsRetryAndTheMessageIsNotSentTwice) {
  FakeTwilio twilio(
      [](http::Request&) { return twilio_error(500, 20500, "Internal Server Error"); });
  TwilioSms sms(twilio_config(twilio.url()));
  const Delivery d = sms.send({"+14155552671", "hi"});
  EXPECT_EQ(d.kind, Kind::Retry);
  EXPECT_EQ(d.detail.rfind("Twilio: ", 0), 0u) << d.detail;
  // No idempotency key in Twilio's API: a POST that reached it is never re-sent by the client.
  EXPECT_EQ(twilio.requests().size(), 1u);
}

TEST(TwilioSmsTest, UnreachableTwilioIsRetry) {
  TwilioSms sms(twilio_config("http://127.0.0.1:" + std::to_string(testing::free_port())));
  const Delivery d = sms.send({"+14155552671", "hi"});
  EXPECT_EQ(d.kind, Kind::Retry);
  EXPECT_EQ(d.detail.rfind("Twilio: ", 0), 0u) << d.detail;
}

TEST(TwilioSmsTest, UnsendableMessagesFailWithoutCallingTwilio) {
  FakeTwilio twilio([](http::Request&) { return http::Response::json(201, Json{{"sid", "SM1"}}); });
  TwilioSms sms(twilio_config(twilio.url()));
  EXPECT_EQ(sms.send({"4155552671", "hi"}).kind, Kind::Fail);
  EXPECT_EQ(sms.send({"+14155552671", ""}).kind, Kind::Fail);
  EXPECT_TRUE(twilio.requests().empty());
}

TEST(TwilioSmsTest, UnconfiguredSenderNamesWhatIsMissing) {
  const auto none = make_sms_sender(TwilioConfig::from_env(Env::from_map({})));
  const Delivery d = none->send({"+14155552671", "hi"});
  EXPECT_EQ(d.kind, Kind::Fail);
  EXPECT_EQ(d.detail,
            "SMS is not configured: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER "
            "must be set");
  const auto partial =
      make_sms_sender(TwilioConfig::from_env(Env::from_map({{"TWILIO_ACCOUNT_SID", "AC123"}})));
  EXPECT_EQ(partial->send({"+14155552671", "hi"}).detail,
            "SMS is not configured: TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER must be set");
  const auto one = make_sms_sender(TwilioConfig::from_env(
      Env::from_map({{"TWILIO_ACCOUNT_SID", "AC123"}, {"TWILIO_PHONE_NUMBER", "+15005550006"}})));
  EXPECT_EQ(one->send({"+14155552671", "hi"}).detail,
            "SMS is not configured: TWILIO_AUTH_TOKEN must be set");
}

TEST(TwilioConfigTest, MalformedValuesNameTheVariable) {
  const auto error_of = [](std::map<std::string, std::string> vars) -> std::string {
    try {
      TwilioConfig::from_env(Env::from_map(std::move(vars)));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "<no error>";
  };
  EXPECT_EQ(error_of({{"TWILIO_PHONE_NUMBER", "555-1234"}}).rfind("TWILIO_PHONE_NUMBER:", 0), 0u);
  EXPECT_EQ(error_of({{"TWILIO_ACCOUNT_SID", "AC1/../x"}}).rfind("TWILIO_ACCOUNT_SID:", 0), 0u);
  EXPECT_NE(error_of({{"TWILIO_API_BASE", "ftp://x"}}).find("TWILIO_API_BASE"), std::string::npos);
  EXPECT_EQ(TwilioConfig::from_env(Env::from_map({})).api.base_url, "https://api.twilio.com");
}

}  // namespace
}  // namespace emporium::notification::provider
