-- The row Database::can_write() rewrites (readiness "database-write"). Existing databases made
-- this table before the core had migrations, hence IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS emporium_health (id INTEGER PRIMARY KEY, checked_at TEXT NOT NULL);
