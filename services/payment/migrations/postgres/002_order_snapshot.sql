-- What the payment's events carry (docs/events.md): {"order": the order as its owner sees it,
-- "customer": {"userId","name","email","phone"} or null}, as order-service answered when the
-- payment was made. NULL for payments made before events existed.
ALTER TABLE payments ADD COLUMN order_snapshot TEXT;
