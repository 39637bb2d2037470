#include "catalog.hpp"

#include <emporium/http/etag.hpp>
#include "domain/validation.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/json/json.hpp>
#include <emporium/util/ids.hpp>
#include <emporium/util/time.hpp>

#include <algorithm>
#include <tuple>

namespace emporium::product {
namespace {

using db::TxKind;
using domain::Product;
using domain::Reservation;
using domain::ReservationKind;
using domain::ReservationState;

constexpr const char* kProductNotFound = "Product not found";
constexpr const char* kReservationNotFound = "Reservation not found";
// A reservation id inserted by a concurrent twin request: run again, then it replays.
constexpr int kInsertRaceAttempts = 3;

HttpError short_stock(const std::vector<domain::ShortLine>& lines) {
  Json short_lines = Json::array();
  for (const auto& line : lines) {
    short_lines.push_back({{"productId", line.product_id},
                           {"requested", line.requested},
                           {"available", line.available}});
  }
  HttpError error = conflict("Not enough stock", "out_of_stock");
  error.with_extra("shortLines", std::move(short_lines));
  return error;
}

HttpError reservation_mismatch(std::string_view id) {
  return unprocessable("Reservation " + std::string(id) + " already exists with other lines",
                       "reservation_mismatch");
}

// The fields of `current` with the present ones of `fields` applied.
Product apply(const Product& current, const domain::ProductFields& fields) {
  Product next = current;
  if (fields.name) next.name = *fields.name;
  if (fields.description) next.description = *fields.description;
  if (fields.price_minor) next.price_minor = *fields.price_minor;
  if (fields.category) next.category = *fields.category;
  if (fields.sku_present) next.sku = fields.sku;
  if (fields.images) next.images = *fields.images;
  return next;
}

bool same_document(const Product& a, const Product& b) {
  return a.name == b.name && a.description == b.description && a.price_minor == b.price_minor &&
         a.category == b.category && a.sku == b.sku && a.images == b.images;
}

}  // namespace

Catalog::Catalog(db::Database& db, CatalogOptions options, Clock clock, IdGenerator ids)
    : db_(db),
      options_(std::move(options)),
      clock_(clock ? std::move(clock) : Clock(now_ms)),
      ids_(ids ? std::move(ids) : IdGenerator(new_object_id)) {}

template <class F>
auto Catalog::stock_tx(F&& fn) {
  return db_.with_tx(TxKind::WriteCommitted, [&](db::Tx& tx) { return fn(tx); });
}

// ---- products
// ------------------------------------------------------------------------------------

Product Catalog::create(const domain::ProductFields& fields) {
  Product p;
  p.id = ids_();
  p.name = fields.name.value_or("");
  p.description = fields.description.value_or("");
  p.price_minor = fields.price_minor.value_or(0);
  p.category = fields.category.value_or("");
  p.on_hand = fields.stock.value_or(0);
  p.sku = fields.sku;
  p.images = fields.images.value_or(std::vector<std::string>());
  db_.with_tx(TxKind::Write, [&](db::Tx& tx) {
    p.created_at_ms = p.updated_at_ms = now();
    store::insert_product(tx, p);
  });
  return p;
}

std::optional<Product> Catalog::find(std::string_view id) {
  return db_.with_tx(TxKind::Read, [&](db::Tx& tx) { return store::find_product(tx, id); });
}

Product Catalog::update(std::string_view id, const domain::ProductFields& fields,
                        const Preconditions& pre) {
  // REPEATABLE READ on PostgreSQL: a reservation touching the row between our read and our
  // write makes the write fail with 40001 and the whole function run again.
  return db_.with_tx(TxKind::Write, [&](db::Tx& tx) {
    auto current = store::find_product(tx, id);
    if (!current) throw not_found(kProductNotFound);
    if (pre.if_match &&
        !http::if_match_satisfied(*pre.if_match, http::etag(current->id, current->version))) {
      throw precondition_failed();
    }
    if (pre.expected_version && *pre.expected_version != current->version) {
      throw conflict("The product has changed: __v is " + std::to_string(current->version),
                     "version_conflict");
    }
    if (fields.stock && !pre.if_match && !pre.expected_version) {
      throw precondition_required(
          "Changing stock needs the version it is based on: send __v or If-Match");
    }
    const Product next = apply(*current, fields);
    const bool stock_changes = fields.stock && *fields.stock != current->stock();
    if (same_document(*current, next) && !stock_changes) return *current;
    if (!store::update_product(tx, next, fields.stock, now())) {
      throw conflict("The product has changed, retry", "version_conflict");
    }
    return *store::find_product(tx, id);
  });
}

Product Catalog::adjust_stock(std::string_view id, std::int64_t delta) {
  return stock_tx([&](db::Tx& tx) {
    // The conditional UPDATE decides; reading the row afterwards only explains a refusal (and on
    // PostgreSQL a concurrent change can make the explanation "fine now": try again).
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (store::adjust_stock(tx, id, delta, domain::kMaxStock, now())) {
        return *store::find_product(tx, id);
      }
      const auto current = store::find_product(tx, id);
      if (!current) throw not_found(kProductNotFound);
      switch (domain::check_delta(current->on_hand, current->held, delta, domain::kMaxStock)) {
        case domain::DeltaOutcome::BelowHeld:
          throw conflict(
              "Stock cannot go below the " + std::to_string(current->held) +
                  " units held by reservations (on hand: " + std::to_string(current->on_hand) + ")",
              "stock_below_held");
        case domain::DeltaOutcome::AboveMax:
          throw bad_request(
              "delta: the stock would exceed " + std::to_string(domain::kMaxStock),
              {{"delta", "would take the stock above " + std::to_string(domain::kMaxStock)}});
        case domain::DeltaOutcome::Ok: break;
      }
    }
    throw conflict("The stock is changing too fast, retry", "stock_busy");
  });
}

void Catalog::remove(std::string_view id) {
  db_.with_tx(TxKind::Write, [&](db::Tx& tx) {
    if (!store::soft_delete_product(tx, id, now())) throw not_found(kProductNotFound);
  });
}

store::ProductPage Catalog::list(const domain::ListQuery& query) {
  if (cache_ && query.has_ids && query.tokens.empty()) return list_by_ids(query);
  const db::Backend backend = db_.backend();
  return db_.with_tx(TxKind::Read,
                     [&](db::Tx& tx) { return store::list_products(tx, backend, query); });
}

// ---- product documents
// ---------------------------------------------------------------------------

void Catalog::attach_cache(std::shared_ptr<store::ProductCache> cache,
                           std::shared_ptr<db::ChangeFeed> feed, Render render) {
  cache_ = std::move(cache);
  feed_ = std::move(feed);
  render_ = std::move(render);
}

store::DocumentPtr Catalog::read_document(std::string_view id, bool synced) {
  // The ticket before the read: an invalidation of `id` from here on drops this fill.
  const auto ticket = synced ? cache_->ticket(id) : 0;
  auto product = find(id);
  if (!product) return nullptr;
  auto document = make_document(std::move(*product));
  if (synced) cache_->put(document, ticket);
  return document;
}

store::DocumentPtr Catalog::make_document(Product product) const {
  auto document = std::make_shared<store::ProductDocument>();
  if (render_) document->json = render_(product);
  document->etag = http::etag(product.id, product.version);
  document->product = std::move(product);
  return document;
}

store::DocumentPtr Catalog::document(std::string_view id, bool synced) {
  if (!cache_) return read_document(id, false);
  if (!synced) synced = feed_->sync();
  if (synced) {
    if (auto hit = cache_->find(id)) return hit;
  }
  return read_document(id, synced);
}

void Catalog::sync_async(std::function<void(bool)> done) {
  if (!cache_) {
    done(false);
    return;
  }
  feed_->sync_async(std::move(done));
}

store::DocumentPtr Catalog::cached_document(std::string_view id) {
  return cache_ ? cache_->find(id, false) : nullptr;
}

namespace {

// The listing's filters and order (store/sql.hpp kListWhere*, kListOrder*), in memory.
bool matches(const domain::ListQuery& query, const Product& p) {
  if (query.category && p.category != *query.category) return false;
  if (query.min_price_minor && p.price_minor < *query.min_price_minor) return false;
  if (query.max_price_minor && p.price_minor > *query.max_price_minor) return false;
  if (query.in_stock && (p.stock() > 0) != *query.in_stock) return false;
  return true;
}

bool before(domain::Sort sort, const Product& a, const Product& b) {
  switch (sort) {
    case domain::Sort::CreatedAsc:
      return std::tie(a.created_at_ms, a.id) < std::tie(b.created_at_ms, b.id);
    case domain::Sort::CreatedDesc:
      return std::tie(a.created_at_ms, a.id) > std::tie(b.created_at_ms, b.id);
    case domain::Sort::PriceAsc:
      return std::tie(a.price_minor, a.id) < std::tie(b.price_minor, b.id);
    case domain::Sort::PriceDesc:
      return std::tie(a.price_minor, a.id) > std::tie(b.price_minor, b.id);
    case domain::Sort::NameAsc: return std::tie(a.name, a.id) < std::tie(b.name, b.id);
  }
  return false;
}

}  // namespace

store::ProductPage Catalog::list_by_ids(const domain::ListQuery& query) {
  store::ProductPage page;
  if (query.ids.empty()) return page;
  const bool synced = feed_->sync();
  std::vector<store::DocumentPtr> found;
  found.reserve(query.ids.size());
  std::vector<std::string> missing;
  for (const auto& id : query.ids) {
    auto hit = synced ? cache_->find(id) : nullptr;
    if (hit) {
      found.push_back(std::move(hit));
    } else {
      missing.push_back(id);
    }
  }
  if (!missing.empty()) {
    // One read for every miss, each with its ticket taken before it.
    std::vector<store::ProductCache::Ticket> tickets;
    tickets.reserve(missing.size());
    for (const auto& id : missing) tickets.push_back(synced ? cache_->ticket(id) : 0);
    domain::ListQuery read;
    read.has_ids = true;
    read.ids = missing;
    // One more than asked: a full page would make the listing count its matches too.
    read.limit = static_cast<std::int64_t>(missing.size()) + 1;
    const db::Backend backend = db_.backend();
    auto rows = db_.with_tx(TxKind::Read,
                            [&](db::Tx& tx) { return store::list_products(tx, backend, read); });
    for (auto& product : rows.products) {
      auto document = make_document(std::move(product));
      if (synced) {
        const auto at = std::find(missing.begin(), missing.end(), document->product.id);
        if (at != missing.end()) {
          cache_->put(document, tickets[static_cast<std::size_t>(at - missing.begin())]);
        }
      }
      found.push_back(std::move(document));
    }
  }
  std::vector<const Product*> selected;
  for (const auto& document : found) {
    if (matches(query, document->product)) selected.push_back(&document->product);
  }
  const auto sort = query.effective_sort();
  std::sort(selected.begin(), selected.end(),
            [sort](const Product* a, const Product* b) { return before(sort, *a, *b); });
  page.total = static_cast<std::int64_t>(selected.size());
  const auto first = std::min<std::int64_t>(query.offset(), page.total);
  const auto last = std::min<std::int64_t>(first + query.limit, page.total);
  for (auto i = first; i < last; ++i)
    page.products.push_back(*selected[static_cast<std::size_t>(i)]);
  return page;
}

std::vector<domain::CategoryCount> Catalog::categories() {
  return db_.with_tx(TxKind::Read, [](db::Tx& tx) { return store::list_categories(tx); });
}

// ---- reservations
// --------------------------------------------------------------------------------

Catalog::ReserveOutcome Catalog::reserve(const domain::ReserveRequest& request) {
  const std::string hash = domain::lines_hash(ReservationKind::Reserve, request.lines);
  for (int attempt = 1;; ++attempt) {
    try {
      return stock_tx([&](db::Tx& tx) -> ReserveOutcome {
        if (auto existing = store::find_reservation(tx, request.reservation_id)) {
          if (existing->kind != ReservationKind::Reserve || existing->items_hash != hash) {
            throw reservation_mismatch(request.reservation_id);
          }
          return {std::move(*existing), true};
        }
        const std::int64_t now_ms = now();
        Reservation r;
        r.id = request.reservation_id;
        r.kind = ReservationKind::Reserve;
        r.state = ReservationState::Held;
        r.items_hash = hash;
        r.created_at_ms = now_ms;
        r.expires_at_ms = now_ms + options_.reservation_ttl_ms;
        // The row first: a concurrent request with the same id waits on it, then fails on the
        // primary key and replays this one.
        store::insert_reservation(tx, r, now_ms);
        // The lines first, with the prices read now, so that no insert runs while a hot product's
        // row lock is held: under contention that lock serialises every reservation of the
        // product, and its window stays the hold and the COMMIT.
        std::vector<std::optional<domain::HeldLine>> planned;
        planned.reserve(request.lines.size());
        for (const auto& line : request.lines) {
          planned.push_back(store::insert_reservation_line_from_product(tx, r.id, line.product_id,
                                                                        line.quantity));
        }
        // Lines are sorted by product id: rows are locked in one global order (no deadlocks).
        // Each hold reads the name and price it holds at, under its lock: that is the snapshot.
        std::vector<domain::ShortLine> shorts;
        for (std::size_t i = 0; i < request.lines.size(); ++i) {
          const auto& line = request.lines[i];
          if (shorts.empty() && planned[i]) {
            if (auto held = store::hold_stock(tx, line.product_id, line.quantity)) {
              // A price change between the read and the hold: the line takes the held price.
              if (held->name != planned[i]->name || held->price_minor != planned[i]->price_minor) {
                store::set_reservation_line_snapshot(tx, r.id, *held);
              }
              r.lines.push_back(std::move(*held));
              continue;
            }
          }
          const std::int64_t available = store::available_stock(tx, line.product_id);
          if (!shorts.empty() && available >= line.quantity) continue;
          shorts.push_back({line.product_id, line.quantity, std::max<std::int64_t>(0, available)});
        }
        if (!shorts.empty()) throw short_stock(shorts);  // rolls back every hold and line
        return {std::move(r), false};
      });
    } catch (const db::UniqueViolation&) {
      if (attempt >= kInsertRaceAttempts)
        throw service_unavailable("Reservation is busy, retry", 1);
    }
  }
}

domain::Reservation Catalog::commit(std::string_view reservation_id) {
  bool expired = false;
  auto result = stock_tx([&](db::Tx& tx) -> std::optional<Reservation> {
    if (store::mark_committed(tx, reservation_id, now())) {
      auto r = store::find_reservation(tx, reservation_id);
      for (const auto& line : r->lines) {
        store::commit_held_stock(tx, line.product_id, line.quantity);
      }
      return r;
    }
    auto r = store::find_reservation(tx, reservation_id);
    if (!r) throw not_found(kReservationNotFound);
    switch (r->state) {
      case ReservationState::Committed: return r;
      case ReservationState::Released:
        if (r->release_reason == "expired") {
          throw conflict("Reservation expired", "reservation_expired");
        }
        throw conflict("Reservation was released", "reservation_released");
      case ReservationState::Held: break;
    }
    expired = true;  // held, but past its expiry: the sweeper has not got to it yet
    return std::nullopt;
  });
  if (expired) {
    release_with_reason(reservation_id, "expired");
    throw conflict("Reservation expired", "reservation_expired");
  }
  return std::move(*result);
}

bool Catalog::release(std::string_view reservation_id) {
  return release_with_reason(reservation_id, "released");
}

bool Catalog::release_with_reason(std::string_view reservation_id, std::string_view reason) {
  return stock_tx([&](db::Tx& tx) {
    if (store::mark_released(tx, reservation_id, reason, now())) {
      const auto r = store::find_reservation(tx, reservation_id);
      for (const auto& line : r->lines) {
        store::release_held_stock(tx, line.product_id, line.quantity);
      }
      return true;
    }
    if (!store::find_reservation(tx, reservation_id)) throw not_found(kReservationNotFound);
    return false;
  });
}

Catalog::DeductOutcome Catalog::deduct(std::string_view product_id,
                                       const domain::DeductRequest& request) {
  const std::vector<domain::Line> lines = {{std::string(product_id), request.quantity}};
  const std::string hash = domain::lines_hash(ReservationKind::Deduct, lines);
  for (int attempt = 1;; ++attempt) {
    try {
      return stock_tx([&](db::Tx& tx) -> DeductOutcome {
        if (auto existing = store::find_reservation(tx, request.reservation_id)) {
          if (existing->kind != ReservationKind::Deduct || existing->items_hash != hash) {
            throw reservation_mismatch(request.reservation_id);
          }
          return {std::string(product_id), existing->stock_after.value_or(0)};
        }
        const std::int64_t now_ms = now();
        Reservation r;
        r.id = request.reservation_id;
        r.kind = ReservationKind::Deduct;
        r.state = ReservationState::Committed;
        r.items_hash = hash;
        r.created_at_ms = now_ms;
        r.expires_at_ms = now_ms;
        // The row first, as in reserve(): a concurrent twin waits on it, then replays this one.
        store::insert_reservation(tx, r, now_ms);
        const auto taken = store::deduct_stock(tx, product_id, request.quantity);
        if (!taken) {
          if (!store::find_product(tx, product_id)) throw not_found(kProductNotFound);
          throw short_stock({{std::string(product_id), request.quantity,
                              std::max<std::int64_t>(0, store::available_stock(tx, product_id))}});
        }
        store::insert_reservation_line(tx, r.id, taken->line);
        store::set_stock_after(tx, r.id, taken->stock_after);
        return {std::string(product_id), taken->stock_after};
      });
    } catch (const db::UniqueViolation&) {
      if (attempt >= kInsertRaceAttempts)
        throw service_unavailable("Reservation is busy, retry", 1);
    }
  }
}

Catalog::SweepResult Catalog::sweep() {
  SweepResult result;
  for (std::int64_t batch = 0; batch < options_.sweep_max_batches; ++batch) {
    const std::int64_t now_ms = now();
    const auto ids = db_.with_tx(TxKind::Read, [&](db::Tx& tx) {
      return store::expired_reservation_ids(tx, now_ms, options_.sweep_batch);
    });
    for (const auto& id : ids) {
      try {
        if (release_with_reason(id, "expired")) ++result.released;
      } catch (const HttpError&) {
        // Deleted meanwhile by another instance's purge: nothing left to release.
      }
    }
    if (static_cast<std::int64_t>(ids.size()) < options_.sweep_batch) break;
  }
  const std::int64_t cutoff = now() - options_.retain_finished_ms;
  result.purged = db_.with_tx(TxKind::Write, [&](db::Tx& tx) {
    return store::delete_finished_reservations(tx, cutoff, 1000);
  });
  return result;
}

}  // namespace emporium::product
