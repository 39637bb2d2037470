// SQLite backend of db::Database (private to core/src/db).
#pragma once

#include "emporium/db/database.hpp"

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>

namespace emporium::db {

// Owning handles of a connection and a statement (this backend and its change feed).
struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Opens `options.pool_size` connections to the file at `path` (WAL, synchronous=NORMAL,
// foreign_keys=ON, busy_timeout). Throws DbError when the file cannot be opened.
std::unique_ptr<Database> open_sqlite(const std::string& path, const Options& options);

// The change feed of a table of the file at `path` (change_feed_sqlite.cpp).
std::unique_ptr<ChangeFeed> open_sqlite_change_feed(const std::string& path, const Options& options,
                                                    const ChangeFeedSpec& spec);

// Rewrites `$N` to `?N` outside string literals, quoted identifiers and comments: SQLite numbers
// `$N` by order of first appearance, so `$2 … $1` would otherwise bind the wrong values.
std::string rewrite_placeholders(std::string_view sql);

}  // namespace emporium::db
