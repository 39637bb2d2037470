// HTTP/1.1 server over Boost.Beast with C++20 coroutines. The only translation unit that includes
// Beast/Asio (DESIGN §3: such a unit costs 25–130 s to compile).
//
// Threads: `io_threads` run the io_context (sockets, parsing, writing); every request's handler
// runs on a separate pool of `worker_threads`, so blocking work never stalls network I/O.
// Drain (DESIGN §8): on SIGTERM/SIGINT the acceptor closes; requests in flight complete and are
// answered with `Connection: close`; idle keep-alive connections stay open for `drain_idle_ms`
// (a request arriving on one is served, then the connection closes), then are closed; the process
// leaves run() within `shutdown_grace_ms` whatever happens.
#include "emporium/http/server.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace emporium::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

Method to_method(bhttp::verb verb) {
  switch (verb) {
    case bhttp::verb::get: return Method::Get;
    case bhttp::verb::head: return Method::Head;
    case bhttp::verb::post: return Method::Post;
    case bhttp::verb::put: return Method::Put;
    case bhttp::verb::delete_: return Method::Delete;
    case bhttp::verb::patch: return Method::Patch;
    case bhttp::verb::options: return Method::Options;
    default: return Method::Other;
  }
}

// One connection's state as seen by the drain logic.
struct SessionState {
  asio::strand<asio::io_context::executor_type> strand;
  beast::tcp_stream* stream = nullptr;
  bool busy = false;  // a request is being read past its first byte, handled or written
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  ErrorResponder on_error;
  asio::io_context ioc;
  asio::thread_pool workers;
  tcp::acceptor acceptor;
  std::atomic<bool> draining{false};
  std::atomic<bool> stopped{false};
  asio::steady_timer drain_timer;
  asio::steady_timer grace_timer;
  asio::strand<asio::io_context::executor_type> control;

  std::mutex sessions_mutex;
  std::unordered_map<std::uint64_t, std::shared_ptr<SessionState>> sessions;
  std::uint64_t next_session = 0;

  Impl(ServerOptions opts, Handler h, ErrorResponder e)
      : options(std::move(opts)),
        handler(std::move(h)),
        on_error(std::move(e)),
        ioc(std::max(1, options.io_threads)),
        workers(static_cast<std::size_t>(std::max(1, options.worker_threads))),
        acceptor(ioc),
        drain_timer(ioc),
        grace_timer(ioc),
        control(asio::make_strand(ioc)) {}

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (draining || !acceptor.is_open()) co_return;
        // EMFILE and friends: back off briefly instead of spinning.
        asio::steady_timer t(ioc, 10ms);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      auto strand = asio::make_strand(ioc);
      auto state = std::make_shared<SessionState>(SessionState{strand});
      std::uint64_t id;
      {
        std::lock_guard lock(sessions_mutex);
        id = next_session++;
        sessions.emplace(id, state);
      }
      asio::co_spawn(strand, session(std::move(socket), state, id), asio::detached);
    }
  }

  Request make_request(bhttp::request<bhttp::string_body>& msg, const std::string& peer) {
    Request req;
    req.method = to_method(msg.method());
    req.method_text = std::string(msg.method_string());
    std::string_view target = msg.target();
    req.target = std::string(target);
    auto q = target.find('?');
    req.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) req.query_string = std::string(target.substr(q + 1));
    req.headers.reserve(8);
    for (const auto& field : msg) {
      req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    req.body = std::move(msg.body());
    req.peer_address = peer;
    return req;
  }

  asio::awaitable<Response> run_handler(Request& req) {
    if (options.worker_threads == 0) {
      try {
        co_return handler(req);
      } catch (...) {
        co_return on_error(req, 500, "Internal error");
      }
    }
    // Hop to the worker pool for the handler, then back to this connection's strand.
    co_return co_await asio::co_spawn(
        workers,
        [this, &req]() -> asio::awaitable<Response> {
          try {
            co_return handler(req);
          } catch (...) {
            co_return on_error(req, 500, "Internal error");
          }
        },
        asio::use_awaitable);
  }

  static void to_beast(const Response& res, bhttp::response<bhttp::string_body>& out) {
    out.result(static_cast<unsigned>(res.status));
    if (!res.content_type.empty() && res.status != 204 && res.status != 304) {
      out.set(bhttp::field::content_type, res.content_type);
    }
    for (const auto& [name, value] : res.headers) out.insert(name, value);
    if (res.status != 204 && res.status != 304) out.body() = res.body;
  }

  asio::awaitable<void> session(tcp::socket socket, std::shared_ptr<SessionState> state,
                                std::uint64_t id) {
    beast::tcp_stream stream(std::move(socket));
    state->stream = &stream;
    std::string peer;
    {
      boost::system::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) peer = ep.address().to_string();
    }
    beast::flat_buffer buffer;
    for (;;) {
      if (draining && drain_idle_passed_for_session()) break;
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
      parser.body_limit(options.body_limit);
      state->busy = buffer.size() > 0;
      stream.expires_after(std::chrono::milliseconds(
          buffer.size() > 0 ? options.read_timeout_ms
                            : (draining ? options.drain_idle_ms : options.idle_timeout_ms)));
      auto [ec, n] =
          co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      (void)n;
      state->busy = true;
      if (ec) {
        int status = 0;
        std::string detail;
        if (ec == bhttp::error::body_limit) {
          status = 413;
          detail = "Request body is larger than the limit";
        } else if (ec == bhttp::error::header_limit) {
          status = 431;
          detail = "Request headers are too large";
        } else if (ec.category() ==
                       bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
                   ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
          status = 400;
          detail = "Malformed HTTP request";
        }
        if (status != 0) {
          Request req;
          req.peer_address = peer;
          if (parser.is_header_done()) {
            auto& msg = parser.get();
            req.method = to_method(msg.method());
            req.method_text = std::string(msg.method_string());
            req.target = std::string(msg.target());
            req.path = req.target.substr(0, req.target.find('?'));
            for (const auto& field : msg) {
              req.headers.emplace_back(std::string(field.name_string()),
                                       std::string(field.value()));
            }
          }
          Response res = co_await run_error(req, status, detail);
          bhttp::response<bhttp::string_body> out;
          to_beast(res, out);
          out.keep_alive(false);
          out.prepare_payload();
          stream.expires_after(std::chrono::milliseconds(options.read_timeout_ms));
          co_await bhttp::async_write(stream, out, asio::as_tuple(asio::use_awaitable));
        }
        break;
      }
      auto& msg = parser.get();
      bool keep_alive = msg.keep_alive();
      int version = static_cast<int>(msg.version());
      Request req = make_request(msg, peer);
      stream.expires_never();
      Response res = co_await run_handler(req);

      bhttp::response<bhttp::string_body> out;
      out.version(version);
      to_beast(res, out);
      keep_alive = keep_alive && !draining;
      out.keep_alive(keep_alive);
      out.prepare_payload();
      stream.expires_after(std::chrono::milliseconds(options.read_timeout_ms));
      auto [wec, wn] =
          co_await bhttp::async_write(stream, out, asio::as_tuple(asio::use_awaitable));
      (void)wn;
      if (wec || !keep_alive) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.socket().close(ignored);
    state->stream = nullptr;
    finish_session(id);
  }

  asio::awaitable<Response> run_error(Request& req, int status, const std::string& detail) {
    co_return co_await asio::co_spawn(
        workers,
        [this, &req, status, &detail]() -> asio::awaitable<Response> {
          co_return on_error(req, status, detail);
        },
        asio::use_awaitable);
  }

  bool drain_idle_passed_for_session() const { return drain_idle_passed_flag.load(); }
  std::atomic<bool> drain_idle_passed_flag{false};

  void finish_session(std::uint64_t id) {
    bool last = false;
    {
      std::lock_guard lock(sessions_mutex);
      sessions.erase(id);
      last = sessions.empty();
    }
    if (last && draining) asio::post(control, [this] { maybe_finish(); });
  }

  void maybe_finish() {
    std::lock_guard lock(sessions_mutex);
    if (!sessions.empty() || stopped) return;
    stopped = true;
    drain_timer.cancel();
    grace_timer.cancel();
    ioc.stop();
  }

  // Closes connections that wait for a request; busy ones finish their exchange first.
  void close_idle_sessions() {
    std::vector<std::shared_ptr<SessionState>> all;
    {
      std::lock_guard lock(sessions_mutex);
      for (auto& [id, s] : sessions) all.push_back(s);
    }
    for (auto& s : all) {
      asio::post(s->strand, [s] {
        if (s->stream && !s->busy) s->stream->cancel();
      });
    }
  }

  void close_all_sessions() {
    std::vector<std::shared_ptr<SessionState>> all;
    {
      std::lock_guard lock(sessions_mutex);
      for (auto& [id, s] : sessions) all.push_back(s);
    }
    for (auto& s : all) {
      asio::post(s->strand, [s] {
        if (s->stream) s->stream->cancel();
      });
    }
  }

  void start_drain() {
    asio::post(control, [this] {
      if (draining.exchange(true)) return;
      boost::system::error_code ignored;
      acceptor.close(ignored);
      drain_timer.expires_after(std::chrono::milliseconds(options.drain_idle_ms));
      drain_timer.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        drain_idle_passed_flag = true;
        close_idle_sessions();
      });
      grace_timer.expires_after(std::chrono::milliseconds(options.shutdown_grace_ms));
      grace_timer.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        close_all_sessions();
        stopped = true;
        ioc.stop();
      });
      maybe_finish();
    });
  }
};

Server::Server(ServerOptions options, Handler handler, ErrorResponder on_error)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(on_error))) {}

Server::~Server() {
  impl_->ioc.stop();
  impl_->workers.join();
}

void Server::listen() {
  auto& o = impl_->options;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(o.host, ec);
  if (ec) throw std::runtime_error("HOST: not an IP address: " + o.host);
  tcp::endpoint endpoint(address, o.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                             ec.message());
  }
}

std::uint16_t Server::port() const {
  return impl_->acceptor.local_endpoint().port();
}

int Server::run(const std::function<void()>& on_ready) {
  auto& impl = *impl_;
  if (!impl.acceptor.is_open()) listen();
  asio::signal_set signals(impl.ioc, SIGINT, SIGTERM);
  signals.async_wait([this](boost::system::error_code ec, int) {
    if (!ec) impl_->start_drain();
  });
  asio::co_spawn(impl.ioc, impl.accept_loop(), asio::detached);
  if (on_ready) on_ready();

  std::vector<std::thread> threads;
  for (int i = 1; i < impl.options.io_threads; ++i) threads.emplace_back([&] { impl.ioc.run(); });
  impl.ioc.run();
  for (auto& t : threads) t.join();
  signals.cancel();
  impl.workers.join();
  // While the set lives, a repeated signal only queues. Once it is gone the default action would
  // apply again, and a second SIGTERM from an impatient supervisor would kill the process while
  // it finishes exiting: the drain is over, so further signals are ignored.
  // (clear() first: it restores the default handlers, which the set's destructor would do later.)
  boost::system::error_code ignored;
  signals.clear(ignored);
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  return 0;
}

void Server::stop() {
  impl_->start_drain();
}

}  // namespace emporium::http
