-- shopping-cart-service schema, PostgreSQL. Timestamps are BIGINT milliseconds since the epoch,
-- computed in C++; prices are BIGINT minor units.
--
-- One cart per user (UNIQUE user_id). Lines are rows, so concurrent adds of different products never
-- overwrite each other. `line_count` is the guard row's counter: a new line is only inserted after
-- `UPDATE carts SET line_count = line_count + 1 … WHERE line_count < 100` changed the row, and the
-- CHECK makes 101 lines impossible whatever the code does. Every write of a cart updates its row
-- (`version`), so under REPEATABLE READ two concurrent writes of one cart cannot both commit: the
-- second fails with 40001 and the database layer runs it again on fresh data.
CREATE TABLE carts (
  id         TEXT    PRIMARY KEY,
  user_id    TEXT    NOT NULL UNIQUE,
  line_count INTEGER NOT NULL DEFAULT 0 CHECK (line_count >= 0 AND line_count <= 100),
  created_at BIGINT  NOT NULL,
  updated_at BIGINT  NOT NULL,
  version    BIGINT  NOT NULL DEFAULT 0
);

-- `price` and `name` are the product's snapshot from the last add; `position` orders lines by
-- first addition (the cart's version when the line was inserted, unique within a cart).
CREATE TABLE cart_items (
  cart_id    TEXT    NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
  product_id TEXT    NOT NULL,
  quantity   INTEGER NOT NULL CHECK (quantity >= 1 AND quantity <= 1000),
  name       TEXT    NOT NULL,
  price      BIGINT  NOT NULL CHECK (price >= 0),
  position   BIGINT  NOT NULL,
  added_at   BIGINT  NOT NULL,
  PRIMARY KEY (cart_id, product_id)
);
