// Strong entity tags derived from stored data (DESIGN §7): "<_id>-<__v>", and the two
// conditional-request checks of RFC 9110 (product and order documents).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace emporium::http {

std::string etag(std::string_view id, std::int64_t version);

// If-Match (strong comparison): true when the header lists `current` or is `*`. A weak tag
// (W/"…") never matches.
bool if_match_satisfied(std::string_view header, std::string_view current);

// If-None-Match (weak comparison): true when the header lists `current` (with or without W/) or
// is `*` — the client's copy is current and a GET answers 304.
bool if_none_match_hits(std::string_view header, std::string_view current);

}  // namespace emporium::http
