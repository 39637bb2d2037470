// Routes that issue, rotate and revoke tokens: register, login, refresh, logout, and the JWKS that
// lets other services verify what this one signs.
#pragma once

#include "accounts.hpp"

#include <emporium/app/app.hpp>
#include <emporium/auth/jwt.hpp>

#include <memory>

namespace emporium::user {

void register_auth_handlers(App& app, const std::shared_ptr<Accounts>& accounts,
                            const std::shared_ptr<const auth::JwtSigner>& signer);

}  // namespace emporium::user
