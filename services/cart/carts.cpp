#include "carts.hpp"

#include <emporium/error/errors.hpp>
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

}  // namespace

Carts::Carts(db::Database& db, std::shared_ptr<catalog::ProductCatalog> catalog,
             const obs::Logger* log, obs::Metrics* metrics, Clock clock,
             store::CartStore::IdGenerator new_id)
    : store_(db, std::move(new_id)),
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

  const store::AddOutcome outcome = store_.add_line(
      user_id, store::NewLine{product->id, quantity, product->name, product->price}, clock_());
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

domain::PricedCart Carts::get(std::string_view user_id, const catalog::CallContext& context) {
  const auto cart = store_.find_by_user(user_id);
  if (!cart) throw cart_not_found();
  return price(*cart, context);
}

domain::PricedCart Carts::remove(std::string_view user_id, std::string_view product_id,
                                 const catalog::CallContext& context) {
  const store::ChangeOutcome outcome = store_.remove_line(user_id, product_id, clock_());
  if (outcome.result == store::ChangeResult::NoCart) throw cart_not_found();
  return price(*outcome.cart, context);
}

domain::PricedCart Carts::set_quantity(std::string_view user_id, std::string_view product_id,
                                       std::int64_t quantity, const catalog::CallContext& context) {
  const store::ChangeOutcome outcome = store_.set_quantity(user_id, product_id, quantity, clock_());
  if (outcome.result == store::ChangeResult::NoCart) throw cart_not_found();
  if (outcome.result == store::ChangeResult::NoLine) throw line_not_found();
  return price(*outcome.cart, context);
}

void Carts::clear(std::string_view user_id) {
  store_.delete_cart(user_id);
}

void Carts::require_line(std::string_view user_id, std::string_view product_id) {
  const auto cart = store_.find_by_user(user_id);
  if (!cart) throw cart_not_found();
  const bool present = std::any_of(cart->lines.begin(), cart->lines.end(),
                                   [&](const auto& line) { return line.product_id == product_id; });
  if (!present) throw line_not_found();
}

}  // namespace emporium::cart
