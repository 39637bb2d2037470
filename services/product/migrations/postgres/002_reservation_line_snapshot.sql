-- Each reservation line keeps the product's name and price (minor units) as they were when its
-- units were held, read by the statement that held them, so a replayed reserve or a commit
-- answers with the price held, not today's (DESIGN §12). The columns are nullable so that an
-- instance still running the previous binary during a rolling upgrade can keep inserting lines
-- (store/sql.hpp kSelectReservationLines falls back to the product's price for those). Lines held
-- before this migration take the product's price now, the nearest thing known.
ALTER TABLE reservation_lines
  ADD COLUMN name TEXT,
  ADD COLUMN price_minor BIGINT CHECK (price_minor >= 0);
UPDATE reservation_lines l
SET name = p.name, price_minor = p.price_minor
FROM products p
WHERE p.id = l.product_id;
