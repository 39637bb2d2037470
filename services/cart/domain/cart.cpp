#include "domain/cart.hpp"

#include <emporium/money/arithmetic.hpp>

#include <algorithm>
#include <unordered_map>

namespace emporium::cart::domain {
namespace {

PricedCart header_of(const Cart& cart) {
  PricedCart out;
  out.id = cart.id;
  out.user_id = cart.user_id;
  out.updated_at_ms = cart.updated_at_ms;
  out.version = cart.version;
  out.lines.reserve(cart.lines.size());
  return out;
}

PricedLine from_snapshot(const CartLine& line) {
  return PricedLine{line.product_id, line.quantity, line.name, line.price, true};
}

}  // namespace

std::vector<Deduction> merge_deductions(std::vector<Deduction> deductions) {
  std::sort(deductions.begin(), deductions.end(),
            [](const Deduction& a, const Deduction& b) { return a.product_id < b.product_id; });
  std::vector<Deduction> out;
  for (auto& d : deductions) {
    if (!out.empty() && out.back().product_id == d.product_id) {
      out.back().quantity += d.quantity;
    } else {
      out.push_back(std::move(d));
    }
  }
  return out;
}

std::int64_t subtotal(const std::vector<PricedLine>& lines) {
  std::int64_t total = 0;
  for (const auto& line : lines) {
    if (line.available) total = add_money(total, line_total(line.price, line.quantity));
  }
  return total;
}

PricedCart price_cart(const Cart& cart, const std::optional<std::vector<Product>>& current) {
  PricedCart out = header_of(cart);
  if (!current) {
    for (const auto& line : cart.lines) out.lines.push_back(from_snapshot(line));
    out.stale = true;
    out.subtotal = subtotal(out.lines);
    return out;
  }
  std::unordered_map<std::string_view, const Product*> by_id;
  by_id.reserve(current->size());
  for (const auto& product : *current) by_id.emplace(product.id, &product);
  for (const auto& line : cart.lines) {
    PricedLine priced = from_snapshot(line);
    const auto it = by_id.find(line.product_id);
    if (it == by_id.end()) {
      priced.available = false;  // deleted: the snapshot is all we know
    } else {
      priced.name = it->second->name;
      priced.price = it->second->price;
      priced.available = it->second->stock > 0;
    }
    out.lines.push_back(std::move(priced));
  }
  out.subtotal = subtotal(out.lines);
  return out;
}

}  // namespace emporium::cart::domain
