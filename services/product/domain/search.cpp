#include "domain/search.hpp"

#include <unordered_set>

namespace emporium::product::domain {
namespace {

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

void push_token(std::vector<std::string>& out, std::string token) {
  if (token.size() > kMaxTokenBytes) {
    std::size_t cut = kMaxTokenBytes;
    // Back off to the start of a UTF-8 sequence so the cut token stays valid UTF-8.
    while (cut > 0 && (static_cast<unsigned char>(token[cut]) & 0xC0) == 0x80) --cut;
    token.resize(cut);
  }
  if (!token.empty()) out.push_back(std::move(token));
}

}  // namespace

std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_word_byte(c)) {
      current.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : ch);
    } else if (!current.empty()) {
      push_token(out, std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) push_token(out, std::move(current));
  return out;
}

std::string search_text(std::string_view name, std::string_view description) {
  std::unordered_set<std::string> seen;
  std::string out;
  for (std::string_view part : {name, description}) {
    for (auto& token : tokenize(part)) {
      if (!seen.insert(token).second) continue;
      if (!out.empty()) out.push_back(' ');
      out += token;
    }
  }
  return out;
}

std::string fts5_match(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& token : tokens) {
    if (!out.empty()) out.push_back(' ');
    out += '"' + token + "\"*";
  }
  return out;
}

std::string pg_tsquery(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& token : tokens) {
    if (!out.empty()) out += " & ";
    out += '\'' + token + "':*";
  }
  return out;
}

}  // namespace emporium::product::domain
