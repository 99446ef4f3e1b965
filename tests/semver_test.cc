// SemVer 2.0.0: parsing, precedence and ranges; examples from the spec and
// property tests over random versions.
#define BOOST_TEST_MODULE semver
#include <boost/test/unit_test.hpp>

#include <random>

#include "noodle/engine/semver.h"

using namespace noodle::semver;
namespace semver = noodle::semver;

namespace {
Version V(const char* text) {
  auto v = Parse(text);
  BOOST_REQUIRE_MESSAGE(v.ok(), text << ": " << v.status().ToString());
  return v.value();
}
bool In(const char* range, const char* version) {
  auto r = Range::Parse(range);
  BOOST_REQUIRE_MESSAGE(r.ok(), range << ": " << r.status().ToString());
  return r->Matches(V(version));
}
}  // namespace

BOOST_AUTO_TEST_CASE(valid_versions_parse_and_print_back) {
  for (const char* text : {"0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7",
                           "1.0.0-x.7.z.92", "1.0.0-alpha+001", "1.0.0+20130313144700",
                           "1.0.0-beta+exp.sha.5114f85", "1.0.0-x-y-z.--", "18446744073709551615.0.0"}) {
    BOOST_TEST(V(text).ToString() == text);
  }
  const Version v = V("1.2.3-rc.1+build.9");
  BOOST_TEST(v.major == 1u);
  BOOST_TEST(v.minor == 2u);
  BOOST_TEST(v.patch == 3u);
  BOOST_TEST((v.prerelease == std::vector<std::string>{"rc", "1"}));
  BOOST_TEST((v.build == std::vector<std::string>{"build", "9"}));
}

BOOST_AUTO_TEST_CASE(invalid_versions_are_refused_with_a_reason) {
  for (const char* text : {"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "v1.2.3", "1.2.3-", "1.2.3+",
                           "1.2.3-01", "1.2.3-a..b", "1.2.3-a_b", "-1.2.3", "a.b.c", " 1.2.3", "1.2.3 ",
                           "18446744073709551616.0.0"}) {
    auto v = Parse(text);
    BOOST_TEST(!v.ok(), "accepted '" << text << "'");
    BOOST_TEST(v.status().IsInvalidArgument());
    BOOST_TEST(v.status().message().find("invalid SemVer") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(precedence_follows_the_spec) {
  // Spec section 11, in increasing order.
  const char* ordered[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                           "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "2.1.0", "2.1.1"};
  for (size_t i = 0; i + 1 < std::size(ordered); ++i) {
    BOOST_TEST((V(ordered[i]) < V(ordered[i + 1])), ordered[i] << " < " << ordered[i + 1]);
  }
  BOOST_TEST((V("1.0.0+a") == V("1.0.0+b")));  // build metadata is ignored
}

BOOST_AUTO_TEST_CASE(ranges_given_versions) {
  BOOST_TEST(In(">=1.2.0 <2.0.0", "1.2.0"));
  BOOST_TEST(In(">=1.2.0 <2.0.0", "1.9.9"));
  BOOST_TEST(!In(">=1.2.0 <2.0.0", "2.0.0"));
  BOOST_TEST(!In(">=1.2.0 <2.0.0", "1.1.9"));
  BOOST_TEST(In("^1.2", "1.2.0"));
  BOOST_TEST(In("^1.2", "1.99.0"));
  BOOST_TEST(!In("^1.2", "2.0.0"));
  BOOST_TEST(!In("^1.2", "1.1.0"));
  BOOST_TEST(In("^0.2.3", "0.2.9"));
  BOOST_TEST(!In("^0.2.3", "0.3.0"));
  BOOST_TEST(In("^0.0.3", "0.0.3"));
  BOOST_TEST(!In("^0.0.3", "0.0.4"));
  BOOST_TEST(In("~1.2.3", "1.2.9"));
  BOOST_TEST(!In("~1.2.3", "1.3.0"));
  BOOST_TEST(In("~1", "1.9.0"));
  BOOST_TEST(In("1.x", "1.4.2"));
  BOOST_TEST(!In("1.x", "2.0.0"));
  BOOST_TEST(In("1.2.*", "1.2.7"));
  BOOST_TEST(In("*", "3.1.4"));
  BOOST_TEST(In("", "3.1.4"));
  BOOST_TEST(In("1.2.3", "1.2.3"));
  BOOST_TEST(!In("1.2.3", "1.2.4"));
  BOOST_TEST(In("<1.0.0 || >=2.0.0", "2.5.0"));
  BOOST_TEST(In("<1.0.0 || >=2.0.0", "0.9.0"));
  BOOST_TEST(!In("<1.0.0 || >=2.0.0", "1.5.0"));
  BOOST_TEST(In("1.2 - 2.3.4", "2.3.4"));
  BOOST_TEST(!In("1.2 - 2.3.4", "2.3.5"));
  BOOST_TEST(In("1.2 - 2.3", "2.3.9"));
  BOOST_TEST(In(">= 1.2.0", "1.2.0"));  // operator and version apart
  BOOST_TEST(In(">1.2", "1.3.0"));
  BOOST_TEST(!In(">1.2", "1.2.9"));
  BOOST_TEST(In("<=1.2", "1.2.9"));
  // Pre-releases match only a comparator naming the same major.minor.patch.
  BOOST_TEST(!In(">=1.0.0", "2.0.0-rc.1"));
  BOOST_TEST(In(">=2.0.0-rc.0", "2.0.0-rc.1"));
  BOOST_TEST(!In(">=2.0.0-rc.0", "2.1.0-rc.1"));
}

BOOST_AUTO_TEST_CASE(invalid_ranges_are_refused) {
  for (const char* text : {">>1.2.3", "1.2.3 -", ">=", "1.x.3", "^a", "1.2.3.4", "~>1.2", "=>1.0.0", "1.2-rc"}) {
    auto r = Range::Parse(text);
    BOOST_TEST(!r.ok(), "accepted '" << text << "'");
    BOOST_TEST(r.status().message().find("invalid SemVer") != std::string::npos, r.status().message());
  }
}

namespace {
Version RandomVersion(std::mt19937_64& rng) {
  auto small = [&](int n) { return static_cast<uint64_t>(rng() % n); };
  Version v;
  v.major = small(4);
  v.minor = small(4);
  v.patch = small(4);
  const size_t pre = small(3);
  static const char* const kIds[] = {"alpha", "beta", "rc", "0", "1", "2", "11", "x-y"};
  for (size_t i = 0; i < pre; ++i) v.prerelease.emplace_back(kIds[small(8)]);
  if (small(4) == 0) v.build.push_back(std::string("b").append(std::to_string(small(100))));
  return v;
}
}  // namespace

BOOST_AUTO_TEST_CASE(property_parse_of_print_is_identity_and_order_is_total) {
  std::mt19937_64 rng(7);
  std::vector<Version> vs;
  for (int i = 0; i < 300; ++i) vs.push_back(RandomVersion(rng));
  for (const auto& a : vs) {
    auto back = Parse(a.ToString());
    BOOST_REQUIRE(back.ok());
    BOOST_TEST(back->ToString() == a.ToString());
    BOOST_TEST((Compare(a, a) == 0));
  }
  for (size_t i = 0; i < vs.size(); ++i) {
    for (size_t j = 0; j < vs.size(); j += 7) {
      const auto ab = Compare(vs[i], vs[j]);
      const auto ba = Compare(vs[j], vs[i]);
      BOOST_TEST_REQUIRE(((ab < 0) == (ba > 0)), vs[i].ToString() << " vs " << vs[j].ToString());
      for (size_t k = 0; k < vs.size(); k += 31) {
        if (ab <= 0 && Compare(vs[j], vs[k]) <= 0) BOOST_TEST_REQUIRE((Compare(vs[i], vs[k]) <= 0));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(property_caret_equals_its_expansion) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 300; ++i) {
    Version base = RandomVersion(rng);
    base.prerelease.clear();
    base.build.clear();
    Version up;
    if (base.major > 0) up.major = base.major + 1;
    else if (base.minor > 0) up.minor = base.minor + 1;
    else up.patch = base.patch + 1;
    auto caret = Range::Parse(std::string("^").append(base.ToString()));
    auto expanded = Range::Parse(std::string(">=").append(base.ToString()).append(" <").append(up.ToString()));
    BOOST_REQUIRE(caret.ok() && expanded.ok());
    for (int j = 0; j < 50; ++j) {
      const Version v = RandomVersion(rng);
      BOOST_TEST_REQUIRE(caret->Matches(v) == expanded->Matches(v), "^" << base.ToString() << " on " << v.ToString());
    }
  }
}

BOOST_AUTO_TEST_CASE(compatibility_follows_semver_promises) {
  auto check = [](const char* a, const char* b) {
    return semver::CheckCompatibility(semver::Parse(a).value(), semver::Parse(b).value());
  };
  // Given same-major moves, then compatible and not breaking
  auto minor = check("1.2.3", "1.4.0");
  BOOST_TEST(minor.compatible);
  BOOST_TEST(!minor.breaking);
  BOOST_TEST(minor.reason.find("minor") != std::string::npos);
  BOOST_TEST(check("1.2.3", "1.2.4").reason.find("patch") != std::string::npos);
  auto down = check("1.4.0", "1.2.0");
  BOOST_TEST(down.compatible);
  BOOST_TEST(down.reason.find("downgrade") != std::string::npos);
  BOOST_TEST(check("1.2.3", "1.3.0-rc.1").reason.find("pre-release") != std::string::npos);
  // Given a major change, or a minor change below 1.0.0, then breaking
  auto major = check("1.9.0", "2.0.0");
  BOOST_TEST(!major.compatible);
  BOOST_TEST(major.breaking);
  BOOST_TEST(major.reason.find("1 -> 2") != std::string::npos);
  BOOST_TEST(check("0.3.1", "0.4.0").breaking);
  BOOST_TEST(!check("0.3.1", "0.3.2").breaking);
  // Given the same version (build metadata aside), then not an upgrade at all
  auto same = check("1.2.3", "1.2.3+build.7");
  BOOST_TEST(!same.compatible);
  BOOST_TEST(!same.breaking);
}

BOOST_AUTO_TEST_CASE(unsatisfiable_ranges_are_detected) {
  for (const char* r : {">=2.0.0 <1.0.0", "<0.0.0", ">1.2.3 <1.2.3", "<*", "=1.0.0 =2.0.0", ">=3.0.0 <=2.9.9"}) {
    BOOST_TEST_CONTEXT(r) { BOOST_TEST(!semver::Range::Parse(r).value().Satisfiable()); }
  }
  for (const char* r : {"*", "^1.2", "~0.1.0", ">=1.0.0 <=1.0.0", "1.x || >=5 <3", "1.2 - 2.3.4", "<0.0.1"}) {
    BOOST_TEST_CONTEXT(r) { BOOST_TEST(semver::Range::Parse(r).value().Satisfiable()); }
  }
}

BOOST_AUTO_TEST_CASE(a_range_some_version_matches_is_satisfiable) {
  // Found by fuzz_semver: pre-releases of 0.0.0 sort below 0.0.0, and the
  // range below was called unsatisfiable although 0.0.0-aaulid.6 matches it.
  const auto range = semver::Range::Parse(">0.0.0-aa <0.0.0").value();
  const auto v = semver::Parse("0.0.0-aaulid.6").value();
  BOOST_TEST(range.Matches(v));
  BOOST_TEST(range.Satisfiable());
  BOOST_TEST(!semver::Range::Parse("<0.0.0-0").value().Satisfiable());  // nothing sorts below 0.0.0-0
}
