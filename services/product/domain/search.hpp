// Catalog search (`q`, API.md): text is split on ASCII non-alphanumerics, bytes ≥ 0x80 count as
// letters (so UTF-8 words stay whole), ASCII is lower-cased and nothing else is changed — no
// stemming, no Unicode case folding. Both databases index the same normalised `search_text`
// computed here, and both queries are built here from tokens that can hold only [a-z0-9] and
// non-ASCII bytes, so quoting is trivial and no input can break a query:
//   SQLite FTS5 (tokenize='ascii'):   "tok1"* "tok2"*
//   PostgreSQL tsquery (no parsing):  'tok1':* & 'tok2':*
// Every token must match as a word prefix in the name or the description.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::product::domain {

inline constexpr std::size_t kMaxQueryTokens = 10;
// Longer words are cut (at a UTF-8 boundary) in documents and queries alike: a PostgreSQL lexeme
// must stay under 2 KiB, and nobody searches for a 256-byte word.
inline constexpr std::size_t kMaxTokenBytes = 255;

std::vector<std::string> tokenize(std::string_view text);

// The distinct tokens of name and description, space-joined, in order of first appearance.
std::string search_text(std::string_view name, std::string_view description);

// Query strings for a non-empty token list.
std::string fts5_match(const std::vector<std::string>& tokens);
std::string pg_tsquery(const std::vector<std::string>& tokens);

}  // namespace emporium::product::domain
