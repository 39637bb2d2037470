// The wire format of user-service: user documents and token pairs as JSON, and the small readers
// request DTOs share. The stored model (domain/user.hpp) never reaches a client directly; in
// particular the password hash has no JSON mapping at all.
#pragma once

#include "accounts.hpp"
#include "domain/user.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/http/message.hpp>
#include <emporium/json/json.hpp>

#include <optional>
#include <string>

namespace emporium::user::dto {

// {"_id","name","email","phone","role","createdAt","updatedAt","__v"}; phone is null when unset.
Json user_json(const domain::User& user);
// {"token","refreshToken","user"}
Json session_json(const Session& session);
// {"token","refreshToken"}
Json token_pair_json(const TokenPair& tokens);

// A string member; records "<field> is required" when absent (or null) and the type error when it
// is not a string.
std::optional<std::string> required_string(const Json& body, const char* field,
                                           FieldErrors& errors);
// A string member that may be absent (or null); records a type error when it is not a string.
std::optional<std::string> optional_string(const Json& body, const char* field,
                                           FieldErrors& errors);

}  // namespace emporium::user::dto
