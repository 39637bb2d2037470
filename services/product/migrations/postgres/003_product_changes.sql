-- Every change of a product row is announced to the product caches of every instance (core
-- db/change_feed.hpp) with pg_notify('emporium_products', <id>), delivered at commit, in commit
-- order. Row triggers on UPDATE (edits, stock, holds, commits, releases, deducts, soft deletes)
-- and DELETE; an INSERT needs none: a new id is in no cache (a 404 is never cached).
CREATE FUNCTION products_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('emporium_products', OLD.id);
  RETURN NULL;
END
$$;
CREATE TRIGGER products_announce_change AFTER UPDATE OR DELETE ON products
  FOR EACH ROW EXECUTE FUNCTION products_announce_change();
-- A TRUNCATE has no rows to name: '*' empties every cache.
CREATE FUNCTION products_announce_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('emporium_products', '*');
  RETURN NULL;
END
$$;
CREATE TRIGGER products_announce_truncate AFTER TRUNCATE ON products
  FOR EACH STATEMENT EXECUTE FUNCTION products_announce_truncate();
