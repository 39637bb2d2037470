// PostgreSQL backend of db::Database over libpq (private to core/src/db).
#pragma once

#include "emporium/db/database.hpp"

#include <libpq-fe.h>

#include <memory>
#include <string>

namespace emporium::db {

// An owning session handle (this backend and its change feed).
struct ConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnCloser>;

// Checks the URL and prepares `options.pool_size` connection slots; connections are made on
// first use, so a service can start before its database answers (/readyz reports it).
// Throws std::invalid_argument when libpq cannot parse the URL.
std::unique_ptr<Database> open_postgres(const std::string& url, const Options& options);

// The change feed of a table of the database at `url` (change_feed_postgres.cpp).
std::unique_ptr<ChangeFeed> open_postgres_change_feed(const std::string& url,
                                                      const Options& options,
                                                      const ChangeFeedSpec& spec);

}  // namespace emporium::db
