-- Every change of a product row, logged for the product caches of every instance
-- (core db/change_feed.hpp): an instance reads the rows after the last one it saw whenever
-- `PRAGMA data_version` says someone committed, and drops those products from its cache.
-- UPDATE (edits, stock, holds, commits, releases, deducts, soft deletes) and DELETE; an INSERT
-- needs no entry: a new id is in no cache (a 404 is never cached). AUTOINCREMENT: numbers are
-- never reused, so a hole means rows pruned unread. The instances prune it to the newest 100,000.
CREATE TABLE product_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL
);
CREATE TRIGGER products_change_update AFTER UPDATE ON products BEGIN
  INSERT INTO product_changes (key) VALUES (OLD.id);
END;
CREATE TRIGGER products_change_delete AFTER DELETE ON products BEGIN
  INSERT INTO product_changes (key) VALUES (OLD.id);
END;
