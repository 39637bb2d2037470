// Idempotency keys: the claim/replay rules of idempotency.hpp over the core-owned table
// `emporium_idempotency_keys` (core/migrations/*/002_idempotency_keys.sql).
#include "emporium/idempotency/idempotency.hpp"

#include "emporium/app/app.hpp"
#include "emporium/error/errors.hpp"
#include "emporium/obs/metrics.hpp"
#include "emporium/util/crypto.hpp"
#include "emporium/util/time.hpp"

#include <array>
#include <stdexcept>
#include <utility>

namespace emporium::idempotency {
namespace {

// ---- SQL ----
constexpr const char* kInsertClaim =
    "INSERT INTO emporium_idempotency_keys (scope, method, route, idem_key, request_hash, state, "
    "claim_token, resource_id, lease_until_ms, created_at_ms, expires_at_ms) "
    "VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9, $10) "
    "ON CONFLICT (scope, method, route, idem_key) DO NOTHING RETURNING id";
constexpr const char* kSelectKey =
    "SELECT id, request_hash, state, claim_token, resource_id, lease_until_ms, status, "
    "content_type, headers, body, expires_at_ms FROM emporium_idempotency_keys "
    "WHERE scope = $1 AND method = $2 AND route = $3 AND idem_key = $4";
// A key past its replay window is claimed afresh, as if it had never been used.
constexpr const char* kReclaimExpired =
    "UPDATE emporium_idempotency_keys SET request_hash = $2, state = 'running', claim_token = $3, "
    "resource_id = $4, lease_until_ms = $5, created_at_ms = $6, expires_at_ms = $7, "
    "status = NULL, content_type = NULL, headers = NULL, body = NULL "
    "WHERE id = $1 AND expires_at_ms <= $6";
// A running claim whose lease passed goes to the retry; the resource id stays.
constexpr const char* kTakeOver =
    "UPDATE emporium_idempotency_keys SET claim_token = $3, lease_until_ms = $4 "
    "WHERE id = $1 AND state = 'running' AND claim_token = $2 AND lease_until_ms <= $5";
constexpr const char* kComplete =
    "UPDATE emporium_idempotency_keys SET state = 'done', status = $6, content_type = $7, "
    "headers = $8, body = $9, lease_until_ms = 0, expires_at_ms = $10 "
    "WHERE scope = $1 AND method = $2 AND route = $3 AND idem_key = $4 AND claim_token = $5 "
    "AND state = 'running'";
constexpr const char* kRelease =
    "DELETE FROM emporium_idempotency_keys "
    "WHERE scope = $1 AND method = $2 AND route = $3 AND idem_key = $4 AND claim_token = $5 "
    "AND state = 'running'";
constexpr const char* kSweep =
    "DELETE FROM emporium_idempotency_keys WHERE id IN (SELECT id FROM emporium_idempotency_keys "
    "WHERE expires_at_ms <= $1 ORDER BY expires_at_ms LIMIT $2)";

// Headers of an answer that a replay must repeat (Content-Type is kept on its own).
constexpr std::array<std::string_view, 3> kReplayedHeaders = {"Location", "ETag",
                                                              "Content-Location"};

std::string new_token() {
  return random_token(16);
}

HttpError reused() {
  return unprocessable(
      "This Idempotency-Key was already used for a different request; send a new key for a new "
      "request",
      "idempotency_key_reused");
}

HttpError in_use() {
  auto e =
      conflict("A request with this Idempotency-Key is still being processed; retry in a moment",
               "idempotency_key_in_use");
  e.with_header("Retry-After", "1");
  return e;
}

std::string headers_text(const http::Response& response) {
  Json out = Json::array();
  for (auto name : kReplayedHeaders) {
    if (auto value = response.header(name)) {
      out.push_back(Json::array({std::string(name), std::string(*value)}));
    }
  }
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

http::Response stored_response(const db::Row& row) {
  http::Response response;
  response.status = static_cast<int>(row.integer(6));
  response.content_type = row.text(7);
  const Json headers = Json::parse(row.text(8), nullptr, false);
  if (headers.is_array()) {
    for (const auto& pair : headers) {
      if (pair.is_array() && pair.size() == 2 && pair[0].is_string() && pair[1].is_string()) {
        response.headers.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
      }
    }
  }
  response.body = row.text(9);
  response.set_header("Idempotent-Replayed", "true");
  return response;
}

db::Params key_params(const Key& key) {
  return {key.scope, key.method, key.route, key.key};
}

bool visible_ascii(std::string_view text) {
  for (char c : text) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

// ---- Store ----

Store::Store(Options options, Clock clock)
    : options_(options), clock_(clock ? std::move(clock) : Clock(now_ms)) {}

Begun Store::begin(db::Tx& tx, const Key& key, std::string_view proposed_resource_id) const {
  const std::int64_t now = clock_();
  const std::string token = new_token();
  const std::string resource(proposed_resource_id);
  const std::int64_t lease_until = now + options_.lease_ms;
  const std::int64_t expires = now + options_.replay_ttl_ms;
  Begun out{std::nullopt, Claim{key, token, resource}};

  db::Result found;
  // A key deleted (swept, released) between the INSERT and the SELECT is inserted again: at READ
  // COMMITTED each statement sees the latest state, so a second round settles it.
  for (int round = 0; round < 3 && found.empty(); ++round) {
    if (!tx.query(kInsertClaim, {key.scope, key.method, key.route, key.key, key.request_hash, token,
                                 resource, lease_until, now, expires})
             .empty()) {
      return out;
    }
    // The key exists. On PostgreSQL at REPEATABLE READ a row committed after this transaction's
    // snapshot makes the INSERT fail with 40001 instead, and the whole transaction runs again.
    found = tx.query(kSelectKey, key_params(key));
  }
  if (found.empty()) throw in_use();
  const db::Row& row = found.one();
  const std::int64_t id = row.integer(0);
  if (row.integer(10) <= now) {
    if (tx.exec(kReclaimExpired,
                {id, key.request_hash, token, resource, lease_until, now, expires}) == 1) {
      return out;
    }
    throw in_use();
  }
  if (row.text(1) != key.request_hash) throw reused();
  if (row.text(2) == "done") {
    out.replay = stored_response(row);
    return out;
  }
  if (row.integer(5) > now) throw in_use();
  // The holder of this claim died or outlived its lease: this retry executes, with the same
  // resource id, so what the first execution may have done downstream de-duplicates.
  if (tx.exec(kTakeOver, {id, row.text(3), token, lease_until, now}) != 1) throw in_use();
  out.claim.resource_id = row.text(4);
  return out;
}

void Store::complete(db::Tx& tx, const Claim& claim, const http::Response& response) const {
  auto params = key_params(claim.key);
  params.insert(params.end(),
                {claim.token, std::int64_t{response.status}, response.content_type,
                 headers_text(response), response.body, clock_() + options_.replay_ttl_ms});
  if (tx.exec(kComplete, params) != 1) {
    // Our lease passed and a retry took the claim over: it executes; this execution must not
    // also take effect.
    throw in_use();
  }
}

void Store::release(db::Tx& tx, const Claim& claim) const {
  auto params = key_params(claim.key);
  params.push_back(claim.token);
  tx.exec(kRelease, params);
}

std::int64_t Store::sweep(db::Database& db, int batch) const {
  return db.with_tx(db::TxKind::WriteCommitted, [&](db::Tx& tx) {
    return tx.exec(kSweep, {clock_(), std::int64_t{batch}});
  });
}

// ---- HTTP side ----

std::optional<Key> key_of(const http::Request& request) {
  auto header = request.header("Idempotency-Key");
  if (!header) return std::nullopt;
  if (header->empty() || header->size() > kMaxKeyLength || !visible_ascii(*header)) {
    throw bad_request(
        "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a "
        "good choice)",
        {{"Idempotency-Key", "must be 1 to 255 visible ASCII characters"}});
  }
  const Principal& principal = request.user();  // 401 without one
  Key key;
  key.scope = principal.internal ? "service:" + principal.caller : "user:" + principal.user_id;
  key.method = std::string(http::method_name(request.method));
  key.route = request.route;
  key.key = std::string(*header);
  // The same request: method, path, query and body. A JSON body is compared in canonical form
  // (keys sorted, no whitespace), so re-serialising it differently is still the same request.
  std::string fingerprint = key.method + ' ' + request.path + '?' + request.query_string + '\n';
  if (!request.json().is_null()) {
    fingerprint += request.json().dump(-1, ' ', false, Json::error_handler_t::replace);
  } else {
    fingerprint += request.body;
  }
  key.request_hash = sha256_hex(fingerprint);
  return key;
}

Idempotency::Idempotency(db::Database& db, obs::Metrics* metrics, Options options,
                         Store::Clock clock)
    : db_(db), metrics_(metrics), store_(options, std::move(clock)) {}

void Idempotency::count_refusal(const HttpError& e) {
  if (e.code() == "idempotency_key_reused") count("reused");
  if (e.code() == "idempotency_key_in_use") count("in_flight");
}

void Idempotency::count(const char* result) {
  if (metrics_ != nullptr) {
    metrics_->increment(kIdempotencyTotal, "Requests with an Idempotency-Key by outcome", "result",
                        result);
  }
}

http::Response Idempotency::run(http::Request& request, db::TxKind kind,
                                const std::function<http::Response(db::Tx&)>& work) {
  if (kind != db::TxKind::Write && kind != db::TxKind::WriteCommitted) {
    // A claim must commit with the work: PostgreSQL reads run statement by statement, and a
    // snapshot transaction is read-only.
    throw std::logic_error("Idempotency::run needs a write transaction");
  }
  const auto key = key_of(request);
  if (!key) return db_.with_tx(kind, work);
  bool replayed = false;
  try {
    auto response = db_.with_tx(kind, [&](db::Tx& tx) {
      auto begun = store_.begin(tx, *key);
      replayed = begun.replay.has_value();
      if (replayed) return std::move(*begun.replay);
      auto answer = work(tx);
      store_.complete(tx, begun.claim, answer);
      return answer;
    });
    count(replayed ? "replayed" : "executed");
    return response;
  } catch (const HttpError& e) {
    count_refusal(e);
    throw;
  }
}

Idempotency::Started Idempotency::start(const http::Request& request,
                                        std::string_view proposed_resource_id) {
  Started started;
  const auto key = key_of(request);
  if (!key) return started;
  try {
    auto begun = db_.with_tx(db::TxKind::WriteCommitted, [&](db::Tx& tx) {
      return store_.begin(tx, *key, proposed_resource_id);
    });
    if (begun.replay) {
      count("replayed");
      started.replay = std::move(begun.replay);
    } else {
      if (begun.claim.resource_id != proposed_resource_id) count("taken_over");
      started.claim = std::move(begun.claim);
    }
    return started;
  } catch (const HttpError& e) {
    count_refusal(e);
    throw;
  }
}

void Idempotency::complete(db::Tx& tx, const Claim& claim, const http::Response& response) {
  store_.complete(tx, claim, response);
  count("executed");
}

http::Response Idempotency::run_two_phase(
    const http::Request& request, const std::function<std::string()>& new_id,
    const std::function<http::Response(const std::string&, const Complete&)>& work) {
  auto started = start(request, new_id());
  if (started.replay) return std::move(*started.replay);
  const std::string resource_id = started.claim ? started.claim->resource_id : new_id();
  const Complete complete = [&](db::Tx& tx, const http::Response& response) {
    if (started.claim) this->complete(tx, *started.claim, response);
  };
  try {
    return work(resource_id, complete);
  } catch (const db::Unavailable&) {
    throw;
  } catch (...) {
    if (started.claim) abandon(*started.claim);
    throw;
  }
}

void Idempotency::abandon(const Claim& claim) noexcept {
  try {
    db_.transact(db::TxKind::WriteCommitted, [&](db::Tx& tx) { store_.release(tx, claim); });
  } catch (...) {
    // The claim frees itself when its lease passes.
  }
}

void Idempotency::schedule_sweep(App& app, int interval_ms) {
  app.every("idempotency-sweep", interval_ms, [this] {
    // Batches, so that a large backlog does not hold a long transaction.
    while (store_.sweep(db_, kSweepBatch) == kSweepBatch) {
    }
  });
}

}  // namespace emporium::idempotency
