// Who is calling: a user from a verified token, or another service with the internal token.
#pragma once

#include <string>
#include <string_view>

namespace emporium {

struct Principal {
  std::string user_id;  // empty for internal calls
  std::string role;     // "customer" or "admin"; "internal" for service calls
  bool internal = false;
  std::string caller;  // internal calls: the calling service ("order", "payment", …)

  bool is_admin() const { return !internal && role == "admin"; }
  // Owner of a `/:userId` resource, or an admin.
  bool owns(std::string_view path_user_id) const {
    return is_admin() || (!internal && user_id == path_user_id);
  }
};

}  // namespace emporium
