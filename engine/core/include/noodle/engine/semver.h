// SemVer 2.0.0 versions and ranges. Pure: no I/O, no allocation beyond the
// values themselves. Thread-safe (no shared state).
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "noodle/status.h"

namespace noodle::semver {

struct Version {
  uint64_t major = 0;
  uint64_t minor = 0;
  uint64_t patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers, empty for a release
  std::vector<std::string> build;       // ignored by comparison

  std::string ToString() const;
  bool is_prerelease() const { return !prerelease.empty(); }
};

// Parses "1.2.3", "1.2.3-rc.1+build.5". A leading 'v' is refused: the format
// is exactly SemVer 2.0.0 (no leading zeros, non-empty identifiers).
// InvalidArgument says what is wrong and where.
Result<Version> Parse(std::string_view text);

// Precedence per SemVer 2.0.0 section 11 (build metadata ignored).
std::strong_ordering Compare(const Version& a, const Version& b);
inline bool operator==(const Version& a, const Version& b) { return Compare(a, b) == 0; }
inline std::strong_ordering operator<=>(const Version& a, const Version& b) { return Compare(a, b); }

// What kind of move from one version to another it is. Callers branch on
// this, never on the reason text.
enum class Change : uint8_t {
  kSame,           // equal precedence: not an upgrade
  kPatch,          // compatible
  kMinor,          // compatible (at or above 1.0.0)
  kDowngrade,      // to a lower version that SemVer still calls compatible
  kMajor,          // breaking: the major version changes (either way)
  kMinorBelowOne,  // breaking: the minor version changes below 1.0.0
};

// What moving from one version to another means for its users.
struct Compatibility {
  Change change = Change::kSame;
  bool compatible = false;  // users of `from` keep working with `to`
  bool breaking = false;    // kMajor or kMinorBelowOne
  bool prerelease = false;  // the target is a pre-release
  std::string reason;       // one line, for validation reports
};
// SemVer's promise: same major (or, below 1.0.0, same minor) is compatible;
// anything else breaks. Equal versions are not an upgrade (not compatible,
// not breaking). Downgrades and pre-releases are compatible, said in reason.
Compatibility CheckCompatibility(const Version& from, const Version& to);

// A set of versions: comparators joined by spaces (AND) and "||" (OR).
// Comparators: =, >, >=, <, <=, ^, ~, x-ranges ("1.x", "1.2.*", "*"), and
// hyphen ranges ("1.2 - 2.3.4"). A pre-release version matches only a
// comparator that names a pre-release of the same major.minor.patch (npm's rule).
class Range {
 public:
  static Result<Range> Parse(std::string_view text);
  bool Matches(const Version& v) const;
  // False when no release version can match (">=2.0.0 <1.0.0", "<0.0.0").
  bool Satisfiable() const;
  const std::string& text() const { return text_; }

 private:
  struct Comparator {
    enum class Op : uint8_t { kEq, kGt, kGe, kLt, kLe } op;
    Version version;
  };
  using Conjunction = std::vector<Comparator>;
  static bool ConjunctionMatches(const Conjunction& c, const Version& v);
  static Status ParseTerm(std::string_view term, Conjunction* out);
  std::vector<Conjunction> alternatives_;
  std::string text_;
};

}  // namespace noodle::semver
