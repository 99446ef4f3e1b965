#include "noodle/engine/semver.h"

#include <charconv>
#include <optional>

namespace noodle::semver {
namespace {

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool IsIdentifierChars(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return parts;
    start = pos + 1;
  }
}

// A numeric part: digits, no leading zero unless it is "0", fits in 64 bits.
std::optional<uint64_t> ParseNumber(std::string_view s) {
  if (!IsDigits(s) || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

Status Invalid(std::string_view text, std::string_view why) {
  // Appended piecewise: g++ 12 warns falsely (-Wrestrict) on operator+ chains here.
  std::string m = "invalid SemVer '";
  m.append(text).append("': ").append(why);
  return Status::InvalidArgument(std::move(m));
}

int CompareIdentifiers(const std::string& a, const std::string& b) {
  const bool an = IsDigits(a), bn = IsDigits(b);
  if (an && bn) {
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;  // no leading zeros: length orders
    return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
  }
  if (an != bn) return an ? -1 : 1;  // numeric identifiers sort below alphanumeric ones
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

std::string Version::ToString() const {
  std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  for (size_t i = 0; i < prerelease.size(); ++i) s += (i == 0 ? "-" : ".") + prerelease[i];
  for (size_t i = 0; i < build.size(); ++i) s += (i == 0 ? "+" : ".") + build[i];
  return s;
}

Result<Version> Parse(std::string_view text) {
  if (text.empty()) return Invalid(text, "empty");
  if (text.size() > 256) return Invalid(text.substr(0, 32), "longer than 256 characters");
  std::string_view rest = text;
  Version v;
  if (const size_t plus = rest.find('+'); plus != std::string_view::npos) {
    for (auto id : Split(rest.substr(plus + 1), '.')) {
      if (!IsIdentifierChars(id)) return Invalid(text, "bad build identifier '" + std::string(id) + "'");
      v.build.emplace_back(id);
    }
    rest = rest.substr(0, plus);
  }
  if (const size_t dash = rest.find('-'); dash != std::string_view::npos) {
    for (auto id : Split(rest.substr(dash + 1), '.')) {
      if (!IsIdentifierChars(id)) return Invalid(text, "bad pre-release identifier '" + std::string(id) + "'");
      if (IsDigits(id) && id.size() > 1 && id[0] == '0') {
        return Invalid(text, "numeric pre-release identifier '" + std::string(id) + "' has a leading zero");
      }
      v.prerelease.emplace_back(id);
    }
    rest = rest.substr(0, dash);
  }
  const auto core = Split(rest, '.');
  if (core.size() != 3) return Invalid(text, "expected MAJOR.MINOR.PATCH");
  uint64_t* fields[3] = {&v.major, &v.minor, &v.patch};
  static const char* const kNames[3] = {"major", "minor", "patch"};
  for (size_t i = 0; i < 3; ++i) {
    auto n = ParseNumber(core[i]);
    if (!n) {
      return Invalid(text, std::string(kNames[i]).append(" ").append(core[i]).append(" is not a number without leading zeros"));
    }
    *fields[i] = *n;
  }
  return v;
}

std::strong_ordering Compare(const Version& a, const Version& b) {
  if (auto c = a.major <=> b.major; c != 0) return c;
  if (auto c = a.minor <=> b.minor; c != 0) return c;
  if (auto c = a.patch <=> b.patch; c != 0) return c;
  // A release ranks above its pre-releases.
  if (a.prerelease.empty() || b.prerelease.empty()) {
    return a.prerelease.empty() <=> b.prerelease.empty();
  }
  const size_t n = std::min(a.prerelease.size(), b.prerelease.size());
  for (size_t i = 0; i < n; ++i) {
    if (int c = CompareIdentifiers(a.prerelease[i], b.prerelease[i]); c != 0) {
      return c < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
    }
  }
  return a.prerelease.size() <=> b.prerelease.size();
}

// ---- Ranges ----

namespace {

// "1", "1.2", "1.x", "1.2.*", "1.2.3-rc.1": the parts given, the rest wild.
struct Partial {
  int given = 0;  // how many of major/minor/patch are numbers
  Version version;
};

bool IsWild(std::string_view s) { return s == "x" || s == "X" || s == "*"; }

Result<Partial> ParsePartial(std::string_view text) {
  Partial p;
  if (text.empty() || IsWild(text)) return p;
  const size_t tail = text.find_first_of("-+");
  const auto parts = Split(text.substr(0, tail), '.');
  if (parts.size() > 3) return Invalid(text, "more than three numeric parts");
  uint64_t* fields[3] = {&p.version.major, &p.version.minor, &p.version.patch};
  bool wild = false;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (IsWild(parts[i])) {
      wild = true;
      continue;
    }
    if (wild) return Invalid(text, "a number after a wildcard");
    auto n = ParseNumber(parts[i]);
    if (!n) return Invalid(text, std::string(parts[i]).append(" is not a number or x"));
    *fields[i] = *n;
    ++p.given;
  }
  if (tail != std::string_view::npos) {
    if (p.given != 3) return Invalid(text, "pre-release or build on a partial version");
    auto full = Parse(text);
    if (!full.ok()) return full.status();
    p.version = full.value();
  }
  return p;
}

// The first version above every version the partial covers (1.2 -> 1.3.0).
Version UpperOf(const Partial& p) {
  Version v;
  if (p.given == 1) v.major = p.version.major + 1;
  if (p.given == 2) {
    v.major = p.version.major;
    v.minor = p.version.minor + 1;
  }
  return v;
}

}  // namespace

Status Range::ParseTerm(std::string_view term, Conjunction* out) {
  using Op = Comparator::Op;
  std::string_view op;
  for (std::string_view candidate : {">=", "<=", ">", "<", "=", "^", "~"}) {
    if (term.starts_with(candidate)) {
      op = candidate;
      break;
    }
  }
  auto parsed = ParsePartial(term.substr(op.size()));
  if (!parsed.ok()) return parsed.status();
  const Partial p = parsed.value();
  const Version& low = p.version;
  auto add = [out](Op o, Version v) { out->push_back({o, std::move(v)}); };

  if (op == "^") {
    if (p.given == 0) return Status::OK();
    Version up;
    if (low.major > 0 || p.given == 1) {
      up.major = low.major + 1;
    } else if (low.minor > 0 || p.given == 2) {
      up.minor = low.minor + 1;
    } else {
      up.minor = low.minor;
      up.patch = low.patch + 1;
    }
    add(Op::kGe, low);
    add(Op::kLt, up);
  } else if (op == "~") {
    if (p.given == 0) return Status::OK();
    Version up;
    up.major = p.given == 1 ? low.major + 1 : low.major;
    up.minor = p.given == 1 ? 0 : low.minor + 1;
    add(Op::kGe, low);
    add(Op::kLt, up);
  } else if (p.given == 3) {
    const Op o = op == ">=" ? Op::kGe : op == "<=" ? Op::kLe : op == ">" ? Op::kGt : op == "<" ? Op::kLt : Op::kEq;
    add(o, low);
  } else if (p.given == 0) {
    if (op == "<" || op == ">") add(Op::kLt, Version{});  // "<*" and ">*" match nothing
  } else if (op == ">") {
    add(Op::kGe, UpperOf(p));
  } else if (op == ">=") {
    add(Op::kGe, low);
  } else if (op == "<") {
    add(Op::kLt, low);
  } else if (op == "<=") {
    add(Op::kLt, UpperOf(p));
  } else {
    add(Op::kGe, low);
    add(Op::kLt, UpperOf(p));
  }
  return Status::OK();
}

Result<Range> Range::Parse(std::string_view text) {
  if (text.size() > 1024) return Status::InvalidArgument("SemVer range longer than 1024 characters");
  Range r;
  r.text_ = std::string(text);
  size_t start = 0;
  while (true) {
    const size_t bar = text.find("||", start);
    std::string_view alt = text.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
    // Tokens, with a lone operator joined to the version after it (">= 1.2").
    std::vector<std::string> tokens;
    for (auto raw : Split(alt, ' ')) {
      if (raw.empty()) continue;
      if (!tokens.empty() && tokens.back().find_first_not_of("<>=^~") == std::string::npos) {
        tokens.back() += raw;
      } else {
        tokens.emplace_back(raw);
      }
    }
    Conjunction c;
    if (tokens.size() == 3 && tokens[1] == "-") {
      auto lo = ParsePartial(tokens[0]);
      auto hi = ParsePartial(tokens[2]);
      if (!lo.ok()) return lo.status();
      if (!hi.ok()) return hi.status();
      c.push_back({Comparator::Op::kGe, lo->version});
      if (hi->given == 3) c.push_back({Comparator::Op::kLe, hi->version});
      else if (hi->given > 0) c.push_back({Comparator::Op::kLt, UpperOf(hi.value())});
    } else {
      for (const auto& t : tokens) {
        if (t == "-" || t.find_first_not_of("<>=^~") == std::string::npos) {
          return Status::InvalidArgument("invalid SemVer range '" + std::string(text) + "': dangling '" + t + "'");
        }
        if (Status s = ParseTerm(t, &c); !s.ok()) {
          return Status::InvalidArgument("invalid SemVer range '" + std::string(text) + "': " + s.message());
        }
      }
    }
    r.alternatives_.push_back(std::move(c));
    if (bar == std::string_view::npos) break;
    start = bar + 2;
  }
  return r;
}

bool Range::ConjunctionMatches(const Conjunction& c, const Version& v) {
  bool prerelease_allowed = !v.is_prerelease();
  for (const auto& cmp : c) {
    const auto order = Compare(v, cmp.version);
    bool ok = false;
    switch (cmp.op) {
      case Comparator::Op::kEq: ok = order == 0; break;
      case Comparator::Op::kGt: ok = order > 0; break;
      case Comparator::Op::kGe: ok = order >= 0; break;
      case Comparator::Op::kLt: ok = order < 0; break;
      case Comparator::Op::kLe: ok = order <= 0; break;
    }
    if (!ok) return false;
    const Version& w = cmp.version;
    if (w.is_prerelease() && w.major == v.major && w.minor == v.minor && w.patch == v.patch) {
      prerelease_allowed = true;
    }
  }
  return prerelease_allowed;
}

bool Range::Matches(const Version& v) const {
  for (const auto& c : alternatives_) {
    if (ConjunctionMatches(c, v)) return true;
  }
  return false;
}

bool Range::Satisfiable() const {
  using Op = Comparator::Op;
  for (const auto& c : alternatives_) {
    // The interval the conjunction allows: [low, high] with open/closed ends.
    // 0.0.0, inclusive: the smallest release. Pre-releases of 0.0.0 sort
    // below it and match only when a comparator names one (as Matches
    // says), so then the bound is 0.0.0-0, the smallest version there is:
    // >0.0.0-a <0.0.0 is satisfiable, <0.0.0 is not.
    Version low;
    for (const auto& cmp : c) {
      const auto& v = cmp.version;
      if (v.major == 0 && v.minor == 0 && v.patch == 0 && v.is_prerelease()) low.prerelease = {"0"};
    }
    bool low_open = false;
    const Version* high = nullptr;
    bool high_open = false;
    for (const auto& cmp : c) {
      const auto& v = cmp.version;
      if (cmp.op == Op::kGe || cmp.op == Op::kGt || cmp.op == Op::kEq) {
        const auto order = Compare(v, low);
        const bool open = cmp.op == Op::kGt;
        if (order > 0 || (order == 0 && open)) {
          low = v;
          low_open = open;
        }
      }
      if (cmp.op == Op::kLe || cmp.op == Op::kLt || cmp.op == Op::kEq) {
        const bool open = cmp.op == Op::kLt;
        if (high == nullptr || Compare(v, *high) < 0 || (Compare(v, *high) == 0 && open)) {
          high = &v;
          high_open = open;
        }
      }
    }
    if (high == nullptr) return true;
    const auto order = Compare(low, *high);
    if (order < 0 || (order == 0 && !low_open && !high_open)) return true;
  }
  return false;
}

Compatibility CheckCompatibility(const Version& from, const Version& to) {
  Compatibility c;
  c.prerelease = to.is_prerelease();
  const auto order = Compare(from, to);
  if (order == 0) {
    c.reason = "target " + to.ToString() + " is the current version";
    return c;
  }
  if (from.major != to.major) {
    c.change = Change::kMajor;
    c.breaking = true;
    c.reason = "major version changes (" + std::to_string(from.major) + " -> " + std::to_string(to.major) +
               "): a breaking change";
    return c;
  }
  if (from.major == 0 && from.minor != to.minor) {
    c.change = Change::kMinorBelowOne;
    c.breaking = true;
    c.reason = "minor version changes below 1.0.0 (0." + std::to_string(from.minor) + " -> 0." +
               std::to_string(to.minor) + "): a breaking change";
    return c;
  }
  c.compatible = true;
  c.change = order > 0 ? Change::kDowngrade : from.minor != to.minor ? Change::kMinor : Change::kPatch;
  c.reason = order > 0 ? "downgrade within major version " + std::to_string(to.major)
                       : "compatible " + std::string(from.minor != to.minor ? "minor" : "patch") + " upgrade";
  if (c.prerelease) c.reason += "; target is a pre-release";
  return c;
}

}  // namespace noodle::semver
