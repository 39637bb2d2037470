// user-service wiring: the one place that knows every handler. Creates the token signer, the
// password hasher and the use cases, trusts the signer's key for incoming tokens, creates the first
// admin, and registers the routes.
#pragma once

#include "config.hpp"

#include <emporium/app/app.hpp>

namespace emporium::user {

// The schema of both backends, generated from migrations/ by cmake/EmbedMigrations.cmake.
db::MigrationSet migrations();

// Call after app.open_database(): the first admin is created here, before the server runs.
void register_user_service(App& app, const UserConfig& config);

}  // namespace emporium::user
