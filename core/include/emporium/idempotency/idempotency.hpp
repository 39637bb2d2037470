// Idempotency keys (DESIGN §5): a retried POST with the same `Idempotency-Key` gets the first
// answer instead of a second execution.
//
// A key is scoped to (caller, method, route template, key): two users' keys never collide, and a
// key used on one route means nothing on another. The first request claims the key (a row in the
// core-owned table `emporium_idempotency_keys`) in the handler's own transaction and completes
// it with its answer in the transaction that makes its effect, so the answer is stored if and
// only if the effect is. Then, for `replay_ttl_ms` (24 h):
//   - the same key and the same request (method, path, query, canonical JSON body) → the stored
//     answer (status, Content-Type, Location/ETag, body) with `Idempotent-Replayed: true`;
//   - the same key with another request → 422 `idempotency_key_reused`;
//   - the same key while the first still holds its claim → 409 `idempotency_key_in_use` with
//     `Retry-After: 1`.
// An answer that ends in an error (the handler threw) is not stored: the transaction rolls back
// with the claim, and a retry executes again.
//
// Two ways to use it:
//   - One transaction (`Idempotency::run`): claim, work and completion commit together. A COMMIT
//     whose outcome is unknown (the database layer answers 503) resolves on retry: either it
//     committed, and the retry replays, or it did not, and the retry executes — one outcome.
//   - Two phases (`start`, then `complete` in the transaction that makes the effect, or
//     `abandon`), for a handler that calls another service or a provider between them (orders
//     hold stock, payments charge): the claim commits first with a lease (`lease_ms`), so a
//     duplicate meanwhile gets 409. A claim whose holder died (crash, lost COMMIT) is taken over
//     by a retry once its lease has passed; the claim's `resource_id` (the order id, the payment
//     id) survives the takeover, so the re-execution reuses it and the downstream calls keyed by
//     it (a reservation, a Stripe idempotency key) de-duplicate. The lease must outlast the
//     slowest execution: a completion whose claim was taken over throws 409 and rolls back.
// Expired rows are deleted by `sweep` (`schedule_sweep` runs it every minute).
#pragma once

#include "emporium/db/database.hpp"
#include "emporium/error/errors.hpp"
#include "emporium/http/message.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace emporium {
class App;
namespace obs {
class Metrics;
}
}  // namespace emporium

namespace emporium::idempotency {

// Counter of keyed requests by `result`: executed, replayed, in_flight, reused, taken_over.
inline constexpr const char* kIdempotencyTotal = "idempotency_requests_total";
inline constexpr std::size_t kMaxKeyLength = 255;
// Keys deleted per sweep transaction.
inline constexpr int kSweepBatch = 500;

struct Options {
  std::int64_t replay_ttl_ms = 24LL * 3600 * 1000;
  // How long a two-phase claim keeps duplicates out before a retry may take it over; longer than
  // the slowest execution (every call it makes has a deadline).
  std::int64_t lease_ms = 60'000;
};

// One logical request.
struct Key {
  std::string scope;         // "user:<id>", "service:<caller>"
  std::string method;        // "POST"
  std::string route;         // the route template
  std::string key;           // the client's Idempotency-Key
  std::string request_hash;  // SHA-256 of method, path, query and canonical body
};

// The right to execute a key's request once.
struct Claim {
  Key key;
  std::string token;        // this execution's claim; completion checks it is still ours
  std::string resource_id;  // stable across a takeover (see above)
};

struct Begun {
  std::optional<http::Response> replay;  // set: answer this, execute nothing
  Claim claim;                           // otherwise: execute, then complete()
};

// The key store, on the caller's transactions. Clock: milliseconds since the epoch.
class Store {
 public:
  using Clock = std::function<std::int64_t()>;
  explicit Store(Options options = {}, Clock clock = {});

  // Claims `key` (with `proposed_resource_id` unless a claim taken over carries one), or finds
  // the stored answer. Throws 422 (another request under this key) and 409 (claim held).
  Begun begin(db::Tx& tx, const Key& key, std::string_view proposed_resource_id = {}) const;
  // Stores `response` as the key's answer. Throws 409 when the claim is no longer ours.
  void complete(db::Tx& tx, const Claim& claim, const http::Response& response) const;
  // Drops a claim whose execution had no effect, so that a retry executes at once.
  void release(db::Tx& tx, const Claim& claim) const;
  // Deletes up to `batch` keys past their replay window; returns how many.
  std::int64_t sweep(db::Database& db, int batch = kSweepBatch) const;

  const Options& options() const { return options_; }

 private:
  Options options_;
  Clock clock_;
};

// The request's key: nullopt without an `Idempotency-Key` header; 400 naming the header when it
// is empty, longer than 255 characters or not visible ASCII. Scope from the principal (401 when
// there is none: a key is only honoured for an authenticated caller).
std::optional<Key> key_of(const http::Request& request);

// The HTTP side for one service: opted into per handler.
class Idempotency {
 public:
  // `metrics` may be null (tests).
  Idempotency(db::Database& db, obs::Metrics* metrics, Options options = {},
              Store::Clock clock = {});

  // One transaction of `kind`: claim (when the request has a key), `work`, completion. Without
  // a key, `work` runs in a plain transaction. May run `work` again (retryable conflicts), like
  // Database::transact.
  http::Response run(http::Request& request, db::TxKind kind,
                     const std::function<http::Response(db::Tx&)>& work);

  // Two phases. `replay` set: answer it. `claim` unset (and no replay): the request has no key.
  struct Started {
    std::optional<http::Response> replay;
    std::optional<Claim> claim;
  };
  Started start(const http::Request& request, std::string_view proposed_resource_id = {});
  // In the transaction that makes the effect.
  void complete(db::Tx& tx, const Claim& claim, const http::Response& response);
  // After a failure without effect, in its own transaction; never throws (a claim it could not
  // drop frees itself when its lease passes).
  void abandon(const Claim& claim) noexcept;

  // The two phases around a handler's work: claims the key with a fresh resource id from
  // `new_id` (a taken-over claim keeps its own), answers a stored response at once, else runs
  // `work(resource_id, complete)`; `work` calls `complete(tx, response)` in the transaction that
  // makes its effect (nothing is stored without a key). A throw from `work` abandons the claim so
  // that a retry executes again — except db::Unavailable, whose COMMIT may have happened: the
  // claim then stays until its lease passes, and the retry replays or takes over.
  using Complete = std::function<void(db::Tx&, const http::Response&)>;
  http::Response run_two_phase(const http::Request& request,
                               const std::function<std::string()>& new_id,
                               const std::function<http::Response(const std::string& resource_id,
                                                                  const Complete& complete)>& work);

  // Sweeps expired keys every `interval_ms` on the App's background threads.
  void schedule_sweep(App& app, int interval_ms = 60'000);

  const Store& store() const { return store_; }

 private:
  void count(const char* result);
  void count_refusal(const HttpError& e);

  db::Database& db_;
  obs::Metrics* metrics_;
  Store store_;
};

}  // namespace emporium::idempotency
