// The shopping-cart use cases: add (asks the catalog, then the store), read, remove, update,
// deduct, clear. Each opens the one database transaction its store call runs in (the kind the
// store states: READ COMMITTED for add), so the store never opens one itself. Every cart they
// answer with is priced the same way: current prices and availability from one catalog call for
// all its lines, or, when product-service cannot answer, the stored prices and `stale`
// (domain::price_cart). Failures are thrown as typed HttpErrors where the fact is known; handlers
// only translate JSON to and from these calls.
#pragma once

#include "catalog/product_catalog.hpp"
#include "domain/cart.hpp"
#include "store/cart_store.hpp"

#include <emporium/db/database.hpp>
#include <emporium/obs/log.hpp>
#include <emporium/obs/metrics.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::cart {

// Counter of catalog calls that could not be answered, labelled by `operation` (`add`, `price`).
inline constexpr const char* kCatalogUnavailableTotal = "cart_product_service_unavailable_total";

class Carts {
 public:
  using Clock = std::function<std::int64_t()>;
  using IdGenerator = std::function<std::string()>;

  // `log` and `metrics` may be null (tests); `clock` defaults to now_ms.
  Carts(db::Database& db, std::shared_ptr<catalog::ProductCatalog> catalog,
        const obs::Logger* log = nullptr, obs::Metrics* metrics = nullptr, Clock clock = {},
        IdGenerator new_id = {});

  // Adds `quantity` (1..1000) units of the product to the user's cart, creating the cart if needed;
  // the line keeps the product's current name and price. 404 `Product not found`; 400 when the
  // line would exceed 1000 units; 409 when a 101st line would be needed; 503 when product-service
  // cannot answer the lookup.
  domain::PricedCart add(std::string_view user_id, const std::string& product_id,
                         std::int64_t quantity, const catalog::CallContext& context);

  // 404 `Cart not found`.
  domain::PricedCart get(std::string_view user_id, const catalog::CallContext& context);

  // Removes the product's line (absent: the cart unchanged). 404 `Cart not found`.
  domain::PricedCart remove(std::string_view user_id, std::string_view product_id,
                            const catalog::CallContext& context);

  // Sets the line's quantity (0..1000; 0 removes). 404 `Cart not found` / `Item not found in cart`.
  domain::PricedCart set_quantity(std::string_view user_id, std::string_view product_id,
                                  std::int64_t quantity, const catalog::CallContext& context);

  // Takes the ordered quantities off the user's cart in one transaction (`items` merged, see
  // domain::merge_deductions): a line reaching 0 or below disappears, a product the cart does
  // not hold is ignored, units added meanwhile stay. 404 `Cart not found`.
  domain::PricedCart deduct(std::string_view user_id, const std::vector<domain::Deduction>& items,
                            const std::optional<std::string>& order_id,
                            const catalog::CallContext& context);

  // 404 `Cart not found` unless the user has a cart: lets a handler answer 404 before 400.
  void require_cart(std::string_view user_id);

  // Deletes the user's cart, if any.
  void clear(std::string_view user_id);

  // 404 `Cart not found` / `Item not found in cart` unless the cart has the line: lets a handler
  // answer 404 before 400 (DESIGN §4 check order).
  void require_line(std::string_view user_id, std::string_view product_id);

 private:
  // Prices `cart` with one catalog call; `fresh`, a product looked up in this request, is not
  // asked for again.
  domain::PricedCart price(const domain::Cart& cart, const catalog::CallContext& context,
                           const domain::Product* fresh = nullptr);
  void count_unavailable(const char* operation);
  // A line change (store call, given the transaction and the time) in a db::TxKind::Write
  // transaction, answered priced; 404 `Cart not found` / `Item not found in cart`.
  using Change = std::function<store::ChangeOutcome(db::Tx&, std::int64_t)>;
  domain::PricedCart change(const Change& fn, const catalog::CallContext& context);
  std::optional<domain::Cart> find(std::string_view user_id);

  db::Database& db_;
  IdGenerator new_id_;
  std::shared_ptr<catalog::ProductCatalog> catalog_;
  const obs::Logger* log_;
  obs::Metrics* metrics_;
  Clock clock_;
};

}  // namespace emporium::cart
