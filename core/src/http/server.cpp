// HTTP/1.1 server over Boost.Beast with C++20 coroutines. The only translation unit that includes
// Beast/Asio (DESIGN §3: such a unit costs 25–130 s to compile).
//
// Threads: `io_threads` run the io_context (sockets, parsing, writing). A request's handler runs
// in its lane: Inline on the I/O thread (answers from memory: health, readiness, metrics), Worker
// on the pool of `worker_threads`, Slow on the pool of `slow_threads` (argon2, bodies over
// kLargeBody), so blocking work never stalls network I/O and expensive work cannot occupy the
// workers that serve reads. Each pool admits at most threads + queue limit requests; the next
// one gets 503 with Retry-After at once. Large bodies draw on a memory budget before they are
// read, and connections beyond `max_connections` are closed on accept.
// Drain (DESIGN §8): on SIGTERM/SIGINT the acceptor closes; requests in flight complete and are
// answered with `Connection: close`; idle keep-alive connections stay open for `drain_idle_ms`
// (a request arriving on one is served, then the connection closes), then are closed; the process
// leaves run() within `shutdown_grace_ms` whatever happens.
#include "emporium/http/server.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <tuple>
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

// Slow-lane threads run at a lower priority (Linux applies nice per thread), like the argon2
// hasher's: expensive work takes the CPU that the I/O threads and the workers leave.
void lower_priority_once() {
  thread_local bool lowered = false;
  if (lowered) return;
  lowered = true;
  setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
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
  asio::thread_pool slow_workers;
  tcp::acceptor acceptor;
  std::atomic<bool> draining{false};
  std::atomic<bool> stopped{false};
  std::atomic<bool> grace_expired{false};
  std::atomic<int> worker_pending{0};  // queued + running on `workers`
  std::atomic<int> slow_pending{0};    // queued + running on `slow_workers`
  std::atomic<std::size_t> body_bytes{0};
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
        slow_workers(static_cast<std::size_t>(std::max(1, options.slow_threads))),
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
        if (sessions.size() >= static_cast<std::size_t>(std::max(1, options.max_connections))) {
          // Each connection costs buffers and a coroutine frame: past the cap, refuse it rather
          // than let a flood of idle or stalled connections take the process's memory.
          socket.close(ec);
          continue;
        }
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

  // Waits, holding no thread, for the route's memory gate; true when memory may answer. The
  // gate's answer (from any thread) is posted to the session's strand and wakes the wait. The
  // answer holds the wait only weakly: a wait whose session is gone (the server stopped) is not
  // touched.
  asio::awaitable<bool> pass_memory_gate(Request& req) {
    if (req.matched == nullptr || !req.matched->options.memory_gate) co_return true;
    struct Wait {
      explicit Wait(const asio::any_io_executor& ex)
          : executor(ex), timer(ex, asio::steady_timer::time_point::max()) {}
      asio::any_io_executor executor;
      asio::steady_timer timer;
      std::optional<bool> ready;
    };
    auto wait = std::make_shared<Wait>(co_await asio::this_coro::executor);
    req.matched->options.memory_gate(req, [weak = std::weak_ptr<Wait>(wait)](bool ready) {
      if (auto w = weak.lock()) {
        asio::post(w->executor, [weak, ready] {
          if (auto again = weak.lock()) {
            again->ready = ready;
            again->timer.cancel();
          }
        });
      }
    });
    while (!wait->ready) co_await wait->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return *wait->ready;
  }

  asio::awaitable<Response> run_handler(Request& req, Lane lane) {
    if (lane == Lane::Memory && options.worker_threads > 0) {
      if (co_await pass_memory_gate(req)) {
        req.memory_gate_passed = true;
        req.io_attempt = true;
        try {
          Response res = handler(req);
          req.io_attempt = false;
          co_return res;
        } catch (const LeaveIoThread&) {
          // The handler would block: run it again, whole, on the worker lane.
        } catch (...) {
          req.io_attempt = false;
          co_return on_error(req, 500, "Internal error");
        }
        req.io_attempt = false;
      }
      lane = Lane::Worker;
    }
    if (lane == Lane::Inline || lane == Lane::Memory || options.worker_threads == 0) {
      try {
        co_return handler(req);
      } catch (...) {
        co_return on_error(req, 500, "Internal error");
      }
    }
    const bool slow = lane == Lane::Slow;
    auto& pending = slow ? slow_pending : worker_pending;
    const int limit = slow ? std::max(1, options.slow_threads) + options.slow_queue_limit
                           : std::max(1, options.worker_threads) + options.worker_queue_limit;
    if (pending.fetch_add(1) >= limit) {
      pending.fetch_sub(1);
      co_return on_error(req, 503, "The service is busy, retry shortly");
    }
    // Counted until the handler has returned, so the drain knows whether any is still running.
    co_return co_await asio::co_spawn(
        slow ? slow_workers : workers,
        [this, &req, &pending, slow]() -> asio::awaitable<Response> {
          struct Done {
            std::atomic<int>& n;
            ~Done() { n.fetch_sub(1); }
          } done{pending};
          if (slow) lower_priority_once();
          Response res;
          try {
            res = handler(req);
          } catch (...) {
            res = on_error(req, 500, "Internal error");
          }
          req.release_body();  // here, not on the I/O thread that owns `req`
          co_return res;
        },
        asio::use_awaitable);
  }

  // Holds a large body's share of `body_memory_limit` until the request is answered.
  class BodyBudget {
   public:
    explicit BodyBudget(std::atomic<std::size_t>& used) : used_(used) {}
    BodyBudget(const BodyBudget&) = delete;
    BodyBudget& operator=(const BodyBudget&) = delete;
    ~BodyBudget() { release(); }
    bool take(std::size_t bytes, std::size_t limit) {
      std::size_t now = used_.load();
      do {
        if (now + bytes > limit) return false;
      } while (!used_.compare_exchange_weak(now, now + bytes));
      held_ = bytes;
      return true;
    }
    void release() {
      if (held_ != 0) used_.fetch_sub(held_);
      held_ = 0;
    }

   private:
    std::atomic<std::size_t>& used_;
    std::size_t held_ = 0;
  };

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
      // An idle keep-alive connection waits for the first byte of its next request under the
      // idle timeout (or the drain's); from that byte on, the whole request must arrive within
      // read_timeout_ms.
      state->busy = false;
      if (buffer.size() == 0) {
        stream.expires_after(
            std::chrono::milliseconds(draining ? options.drain_idle_ms : options.idle_timeout_ms));
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096),
                                                       asio::as_tuple(asio::use_awaitable));
        if (ec) break;
        buffer.commit(n);
      }
      state->busy = true;
      stream.expires_after(std::chrono::milliseconds(options.read_timeout_ms));
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
      parser.body_limit(options.body_limit);
      auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser,
                                                       asio::as_tuple(asio::use_awaitable));
      (void)n;
      BodyBudget budget(body_bytes);
      int status = 0;
      std::string detail;
      if (!ec) {
        const std::size_t announced =
            parser.chunked() ? options.body_limit : parser.content_length().value_or(0);
        if (announced > kLargeBody && !budget.take(announced, options.body_memory_limit)) {
          status = 503;
          detail = "Too many large requests in progress, retry shortly";
        } else if (!parser.is_done()) {
          auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser,
                                                      asio::as_tuple(asio::use_awaitable));
          (void)bn;
          ec = bec;
        }
      }
      if (ec) {
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
            req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
          }
        }
        // The server's own errors are cheap to build: answered here, never queued.
        Response res = on_error(req, status, detail);
        bhttp::response<bhttp::string_body> out;
        to_beast(res, out);
        out.keep_alive(false);
        out.prepare_payload();
        stream.expires_after(std::chrono::milliseconds(options.read_timeout_ms));
        co_await bhttp::async_write(stream, out, asio::as_tuple(asio::use_awaitable));
        break;
      }
      if (ec) break;  // closed, timed out or cancelled mid-request: nobody to answer

      auto& msg = parser.get();
      bool keep_alive = msg.keep_alive();
      int version = static_cast<int>(msg.version());
      Request req = make_request(msg, peer);
      stream.expires_never();
      Lane lane = options.lane_of ? options.lane_of(req) : Lane::Worker;
      if (lane == Lane::Worker && req.body.size() > kLargeBody) lane = Lane::Slow;
      Response res = co_await run_handler(req, lane);
      budget.release();

      bhttp::response<bhttp::string_body> out;
      out.version(version);
      to_beast(res, out);
      keep_alive = keep_alive && !draining;
      out.keep_alive(keep_alive);
      out.prepare_payload();
      stream.expires_after(std::chrono::milliseconds(options.read_timeout_ms));
      boost::system::error_code wec;
      if (req.method == Method::Head) {
        // Same status and headers as GET, Content-Length included; no body (RFC 9110 §9.3.2).
        bhttp::response_serializer<bhttp::string_body> serializer(out);
        std::tie(wec, std::ignore) = co_await bhttp::async_write_header(
            stream, serializer, asio::as_tuple(asio::use_awaitable));
      } else {
        std::tie(wec, std::ignore) =
            co_await bhttp::async_write(stream, out, asio::as_tuple(asio::use_awaitable));
      }
      if (wec || !keep_alive) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.socket().close(ignored);
    state->stream = nullptr;
    finish_session(id);
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
        grace_expired = true;
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
  impl_->slow_workers.join();
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
  if (impl.grace_expired && impl.worker_pending + impl.slow_pending > 0) {
    // A handler is stuck past the grace period (a call without a deadline): it cannot be joined.
    return 0;
  }
  impl.workers.join();
  impl.slow_workers.join();
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

bool Server::draining() const {
  return impl_->draining;
}

bool Server::abandoned() const {
  return impl_->grace_expired && impl_->worker_pending + impl_->slow_pending > 0;
}

}  // namespace emporium::http
