// Routes about user documents: the caller's own (`/me`) and the admin views (list, get, role).
#pragma once

#include "accounts.hpp"

#include <emporium/app/app.hpp>

#include <memory>

namespace emporium::user {

void register_user_handlers(App& app, const std::shared_ptr<Accounts>& accounts);

}  // namespace emporium::user
