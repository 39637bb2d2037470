-- The orders whose quantities were taken off a user's cart (POST /api/cart/:userId/remove-ordered
-- with `orderId`): a repeat of one order's removal (a retried call, a re-run queue item) finds its
-- row and subtracts nothing a second time, so units the customer added meanwhile stay.
CREATE TABLE cart_removals (
  user_id TEXT NOT NULL,
  order_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, order_id)
);
