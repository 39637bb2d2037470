-- shopping-cart-service schema, SQLite. Timestamps are INTEGER milliseconds since the epoch,
-- computed in C++; prices are INTEGER minor units.
--
-- One cart per user (UNIQUE user_id). Lines are rows, so concurrent adds of different products never
-- overwrite each other. `line_count` is the guard row's counter: a new line is only inserted after
-- `UPDATE carts SET line_count = line_count + 1 … WHERE line_count < 100` changed the row, and the
-- CHECK makes 101 lines impossible whatever the code does. Every write of a cart updates its row
-- (`version`), so writes of one cart serialize on both backends.
CREATE TABLE carts (
  id         TEXT    PRIMARY KEY,
  user_id    TEXT    NOT NULL UNIQUE,
  line_count INTEGER NOT NULL DEFAULT 0 CHECK (line_count >= 0 AND line_count <= 100),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version    INTEGER NOT NULL DEFAULT 0
);

-- `price` and `name` are the product's snapshot from the last add; `position` orders lines by
-- first addition (the cart's version when the line was inserted, unique within a cart).
CREATE TABLE cart_items (
  cart_id    TEXT    NOT NULL,
  product_id TEXT    NOT NULL,
  quantity   INTEGER NOT NULL CHECK (quantity >= 1 AND quantity <= 1000),
  name       TEXT    NOT NULL,
  price      INTEGER NOT NULL CHECK (price >= 0),
  position   INTEGER NOT NULL,
  added_at   INTEGER NOT NULL,
  PRIMARY KEY (cart_id, product_id)
);
