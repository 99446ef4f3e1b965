// SemVer versions and ranges from arbitrary text: parsing never crashes,
// and what parses obeys the ordering laws the engine relies on.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "noodle/engine/semver.h"

namespace semver = noodle::semver;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Split at the first newline: a version, then a range (or a second version).
  const size_t nl = text.find('\n');
  const std::string_view first = text.substr(0, nl);
  const std::string_view second = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  auto a = semver::Parse(first);
  auto b = semver::Parse(second);
  if (a.ok()) {
    if (semver::Compare(a.value(), a.value()) != 0) std::abort();  // reflexive
    if (b.ok() && (semver::Compare(a.value(), b.value()) < 0) != (semver::Compare(b.value(), a.value()) > 0)) std::abort();
  }
  auto range = semver::Range::Parse(second);
  if (range.ok() && a.ok()) {
    const bool matches = range.value().Matches(a.value());
    if (matches && !range.value().Satisfiable()) std::abort();  // a match proves it satisfiable
  }
  return 0;
}
