#!/usr/bin/python3
"""A synthetic catalog for the product-service benchmark, written straight into its database.

    bench/seed_catalog.py --database-url URL [--products 100000] [--seed 4] [--psql psql]

URL is product-service's own `DATABASE_URL` (`sqlite:///abs/products.db`, `sqlite:rel.db` or
`postgresql://…`). Start product-service on it once first: its migrations create the schema, and
this script only adds rows. Prints what it seeded (counts, the words the benchmark searches for and
how many products each one matches) as JSON. `bench/run` imports it. Python standard library only.

The rows carry exactly what product-service itself would store for a product created through the
API (`store/product_store.cpp`, `migrations/*/001_init.sql`):

- `id`: 24 hex, the shape of `new_object_id()` (4-byte seconds, 5 bytes fixed per "process", a
  3-byte counter); `created_at` = `updated_at` in ms, increasing with the id; `version` 0, `held` 0,
  `deleted_at` NULL; `images` the compact JSON array nlohmann's `dump()` writes;
- `search_text`: `domain::search_text(name, description)` re-implemented below (split on ASCII
  non-alphanumerics, bytes ≥ 0x80 are word bytes, ASCII lower-cased, words cut at 255 bytes on a
  UTF-8 boundary, distinct words in order of first appearance, space-joined);
- SQLite: the FTS5 table `products_fts` is filled by the schema's own `AFTER INSERT` trigger;
  PostgreSQL: `search_tsv` is a generated column, computed by PostgreSQL from `search_text`.

`bench/run` checks this against the service: it creates one product through the API and compares
the stored `search_text` with `search_text()` here, and after seeding it reads products, listings
and searches back through the API and compares them with what was generated.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_TOKEN_BYTES = 255  # domain::kMaxTokenBytes

# ---- domain/search.cpp, in Python ----------------------------------------------------------------


_WORD = re.compile(rb"[A-Za-z0-9\x80-\xff]+")


def _cut(token: bytes) -> bytes:
    if len(token) > MAX_TOKEN_BYTES:
        cut = MAX_TOKEN_BYTES
        while cut > 0 and (token[cut] & 0xC0) == 0x80:  # back off to the start of a UTF-8 sequence
            cut -= 1
        token = token[:cut]
    return token


def _tokens(data: bytes) -> list[bytes]:
    # bytes.lower() folds A-Z only, as the service does; bytes >= 0x80 stay as they are.
    toks = _WORD.findall(data.lower())
    if any(len(t) > MAX_TOKEN_BYTES for t in toks):
        toks = [c for c in (_cut(t) for t in toks) if c]
    return toks


def tokenize(text: str) -> list[str]:
    return [t.decode("utf-8") for t in _tokens(text.encode("utf-8"))]


def search_text(name: str, description: str) -> str:
    """The distinct words of name, then description, in order of first appearance."""
    return b" ".join(dict.fromkeys(_tokens(f"{name} {description}".encode("utf-8")))).decode("utf-8")


# ---- the catalog ---------------------------------------------------------------------------------

CATEGORIES = ["Automotive", "Baby", "Beauty", "Books", "Clothing", "Electronics", "Furniture",
              "Garden", "Grocery", "Health", "Jewelry", "Kitchen", "Music", "Office", "Outdoors",
              "Pets", "Shoes", "Sports", "Tools", "Toys"]
ADJECTIVES = ["Classic", "Modern", "Compact", "Deluxe", "Rugged", "Slim", "Portable", "Elegant",
              "Sturdy", "Premium", "Basic", "Bold", "Soft", "Bright", "Quiet", "Smart", "Heavy",
              "Light", "Retro", "Sleek", "Handmade", "Folding", "Large", "Mini", "Rustic", "Nordic",
              "Urban", "Royal", "Simple", "Tiny"]
MATERIALS = ["Oak", "Steel", "Cotton", "Leather", "Bamboo", "Ceramic", "Glass", "Copper", "Linen",
             "Walnut", "Aluminium", "Silk", "Stone", "Rubber", "Felt", "Brass", "Maple", "Denim",
             "Velvet", "Granite"]
NOUNS = ["Chair", "Lamp", "Table", "Kettle", "Backpack", "Jacket", "Speaker", "Mug", "Blanket",
         "Clock", "Shelf", "Bottle", "Helmet", "Wallet", "Notebook", "Pillow", "Skillet", "Vase",
         "Headphones", "Sneakers", "Scarf", "Desk", "Planter", "Tent", "Drill", "Puzzle", "Guitar",
         "Watch", "Ring", "Stroller", "Leash", "Brush", "Blender", "Router", "Keyboard", "Sofa",
         "Umbrella", "Candle", "Basket", "Hammock"]
# A few words that exercise the normalisation: UTF-8 letters (kept whole, not case-folded) and
# punctuation inside words (split there).
EXTRAS = ["Crème", "naïve", "Über", "façade", "T-Shirt", "e-mail", "3.5mm", "Jalapeño", "ÉCLAIR",
          "don't", "USB-C", "smörgåsbord", "50%", "A/B"]
# What the benchmark searches for. None of them, nor any other word of the catalog, starts with
# another's letters (the vocabulary below has no c, j, q, w, x, y or z), so each matches exactly the
# products it was put into; generate() checks this.
RARE_WORDS = ["zyphorin", "zyquaral", "zyxtelon", "zymbarik", "zywandel", "zyqueton", "zyccolia",
              "zyjandro", "zyvorick", "zyllwynn"]
RARE_PER_WORD = 50          # products each rare word is put into: 0.05 % of 100,000
COMMON_WORDS = ["wyrecraft", "cozywave", "quixloom"]
COMMON_SHARE = 0.15          # each common word is in ~15 % of the products

_CONSONANTS = "bdfghklmnprstv"
_VOWELS = "aeiou"


@dataclass
class Catalog:
    rows: list[tuple]                     # (id, name, description, price_minor, category, on_hand,
                                          #  sku, images, search_text, created_at_ms)
    category_counts: dict[str, int]
    word_counts: dict[str, int]           # query word -> products matching it
    seed: int
    generated_s: float = 0.0
    inserted_s: float = 0.0
    analyzed_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def product(self, i: int) -> dict:
        r = self.rows[i]
        return {"_id": r[0], "name": r[1], "description": r[2], "price_minor": r[3], "category": r[4],
                "stock": r[5], "sku": r[6], "images": json.loads(r[7]), "created_at_ms": r[9]}

    def summary(self) -> dict:
        return {"products": len(self.rows), "seed": self.seed, "categories": self.category_counts,
                "rare_words": {w: self.word_counts[w] for w in RARE_WORDS},
                "common_words": {w: self.word_counts[w] for w in COMMON_WORDS},
                "generated_s": round(self.generated_s, 2), "inserted_s": round(self.inserted_s, 2),
                "analyzed_s": round(self.analyzed_s, 2)}


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    syllables = [c + v for c in _CONSONANTS for v in _VOWELS]
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < size:
        w = "".join(rng.choice(syllables) for _ in range(rng.choice((2, 2, 3, 3, 4))))
        if rng.random() < 0.3:
            w += rng.choice("nrst")
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def _object_id(seconds: int, process: bytes, counter: int) -> str:
    return (seconds.to_bytes(4, "big") + process + (counter & 0xFFFFFF).to_bytes(3, "big")).hex()


def generate(n: int, seed: int = 4, now_ms: int | None = None) -> Catalog:
    """n products, the same ones for the same (n, seed) except for their timestamps and ids."""
    t0 = time.monotonic()
    rng = random.Random(seed)
    vocab = _vocabulary(rng, 3000)
    cum: list[float] = []
    acc = 0.0
    for rank in range(len(vocab)):   # Zipf-like: a few words everywhere, most of them rare
        acc += 1.0 / (rank + 1)
        cum.append(acc)
    process = bytes(rng.randrange(256) for _ in range(5))
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    first_ms = now_ms - n * 1000 - 60_000

    rare_of: dict[int, list[str]] = {}
    for w in RARE_WORDS:
        for i in rng.sample(range(n), min(RARE_PER_WORD, n)):
            rare_of.setdefault(i, []).append(w)

    rows: list[tuple] = []
    category_counts = {c: 0 for c in CATEGORIES}
    word_counts = {w: 0 for w in RARE_WORDS + COMMON_WORDS}
    for i in range(n):
        created = first_ms + i * 1000 + rng.randrange(1000)
        pid = _object_id(created // 1000, process, i)
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(MATERIALS)} {rng.choice(NOUNS)}"
        if rng.random() < 0.3:
            name += f" {rng.randrange(100, 10000)}"
        words = rng.choices(vocab, cum_weights=cum, k=rng.randrange(12, 41))
        for w in COMMON_WORDS:
            if rng.random() < COMMON_SHARE:
                words.insert(rng.randrange(len(words) + 1), w)
        for w in rare_of.get(i, ()):
            words.insert(rng.randrange(len(words) + 1), w)
        if rng.random() < 0.05:
            words.insert(rng.randrange(len(words) + 1), rng.choice(EXTRAS))
        if len(words) > 8:
            words[len(words) // 2] += ","
        description = " ".join(words)
        description = description[0].upper() + description[1:] + "."
        category = CATEGORIES[rng.randrange(len(CATEGORIES))]
        text = search_text(name, description)
        rows.append((pid, name, description, rng.randrange(99, 100_000), category,
                     rng.randrange(0, 501), f"BN-{i:06d}",
                     json.dumps([f"https://img.example.com/p/{pid}.jpg"], separators=(",", ":")),
                     text, created))
        category_counts[category] += 1
        for tok in text.split(" "):
            if tok in word_counts:
                word_counts[tok] += 1

    # Each query word must match (as a word prefix) only itself, or its count above is wrong.
    all_tokens: set[str] = set()
    for r in rows:
        all_tokens.update(r[8].split(" "))
    for w in word_counts:
        clash = sorted(t for t in all_tokens if t.startswith(w) and t != w)
        if clash:
            raise ValueError(f"query word {w!r} is a prefix of {clash[:5]}")
    cat = Catalog(rows, category_counts, word_counts, seed)
    cat.generated_s = time.monotonic() - t0
    return cat


# ---- writing it ----------------------------------------------------------------------------------

_COLUMNS = ("id, name, description, price_minor, category, on_hand, held, sku, images, search_text,"
            " created_at, updated_at, version")


def sqlite_path(url: str) -> str:
    """The file of a `sqlite:` DATABASE_URL (sqlite:///abs, sqlite://abs or sqlite:rel)."""
    if not url.startswith("sqlite:"):
        raise ValueError(f"not a sqlite URL: {url}")
    rest = url[len("sqlite:"):]
    if rest.startswith("//"):
        rest = rest[2:]
    return rest.split("?", 1)[0]


def seed_sqlite(path: str, catalog: Catalog) -> None:
    t0 = time.monotonic()
    con = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        con.execute("PRAGMA busy_timeout=60000")
        have = con.execute("SELECT COUNT(*) FROM products").fetchone()[0]
        if have:
            raise ValueError(f"{path}: products already holds {have} rows")
        con.execute("BEGIN IMMEDIATE")
        con.executemany(
            f"INSERT INTO products ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, 0)",
            (r + (r[9],) for r in catalog.rows))
        con.execute("COMMIT")
        # Leave no large WAL behind for the service's readers to search through.
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    catalog.inserted_s = time.monotonic() - t0
    catalog.notes.append("SQLite: one transaction of INSERTs (the schema's trigger fills products_fts),"
                         " then `PRAGMA wal_checkpoint(TRUNCATE)`; no ANALYZE (the service never runs one)")


def _copy_field(v) -> str:
    if v is None:
        return r"\N"
    s = str(v)
    return (s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r"))


def seed_postgres(url: str, catalog: Catalog, psql: str = "psql") -> None:
    t0 = time.monotonic()
    r = subprocess.run([psql, url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c",
                        "SELECT COUNT(*) FROM products"], capture_output=True, text=True)
    if r.returncode != 0:
        raise ValueError(f"psql: {r.stderr.strip()}")
    if int(r.stdout.strip() or 0):
        raise ValueError(f"products already holds {r.stdout.strip()} rows")
    lines = []
    for row in catalog.rows:
        vals = row[:6] + (0,) + row[6:] + (row[9], 0)
        lines.append("\t".join(_copy_field(v) for v in vals))
    data = "\n".join(lines) + "\n"
    # Committed synchronously whatever the server's default: VACUUM cannot mark a page all-visible
    # while the commit record of its rows may still be unflushed (synchronous_commit=off).
    r = subprocess.run([psql, url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                        f"COPY products ({_COLUMNS}) FROM STDIN"],
                       input=data, capture_output=True, text=True,
                       env={**os.environ, "PGOPTIONS": "-c synchronous_commit=on"})
    if r.returncode != 0:
        raise ValueError(f"psql COPY: {r.stderr.strip()}")
    catalog.inserted_s = time.monotonic() - t0
    # What autovacuum does to a freshly loaded table soon after (PostgreSQL ≥ 13 vacuums after
    # inserts too): planner statistics, and the visibility map that lets the counts behind
    # X-Total-Count be index-only scans.
    t1 = time.monotonic()
    for _attempt in range(5):
        r = subprocess.run([psql, url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                            "-c", "VACUUM ANALYZE products",
                            "-c", "SELECT relpages, relallvisible FROM pg_class WHERE relname = 'products'"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise ValueError(f"psql VACUUM ANALYZE: {r.stderr.strip()}")
        pages, visible = (int(x) for x in r.stdout.strip().splitlines()[-1].split("|"))
        if visible >= 0.99 * pages:
            break
        time.sleep(0.5)
    else:
        raise ValueError(f"VACUUM left {visible} of {pages} pages all-visible")
    catalog.analyzed_s = time.monotonic() - t1
    catalog.notes.append("PostgreSQL: one `COPY products FROM STDIN` (search_tsv is generated by"
                         " PostgreSQL), then `VACUUM ANALYZE products` (every page all-visible), as"
                         " autovacuum would soon do")


def seed(url: str, catalog: Catalog, psql: str = "psql") -> None:
    scheme = urlsplit(url).scheme
    if scheme == "sqlite" or url.startswith("sqlite:"):
        seed_sqlite(sqlite_path(url), catalog)
    elif scheme in ("postgres", "postgresql"):
        seed_postgres(url, catalog, psql)
    else:
        raise ValueError(f"unsupported DATABASE_URL {url!r}")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--database-url", required=True, help="product-service's DATABASE_URL")
    p.add_argument("--products", type=int, default=100_000, help="how many (default 100000)")
    p.add_argument("--seed", type=int, default=4, help="random seed (default 4)")
    p.add_argument("--psql", default="psql", help="psql binary (PostgreSQL only)")
    args = p.parse_args(argv)
    if args.products < 1:
        p.error("--products must be ≥ 1")
    catalog = generate(args.products, args.seed)
    try:
        seed(args.database_url, catalog, args.psql)
    except (ValueError, sqlite3.Error, OSError) as e:
        print(f"seed_catalog: {e}", file=sys.stderr)
        return 1
    print(json.dumps(catalog.summary(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
