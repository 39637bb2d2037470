#include "user_service.hpp"

#include "accounts.hpp"
#include "handlers/auth_handlers.hpp"
#include "handlers/user_handlers.hpp"

#include <emporium/auth/jwt.hpp>
#include <emporium/auth/password.hpp>

#include <exception>
#include <memory>

namespace emporium::user {
namespace {

constexpr int kSweepIntervalMs = 60'000;

// Everything the handlers share, owned together and kept alive by the routes that capture it.
struct Components {
  Components(App& app, const UserConfig& config)
      : signer(config.jwt_private_key_pem, config.common.jwt_kid, config.common.jwt_issuer,
               config.access_token_ttl_s),
        hasher(config.argon2, config.argon2_max_concurrent, config.argon2_max_waiting),
        accounts(app.db(), hasher, signer, AccountPolicy::from(config), &app.log()),
        events(app, config.events) {
    accounts.use_events(&events);
  }

  auth::JwtSigner signer;
  auth::PasswordHasher hasher;
  Accounts accounts;
  events::Events events;  // the outbox's relay; user-service consumes nothing
};

}  // namespace

void register_user_service(App& app, const UserConfig& config) {
  auto components = std::make_shared<Components>(app, config);
  // Our own tokens verify with the key we sign with; every instance loads the same key file.
  app.verifier().add_public_key(components->signer.public_pem(), components->signer.kid());

  if (config.first_admin) components->accounts.ensure_first_admin(*config.first_admin);

  std::shared_ptr<Accounts> accounts(components, &components->accounts);
  std::shared_ptr<const auth::JwtSigner> signer(components, &components->signer);
  register_auth_handlers(app, accounts, signer);
  register_user_handlers(app, accounts);

  // Housekeeping that must not delay or stop start-up.
  app.on_start([accounts, &log = app.log()] {
    try {
      accounts->sweep();
    } catch (const std::exception& e) {
      log.warn("sweep of expired tokens failed", {{"error", e.what()}});
    }
  });
  // And while running: sealed successor pairs must not outlive their retry grace by much, and
  // expired tokens and stale counters should not pile up. Exceptions are logged by the App.
  app.every("account-sweep", kSweepIntervalMs, [accounts] { accounts->sweep(); });
  // Components live as long as the routes that capture them, i.e. past app.run().
  components->events.attach(app);
}

}  // namespace emporium::user
