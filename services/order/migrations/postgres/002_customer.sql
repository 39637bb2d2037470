-- The customer's contact as user-service had it when the order was placed (JSON
-- {"userId","name","email","phone"}; NULL when user-service could not be asked). Every event of
-- the order carries it, so notification-service never calls back (DESIGN §12, docs/events.md).
ALTER TABLE orders ADD COLUMN customer TEXT;
