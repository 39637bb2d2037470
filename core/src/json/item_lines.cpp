#include "emporium/json/item_lines.hpp"

#include "emporium/util/ids.hpp"

#include <algorithm>
#include <utility>

namespace emporium {
namespace {

// One element of `items`, its problems recorded under `field` (`items[2]`) and its members.
std::optional<ItemLine> read_line(const Json& item, const std::string& field,
                                  const ItemLineLimits& limits, FieldErrors& errors) {
  if (!item.is_object()) {
    errors.add(field, "must be an object with productId and quantity");
    return std::nullopt;
  }
  std::optional<std::string> product_id;
  const auto pid = item.find("productId");
  if (pid == item.end() || pid->is_null()) {
    errors.add(field + ".productId", "productId is required");
  } else if (!pid->is_string() || !is_object_id(pid->get_ref<const std::string&>())) {
    errors.add(field + ".productId", "productId must be a 24-character hexadecimal id");
  } else {
    product_id = pid->get<std::string>();
  }
  FieldErrors quantity_errors;  // read_integer names the bare member; re-filed under `field`
  const auto quantity = read_integer(item, "quantity", quantity_errors, 1, limits.max_quantity);
  if (!quantity && quantity_errors.empty()) quantity_errors.add("quantity", "quantity is required");
  for (const auto& e : quantity_errors.list()) errors.add(field + ".quantity", e.message);
  if (!product_id || !quantity) return std::nullopt;
  return ItemLine{std::move(*product_id), *quantity};
}

}  // namespace

std::vector<ItemLine> merge_item_lines(std::vector<ItemLine> lines) {
  std::sort(lines.begin(), lines.end(),
            [](const ItemLine& a, const ItemLine& b) { return a.product_id < b.product_id; });
  std::vector<ItemLine> out;
  out.reserve(lines.size());
  for (auto& line : lines) {
    if (!out.empty() && out.back().product_id == line.product_id) {
      out.back().quantity += line.quantity;  // ≤ 100 × max_quantity: no overflow
    } else {
      out.push_back(std::move(line));
    }
  }
  return out;
}

std::optional<std::vector<ItemLine>> read_item_lines(const Json& body, FieldErrors& errors,
                                                     const ItemLineLimits& limits) {
  const auto items = body.find("items");
  if (items == body.end() || items->is_null()) {
    errors.add("items", "items is required");
    return std::nullopt;
  }
  if (!items->is_array() || items->empty() || items->size() > limits.max_lines) {
    errors.add("items", "items must be an array of 1 to " + std::to_string(limits.max_lines) +
                            " lines of {productId, quantity}");
    return std::nullopt;
  }
  std::vector<ItemLine> lines;
  lines.reserve(items->size());
  bool bad = false;
  for (std::size_t i = 0; i < items->size(); ++i) {
    auto line = read_line((*items)[i], "items[" + std::to_string(i) + "]", limits, errors);
    if (line) {
      lines.push_back(std::move(*line));
    } else {
      bad = true;
    }
  }
  if (bad) return std::nullopt;
  auto merged = merge_item_lines(std::move(lines));
  if (limits.cap_merged) {
    for (const auto& line : merged) {
      if (line.quantity > limits.max_quantity) {
        errors.add("items", "the lines of product " + line.product_id + " add up to " +
                                std::to_string(line.quantity) + " units; at most " +
                                std::to_string(limits.max_quantity) + " per product");
        bad = true;
      }
    }
  }
  if (bad) return std::nullopt;
  return merged;
}

}  // namespace emporium
