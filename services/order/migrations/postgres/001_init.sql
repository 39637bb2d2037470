-- order-service schema, PostgreSQL. Timestamps are BIGINT milliseconds since the epoch, computed in
-- C++; money is BIGINT minor units of the store currency.
--
-- An order's id is also its stock reservation's id in product-service (DESIGN §12). Every change
-- of an order updates its row (`version`), so under REPEATABLE READ two concurrent changes of one
-- order cannot both commit: the second fails with 40001 and the database layer runs it again on
-- fresh data, where the transition table decides anew.
CREATE TABLE orders (
  id                     TEXT    PRIMARY KEY,
  user_id                TEXT    NOT NULL,
  status                 TEXT    NOT NULL CHECK (status IN ('Pending', 'Paid', 'Shipped',
                                   'Delivered', 'Cancelled', 'PaymentFailed', 'Expired')),
  total                  BIGINT  NOT NULL CHECK (total >= 0),
  currency               TEXT    NOT NULL,
  shipping_address       TEXT,
  from_cart              INTEGER NOT NULL DEFAULT 0,
  expires_at             BIGINT  NOT NULL,
  payment_lease_id       TEXT,
  payment_lease_until    BIGINT  NOT NULL DEFAULT 0,
  paid_payment_id        TEXT,
  failed_payment_id      TEXT,
  failure_reason         TEXT,
  created_at             BIGINT  NOT NULL,
  updated_at             BIGINT  NOT NULL,
  version                BIGINT  NOT NULL DEFAULT 0
);
-- A customer's orders newest first; the admin list by status or by user.
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_by_status ON orders (status, created_at DESC, id DESC);
CREATE INDEX orders_by_created ON orders (created_at DESC, id DESC);

-- The lines as held: name and price are the reservation's snapshot (the price charged).
CREATE TABLE order_items (
  order_id   TEXT    NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  position   INTEGER NOT NULL,
  product_id TEXT    NOT NULL,
  name       TEXT    NOT NULL,
  price      BIGINT  NOT NULL CHECK (price >= 0),
  quantity   INTEGER NOT NULL CHECK (quantity >= 1 AND quantity <= 1000),
  PRIMARY KEY (order_id, position)
);

-- Every status an order took, in order (`history`).
CREATE TABLE order_history (
  order_id TEXT    NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  seq      INTEGER NOT NULL,
  status   TEXT    NOT NULL,
  at       BIGINT  NOT NULL,
  PRIMARY KEY (order_id, seq)
);
