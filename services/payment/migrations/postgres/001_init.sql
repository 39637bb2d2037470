-- payment-service schema, PostgreSQL. Timestamps are BIGINT milliseconds since the epoch, computed
-- in C++; amounts are BIGINT minor units of the store currency.
--
-- A payment is one attempt to charge an order (one Stripe PaymentIntent). At most one open
-- attempt per order (processing or requires_action) and at most one success: two requests for
-- one order, keyed or not, can never both reach the provider as new charges.
CREATE TABLE payments (
  id                  TEXT    PRIMARY KEY,
  order_id            TEXT    NOT NULL,
  user_id             TEXT    NOT NULL,
  amount              BIGINT  NOT NULL CHECK (amount > 0),
  currency            TEXT    NOT NULL,
  status              TEXT    NOT NULL CHECK (status IN ('processing', 'requires_action',
                                'succeeded', 'failed', 'refunded')),
  payment_method      TEXT    NOT NULL,
  provider_payment_id TEXT    UNIQUE,
  client_secret       TEXT,
  failure_code        TEXT,
  failure_reason      TEXT,
  refunded            BIGINT  NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
  order_settled       INTEGER NOT NULL DEFAULT 0,
  paid_at             BIGINT,
  created_at          BIGINT  NOT NULL,
  updated_at          BIGINT  NOT NULL,
  version             BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX payments_by_order ON payments (order_id, created_at, id);
CREATE UNIQUE INDEX payments_one_open_per_order ON payments (order_id)
  WHERE status IN ('processing', 'requires_action');
CREATE UNIQUE INDEX payments_one_success_per_order ON payments (order_id)
  WHERE status IN ('succeeded', 'refunded');

-- Refunds of a payment; `payments.refunded` is their sum (pending ones included, so two
-- concurrent refunds can never exceed the charge together).
CREATE TABLE refunds (
  id                 TEXT    PRIMARY KEY,
  payment_id         TEXT    NOT NULL REFERENCES payments (id),
  amount             BIGINT  NOT NULL CHECK (amount > 0),
  status             TEXT    NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  provider_refund_id TEXT,
  reason             TEXT,
  created_at         BIGINT  NOT NULL,
  updated_at         BIGINT  NOT NULL
);
CREATE INDEX refunds_by_payment ON refunds (payment_id, created_at, id);

-- Stripe event ids already handled: a redelivered event changes nothing.
CREATE TABLE webhook_events (
  id          TEXT   PRIMARY KEY,
  type        TEXT   NOT NULL,
  received_at BIGINT NOT NULL
);
