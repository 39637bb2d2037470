#include "carts.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/util/ids.hpp>
#include <emporium/util/time.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace emporium::cart {
namespace {

HttpError cart_not_found() {
  return not_found("Cart not found");
}
HttpError line_not_found() {
  return not_found("Item not found in cart");
}

using db::Tx;
using db::TxKind;

}  // namespace

Carts::Carts(db::Database& db, std::shared_ptr<catalog::ProductCatalog> catalog,
             const obs::Logger* log, obs::Metrics* metrics, Clock clock, IdGenerator new_id)
    : db_(db),
      new_id_(new_id ? std::move(new_id) : IdGenerator(&new_object_id)),
      catalog_(std::move(catalog)),
      log_(log),
      metrics_(metrics),
      clock_(clock ? std::move(clock) : Clock(&now_ms)) {}

void Carts::count_unavailable(const char* operation) {
  if (metrics_ != nullptr) {
    metrics_->increment(kCatalogUnavailableTotal, "Catalog calls product-service could not answer",
                        "operation", operation);
  }
}

domain::PricedCart Carts::add(std::string_view user_id, const std::string& product_id,
                              std::int64_t quantity, const catalog::CallContext& context) {
  std::optional<domain::Product> product;
  try {
    product = catalog_->find(product_id, context);
  } catch (const HttpError& e) {
    if (e.status() == 503) count_unavailable("add");
    throw;
  }
  if (!product) throw not_found("Product not found");

  const store::NewLine line{product->id, quantity, product->name, product->price};
  const std::string new_cart_id = new_id_();  // outside the transaction: a retry reuses it
  const std::int64_t now = clock_();
  const store::AddOutcome outcome = db_.with_tx(TxKind::WriteCommitted, [&](Tx& tx) {
    return store::add_line(tx, user_id, line, new_cart_id, now);
  });
  switch (outcome.result) {
    case store::AddResult::Added: break;
    case store::AddResult::QuantityCapped: {
      const std::string message =
          "the line already holds " + std::to_string(outcome.existing_quantity) +
          "; a line holds at most " + std::to_string(domain::kMaxLineQuantity) + " units";
      throw bad_request("quantity: " + message, {{"quantity", message}});
    }
    case store::AddResult::TooManyLines:
      throw conflict("A cart holds at most " + std::to_string(domain::kMaxLines) + " lines",
                     "cart_full");
  }
  return price(outcome.cart, context, &*product);
}

domain::PricedCart Carts::price(const domain::Cart& cart, const catalog::CallContext& context,
                                const domain::Product* fresh) {
  std::vector<std::string> ids;
  ids.reserve(cart.lines.size());
  for (const auto& line : cart.lines) {
    if (fresh == nullptr || line.product_id != fresh->id) ids.push_back(line.product_id);
  }
  // An empty cart, or one whose only line is the product just looked up, needs no call.
  auto current = ids.empty() ? std::optional<std::vector<domain::Product>>(std::in_place)
                             : catalog_->find_many(ids, context);
  if (!current) {
    count_unavailable("price");
    if (log_ != nullptr) {
      log_->info("cart priced from stored prices",
                 {{"requestId", context.request_id}, {"cartId", cart.id}});
    }
  } else if (fresh != nullptr) {
    current->push_back(*fresh);
  }
  return domain::price_cart(cart, current);
}

std::optional<domain::Cart> Carts::find(std::string_view user_id) {
  return db_.with_tx(TxKind::Read, [&](Tx& tx) { return store::find_by_user(tx, user_id); });
}

domain::PricedCart Carts::get(std::string_view user_id, const catalog::CallContext& context) {
  const auto cart = find(user_id);
  if (!cart) throw cart_not_found();
  return price(*cart, context);
}

domain::PricedCart Carts::change(const Change& fn, const catalog::CallContext& context) {
  const std::int64_t now = clock_();
  const store::ChangeOutcome outcome =
      db_.with_tx(TxKind::Write, [&](Tx& tx) { return fn(tx, now); });
  if (outcome.result == store::ChangeResult::NoCart) throw cart_not_found();
  if (outcome.result == store::ChangeResult::NoLine) throw line_not_found();
  return price(*outcome.cart, context);
}

domain::PricedCart Carts::remove(std::string_view user_id, std::string_view product_id,
                                 const catalog::CallContext& context) {
  return change(
      [&](Tx& tx, std::int64_t now) { return store::remove_line(tx, user_id, product_id, now); },
      context);
}

domain::PricedCart Carts::set_quantity(std::string_view user_id, std::string_view product_id,
                                       std::int64_t quantity, const catalog::CallContext& context) {
  return change(
      [&](Tx& tx, std::int64_t now) {
        return store::set_quantity(tx, user_id, product_id, quantity, now);
      },
      context);
}

domain::PricedCart Carts::deduct(std::string_view user_id,
                                 const std::vector<domain::Deduction>& items,
                                 const std::optional<std::string>& order_id,
                                 const catalog::CallContext& context) {
  return change(
      [&](Tx& tx, std::int64_t now) {
        return store::deduct_lines(tx, user_id, items, now, order_id);
      },
      context);
}

void Carts::clear(std::string_view user_id) {
  db_.with_tx(TxKind::Write, [&](Tx& tx) { store::delete_cart(tx, user_id); });
}

void Carts::require_cart(std::string_view user_id) {
  if (!find(user_id)) throw cart_not_found();
}

void Carts::require_line(std::string_view user_id, std::string_view product_id) {
  const auto cart = find(user_id);
  if (!cart) throw cart_not_found();
  const bool present = std::any_of(cart->lines.begin(), cart->lines.end(),
                                   [&](const auto& line) { return line.product_id == product_id; });
  if (!present) throw line_not_found();
}

}  // namespace emporium::cart
