#include "handlers/dto.hpp"

#include <emporium/util/time.hpp>

namespace emporium::user::dto {
Json user_json(const domain::User& user) {
  Json out = Json::object();
  out["_id"] = user.id;
  out["name"] = user.name;
  out["email"] = user.email;
  out["phone"] = user.phone ? Json(*user.phone) : Json(nullptr);
  out["role"] = user.role;
  out["createdAt"] = iso8601(user.created_at_ms);
  out["updatedAt"] = iso8601(user.updated_at_ms);
  out["__v"] = user.version;
  return out;
}

Json session_json(const Session& session) {
  Json out = token_pair_json(session.tokens);
  out["user"] = user_json(session.user);
  return out;
}

Json token_pair_json(const TokenPair& tokens) {
  return Json{{"token", tokens.access_token}, {"refreshToken", tokens.refresh_token}};
}

std::optional<std::string> required_string(const Json& body, const char* field,
                                           FieldErrors& errors) {
  const auto it = body.find(field);
  if (it == body.end() || it->is_null()) {
    errors.add(field, std::string(field) + " is required");
    return std::nullopt;
  }
  if (!it->is_string()) {
    errors.add(field, std::string(field) + " must be a string");
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::optional<std::string> optional_string(const Json& body, const char* field,
                                           FieldErrors& errors) {
  const auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    errors.add(field, std::string(field) + " must be a string");
    return std::nullopt;
  }
  return it->get<std::string>();
}

}  // namespace emporium::user::dto
