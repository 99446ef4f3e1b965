// Enum values by the names users type: the schema's spelling, any case.
#pragma once

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>

namespace noodle::tools {

inline bool SameIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The value among `values` (but `skip`) whose name `text` spells, ignoring
// case; when none, nullopt and *valid holds every name, joined with ", ".
template <typename E, typename Values>
std::optional<E> EnumNamed(std::string_view text, const Values& values, const char* (*name)(E), std::string* valid,
                           std::optional<E> skip = std::nullopt) {
  valid->clear();
  for (E e : values) {
    if (skip && e == *skip) continue;
    if (SameIgnoringCase(text, name(e))) return e;
    *valid += (valid->empty() ? "" : ", ") + std::string(name(e));
  }
  return std::nullopt;
}

}  // namespace noodle::tools
