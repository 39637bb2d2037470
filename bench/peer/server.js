'use strict';
// bench/run's reference for issue 12: the product read as the seed's Express + node-postgres stack
// would serve it. One process (no cluster), one pg.Pool, a named (prepared once per connection)
// parameterized statement, keep-alive on. It reads product-service's own PostgreSQL table (the
// bench points DATABASE_URL at the database product-service migrated and the catalog was seeded
// into) and answers the same JSON document as product-service (services/product/handlers/dto.cpp),
// with its ETag, and 404 for an unknown, deleted or malformed id.
//
//   PORT=8080 DATABASE_URL=postgresql://… [DB_POOL_SIZE=8] [CURRENCY=usd] [HOST=127.0.0.1] node server.js

const express = require('express');
const pg = require('pg');

// BIGINT (int8) columns arrive as strings by default; every one of ours fits a double exactly.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => parseInt(v, 10));

const port = Number(process.env.PORT || 8080);
const host = process.env.HOST || '127.0.0.1';
const currency = (process.env.CURRENCY || 'usd').toLowerCase();
// The zero-decimal currencies of core/src/money/currency.cpp (kZeroDecimal); the rest have two.
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'isk', 'jpy', 'kmf', 'krw', 'pyg', 'rwf',
  'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);
const scale = ZERO_DECIMAL.has(currency) ? 1 : 100;

const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DB_POOL_SIZE || 8),
});

// product-service's kSelectProduct (services/product/store/sql.hpp), as a named statement.
const selectProduct = {
  name: 'select-product',
  text: `SELECT id, name, description, price_minor, category, on_hand, held, sku, images, created_at,
                updated_at, version
         FROM products WHERE id = $1 AND deleted_at IS NULL`,
};

const OBJECT_ID = /^[0-9a-f]{24}$/;

function productJson(row) {
  return {
    _id: row.id,
    name: row.name,
    description: row.description,
    price: row.price_minor / scale,  // 1999 -> 19.99, 2000 -> 20, as price_json prints them
    currency,
    category: row.category,
    stock: row.on_hand - row.held,
    sku: row.sku,
    images: JSON.parse(row.images),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
    __v: row.version,
  };
}

const app = express();

app.get('/api/products/:id', async (req, res, next) => {
  const { id } = req.params;
  if (!OBJECT_ID.test(id)) return res.status(404).json({ msg: 'Product not found' });
  try {
    const { rows } = await pool.query({ ...selectProduct, values: [id] });
    if (rows.length === 0) return res.status(404).json({ msg: 'Product not found' });
    const row = rows[0];
    // Our own strong ETag, as product-service's ("<id>-<version>"); Express keeps a set ETag and
    // answers a matching If-None-Match with 304 itself.
    res.set('ETag', `"${row.id}-${row.version}"`);
    return res.json(productJson(row));
  } catch (err) {
    return next(err);
  }
});

app.use((req, res) => res.status(404).json({ msg: 'Not found' }));

app.use((err, req, res, _next) => {
  console.error(err);
  res.status(500).json({ msg: 'Internal server error' });
});

const server = app.listen(port, host, () => {
  console.log(`peer listening on ${host}:${port}`);
});
// Keep-alive is Node's default; keep idle connections longer than a client's pause.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

function shutdown() {
  server.close(() => {
    pool.end().then(() => process.exit(0), () => process.exit(1));
  });
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5_000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
