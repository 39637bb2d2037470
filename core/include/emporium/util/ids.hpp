// Document ids: 24 lower-case hex characters (4-byte seconds, 5 random bytes, 3-byte counter),
// the shape the seed's clients know from MongoDB ObjectIds.
#pragma once

#include <string>
#include <string_view>

namespace emporium {

std::string new_object_id();
bool is_object_id(std::string_view text);

}  // namespace emporium
