-- product-service schema, SQLite. Timestamps are INTEGER milliseconds since the epoch, computed in
-- C++. Prices are integer minor units. Stock is `on_hand` (in the warehouse) and `held` (reserved
-- by orders not yet paid); the API's `stock` is on_hand - held. Deleted products keep their row
-- (`deleted_at`) so reservations that name them can still be committed or released.
CREATE TABLE products (
  seq         INTEGER PRIMARY KEY,  -- stable rowid: the FTS5 content rowid
  id          TEXT    NOT NULL UNIQUE,
  name        TEXT    NOT NULL,
  description TEXT    NOT NULL,
  price_minor INTEGER NOT NULL CHECK (price_minor >= 0),
  category    TEXT    NOT NULL,
  on_hand     INTEGER NOT NULL,
  held        INTEGER NOT NULL DEFAULT 0,
  sku         TEXT,
  images      TEXT    NOT NULL DEFAULT '[]',  -- JSON array of URLs
  search_text TEXT    NOT NULL,               -- normalised words (domain/search.hpp)
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  version     INTEGER NOT NULL DEFAULT 0,
  deleted_at  INTEGER,
  CHECK (held >= 0 AND held <= on_hand)
);
-- Listing indexes cover live products only; every list query says `deleted_at IS NULL`.
CREATE INDEX products_created_idx ON products (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX products_price_idx ON products (price_minor, id) WHERE deleted_at IS NULL;
CREATE INDEX products_name_idx ON products (name, id) WHERE deleted_at IS NULL;
CREATE INDEX products_category_created_idx ON products (category, created_at, id)
  WHERE deleted_at IS NULL;
CREATE INDEX products_category_price_idx ON products (category, price_minor, id)
  WHERE deleted_at IS NULL;
-- Narrow and covering for the counts: X-Total-Count of unfiltered and category listings, and
-- GET /categories (measured on 100,000 products, SQLite: 21 ms -> 2 ms for the full count).
CREATE INDEX products_live_category_idx ON products (deleted_at, category);

-- Word-prefix search over `search_text`, which is already split and lower-cased in C++: the ascii
-- tokenizer splits on exactly the same bytes (ASCII non-alphanumerics; bytes >= 0x80 are word
-- characters) and folds nothing beyond ASCII, so results match PostgreSQL's.
CREATE VIRTUAL TABLE products_fts USING fts5(
  search_text, content='products', content_rowid='seq', tokenize='ascii', prefix='1 2 3',
  detail='none'
);
CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
  INSERT INTO products_fts (rowid, search_text) VALUES (new.seq, new.search_text);
END;
CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
  INSERT INTO products_fts (products_fts, rowid, search_text)
  VALUES ('delete', old.seq, old.search_text);
END;
CREATE TRIGGER products_fts_update AFTER UPDATE OF search_text ON products BEGIN
  INSERT INTO products_fts (products_fts, rowid, search_text)
  VALUES ('delete', old.seq, old.search_text);
  INSERT INTO products_fts (rowid, search_text) VALUES (new.seq, new.search_text);
END;

-- A reservation holds stock for one order (its id is the caller's, e.g. the order id). The state
-- moves held -> committed or held -> released exactly once; the UPDATE that moves it names the old
-- state in its WHERE clause. `items_hash` identifies the request, so a retry replays and another
-- request under the same id is refused. `kind` 'deduct' is the seed's one-line, committed-at-once
-- reservation; `stock_after` is its answer.
CREATE TABLE reservations (
  id             TEXT    PRIMARY KEY,
  kind           TEXT    NOT NULL CHECK (kind IN ('reserve', 'deduct')),
  items_hash     TEXT    NOT NULL,
  state          TEXT    NOT NULL CHECK (state IN ('held', 'committed', 'released')),
  release_reason TEXT,
  expires_at     INTEGER NOT NULL,
  stock_after    INTEGER,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
);
CREATE INDEX reservations_expiry_idx ON reservations (expires_at) WHERE state = 'held';
CREATE INDEX reservations_finished_idx ON reservations (updated_at) WHERE state <> 'held';

CREATE TABLE reservation_lines (
  reservation_id TEXT    NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
  product_id     TEXT    NOT NULL,
  quantity       INTEGER NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (reservation_id, product_id)
);
