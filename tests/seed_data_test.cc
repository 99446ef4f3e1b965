// The seed's test data (tests/data/{components,upgrades,versions}, in the
// seed's field names) run against the real thing: components registered
// with `upgradectl component register -f` on a real upgraded, upgrades
// started with `upgradectl upgrade start --wait` running real hook scripts,
// versions and ranges through the SemVer library. Every file in those
// folders is read and every case checked against its expected_result; a file
// or a key the suite does not understand fails it, so data cannot sit unused.
#define BOOST_TEST_MODULE seed_data
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "noodle/engine/semver.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;
namespace semver = noodle::semver;
using noodle::test::DaemonProcess;
using json = nlohmann::ordered_json;  // cases run in file order (a dependency before its dependent)

// Keys of a case that are about the test, not the thing tested.
const std::set<std::string> kTestKeys = {"expected_result", "expected_error", "note"};

// Every *.json file under tests/data/<sub>, sorted; anything else there fails
// the suite (an unread file is data nobody checks).
std::vector<fs::path> DataFiles(const std::string& sub) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(SEED_DATA_DIR) / sub)) {
    if (!e.is_regular_file()) continue;
    BOOST_TEST(e.path().extension() == ".json", e.path() << " is not a case file: nothing reads it");
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// A case file: an object of named cases, each an object with expected_result
// among `results` and no key outside `keys`.
json ReadCases(const fs::path& file, const std::set<std::string>& keys, const std::set<std::string>& results) {
  std::ifstream in(file);
  const json cases = json::parse(in, nullptr, false);
  BOOST_REQUIRE_MESSAGE(cases.is_object() && !cases.empty(), file << ": expected an object of named cases");
  for (const auto& [name, c] : cases.items()) {
    BOOST_REQUIRE_MESSAGE(c.is_object() && c.contains("expected_result"), file << ": " << name << " has no expected_result");
    BOOST_TEST(results.count(c["expected_result"].get<std::string>()) == 1, name << ": unknown expected_result");
    for (const auto& [key, v] : c.items()) {
      BOOST_TEST((keys.count(key) == 1 || kTestKeys.count(key) == 1), file << ": " << name << "." << key << " is read by nothing");
    }
  }
  return cases;
}

void RequireSeedFiles(const std::string& sub, const std::vector<std::string>& stems) {
  for (const auto& stem : stems) {
    BOOST_TEST(fs::is_regular_file(fs::path(SEED_DATA_DIR) / sub / (stem + ".json")), sub << "/" << stem << ".json is missing");
  }
}

struct Ran {
  int rc = -1;
  std::string out;  // stdout and stderr
};

// A daemon whose hook root holds ok.sh (exit 0) and fail.sh, which exits 3
// with a message when moving to `broken` (a release that is not there) and
// 0 otherwise, so the revert to the current version succeeds.
struct Daemon {
  noodle::test::TempDir dir;
  DaemonProcess d;
  static DaemonProcess StartIn(const noodle::test::TempDir& dir, const std::string& broken) {
    fs::create_directories(dir.sub("hooks"));
    std::ofstream(dir.sub("hooks/ok.sh")) << "#!/bin/sh\nexit 0\n";
    std::ofstream(dir.sub("hooks/fail.sh")) << "#!/bin/sh\n[ \"$NOODLE_TO\" = '" << broken << "' ] || exit 0\n"
                                            << "echo \"error: release $NOODLE_TO is missing\" >&2\nexit 3\n";
    for (const char* h : {"hooks/ok.sh", "hooks/fail.sh"}) fs::permissions(dir.sub(h), fs::perms(0755));
    return DaemonProcess::Start(UPGRADED_PATH, dir.sub("data"), {"--hook-root", dir.sub("hooks")});
  }
  explicit Daemon(const std::string& broken = "") : d(StartIn(dir, broken)) {}
  Ran Ctl(std::vector<std::string> args) {
    std::vector<std::string> argv{UPGRADECTL_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--commands", d.commands, "--events", d.events, "--replay", d.replay});
    Ran r;
    std::string err;
    r.rc = noodle::test::RunProgram(argv, "", &r.out, &err);
    r.out += err;
    return r;
  }
  // `component show NAME` as JSON; null when it is not registered.
  json Show(const std::string& name) {
    const Ran r = Ctl({"component", "show", name, "--json"});
    return r.rc == 0 ? json::parse(r.out, nullptr, false) : json();
  }
  std::string Register(const std::string& name, const json& spec) {
    const std::string file = dir.sub(name + ".spec.json");
    std::ofstream(file) << spec.dump(2);
    return file;
  }
};

// ---- components ----

json SpecOf(const json& c) {
  json spec = json::object();
  for (const auto& [key, v] : c.items()) {
    if (kTestKeys.count(key) == 0) spec[key] = v;
  }
  return spec;
}

// The stored component matches the spec: version, type and every metadata
// entry (strings as given, other values as their compact JSON text).
void CheckStored(Daemon& daemon, const std::string& name, const json& c) {
  const json shown = daemon.Show(c["name"].get<std::string>());
  BOOST_REQUIRE_MESSAGE(shown.is_object(), name << ": registered but not shown");
  const json spec = shown.contains("spec") ? shown["spec"] : shown;
  BOOST_TEST(spec.value("version", "") == c["version"].get<std::string>(), name << ": " << shown.dump());
  std::map<std::string, std::string> stored;
  for (const auto& kv : spec.value("metadata", json::array())) stored[kv.value("key", "")] = kv.value("value", "");
  json expected = c.value("metadata", json::object());
  if (c.contains("description")) expected["description"] = c["description"];
  for (const auto& [key, v] : expected.items()) {
    const std::string want = v.is_string() ? v.get<std::string>() : nlohmann::json::parse(v.dump()).dump();
    BOOST_TEST(stored[key] == want, name << ": metadata " << key << " stored as '" << stored[key] << "'");
  }
}

void RunComponentFile(const fs::path& file) {
  static const std::set<std::string> keys = {"name", "version", "description", "component_type", "type", "hot_swappable",
                                             "critical", "dependencies", "metadata", "hooks", "artifact", "instances", "executor",
                                             "hot_swapable"};  // the last: a misspelling, refused on purpose
  const json cases = ReadCases(file, keys, {"registered", "refused"});
  Daemon daemon;
  for (const auto& [name, c] : cases.items()) {
    BOOST_TEST_CONTEXT(file.filename() << ": " << name) {
      const Ran r = daemon.Ctl({"component", "register", "-f", daemon.Register(name, SpecOf(c))});
      if (c["expected_result"] == "registered") {
        BOOST_TEST(r.rc == 0, r.out);
        if (r.rc == 0) CheckStored(daemon, name, c);
      } else {
        BOOST_TEST((r.rc == 1 || r.rc == 2), "refused with exit 1 or 2, got " << r.rc << ": " << r.out);
        BOOST_TEST(r.out.find(c.value("expected_error", "")) != std::string::npos, r.out);
      }
    }
  }
}

// ---- upgrades ----

// The component an upgrade case acts on: component_name at current_version,
// its swap and health hooks ok.sh unless the case names fail.
json ComponentOf(const Daemon& daemon, const json& c) {
  auto hook = [&](const char* key) { return json{{"argv", json::array({daemon.dir.sub("hooks/" + c.value(key, std::string("ok")) + ".sh")})}}; };
  return json{{"name", c["component_name"]}, {"version", c["current_version"]},
              {"hooks", {{"swap", hook("swap_hook")}, {"health", hook("health_hook")}}}};
}

std::vector<std::string> StartArgs(const json& c) {
  auto text = [&](const char* key) { return c[key].get<std::string>(); };
  std::vector<std::string> args{"upgrade", "start", text("component_name"), text("target_version"), "--wait", "30s"};
  if (c.contains("strategy")) args.insert(args.end(), {"--strategy", text("strategy")});
  if (c.contains("priority")) args.insert(args.end(), {"--priority", std::to_string(c["priority"].get<int>())});
  if (c.contains("steps")) args.insert(args.end(), {"--steps", std::to_string(c["steps"].get<int>())});
  if (c.contains("expected_current_version")) args.insert(args.end(), {"--expected", text("expected_current_version")});
  if (c.value("allow_breaking", false)) args.push_back("--allow-breaking");
  if (!c.value("rollback", true)) args.push_back("--no-rollback");
  return args;
}

// The phase of the component's one upgrade ("" when there is none).
std::string PhaseOf(Daemon& daemon, const std::string& component) {
  const Ran r = daemon.Ctl({"upgrade", "list", "--component", component, "--json"});
  const json list = json::parse(r.out, nullptr, false);
  return list.is_array() && list.size() == 1 ? list[0].value("phase", "") : "";
}

void RunUpgradeCase(const std::string& name, const json& c) {
  Daemon daemon(c["target_version"].get<std::string>());  // one each: every case starts from its own current_version
  const std::string component = c["component_name"];
  if (c.contains("current_version")) {
    const Ran r = daemon.Ctl({"component", "register", "-f", daemon.Register(component, ComponentOf(daemon, c))});
    BOOST_REQUIRE_MESSAGE(r.rc == 0, name << ": " << r.out);
  }
  const Ran r = daemon.Ctl(StartArgs(c));
  const std::string expected = c["expected_result"];
  const json shown = daemon.Show(component);
  const std::string version = shown.is_object() ? shown.value("spec", shown).value("version", "") : "";
  if (expected == "success") {
    BOOST_TEST(r.rc == 0, r.out);
    BOOST_TEST(PhaseOf(daemon, component) == "Completed");
    BOOST_TEST(version == c["target_version"].get<std::string>());
  } else if (expected == "rolled_back" || expected == "failed") {
    BOOST_TEST(r.rc == 1, r.out);
    BOOST_TEST(PhaseOf(daemon, component) == (expected == "failed" ? "Failed" : "RolledBack"), r.out);
    BOOST_TEST(r.out.find("exit code 3") != std::string::npos, r.out);  // the failing hook is named
    if (expected == "rolled_back") BOOST_TEST(version == c["current_version"].get<std::string>());
  } else {  // rejected by the engine (1) or invalid input to upgradectl (2): nothing starts
    BOOST_TEST(r.rc == (expected == "rejected" ? 1 : 2), r.out);
    BOOST_TEST(r.out.find(c.value("expected_error", "")) != std::string::npos, r.out);
    // A refused request is recorded as Rejected on the component's stream;
    // an unknown component has none.
    BOOST_TEST(PhaseOf(daemon, component) == (expected == "rejected" && c.contains("current_version") ? "Rejected" : ""));
    if (c.contains("current_version")) BOOST_TEST(version == c["current_version"].get<std::string>());
  }
}

void RunUpgradeFile(const fs::path& file) {
  static const std::set<std::string> keys = {"component_name", "current_version", "target_version", "strategy", "priority",
                                             "expected_execution_time", "allow_breaking", "steps", "swap_hook", "health_hook",
                                             "rollback", "expected_current_version"};
  const json cases = ReadCases(file, keys, {"success", "rolled_back", "failed", "rejected", "invalid"});
  for (const auto& [name, c] : cases.items()) {
    // expected_execution_time is the seed's figure, kept as data: this suite
    // makes no timing assertion (the performance suite does, with limits).
    BOOST_TEST_CONTEXT(file.filename() << ": " << name) { RunUpgradeCase(name, c); }
  }
}

// ---- versions ----

const char* ChangeName(semver::Change c) {
  switch (c) {
    case semver::Change::kSame: return "same";
    case semver::Change::kPatch: return "patch";
    case semver::Change::kMinor: return "minor";
    case semver::Change::kDowngrade: return "downgrade";
    case semver::Change::kMajor: return "major";
    case semver::Change::kMinorBelowOne: return "minor_below_one";
  }
  return "?";
}

// A pair: compatible when users of current_version keep working with
// target_version (CheckCompatibility); a version that does not parse is
// change "invalid" and incompatible.
void CheckPair(const json& c) {
  auto from = semver::Parse(c["current_version"].get<std::string>());
  auto to = semver::Parse(c["target_version"].get<std::string>());
  std::string change = "invalid", result = "incompatible";
  if (from.ok() && to.ok()) {
    const auto compat = semver::CheckCompatibility(from.value(), to.value());
    change = ChangeName(compat.change);
    result = compat.compatible ? "compatible" : "incompatible";
    if (c.contains("expected_order")) {
      const auto order = semver::Compare(from.value(), to.value());
      BOOST_TEST(std::string(order < 0 ? "<" : order > 0 ? ">" : "=") == c["expected_order"].get<std::string>());
    }
  } else {
    BOOST_TEST(!c.contains("expected_order"), "an order of versions that do not parse");
  }
  BOOST_TEST(result == c["expected_result"].get<std::string>());
  if (c.contains("expected_change")) BOOST_TEST(change == c["expected_change"].get<std::string>());
}

// A range and a version: compatible when the version satisfies the range; a
// range or version that does not parse is change "invalid".
void CheckRange(const json& c) {
  auto range = semver::Range::Parse(c["range"].get<std::string>());
  auto version = semver::Parse(c["version"].get<std::string>());
  const bool valid = range.ok() && version.ok();
  BOOST_TEST(std::string(valid ? "valid" : "invalid") == c.value("expected_change", std::string("valid")));
  const bool matches = valid && range->Matches(version.value());
  BOOST_TEST(std::string(matches ? "compatible" : "incompatible") == c["expected_result"].get<std::string>());
  if (c.contains("expected_satisfiable")) BOOST_TEST((range.ok() && range->Satisfiable()) == c["expected_satisfiable"].get<bool>());
}

void RunVersionFile(const fs::path& file) {
  static const std::set<std::string> keys = {"current_version", "target_version", "range", "version",
                                             "expected_change", "expected_order", "expected_satisfiable"};
  const json cases = ReadCases(file, keys, {"compatible", "incompatible"});
  for (const auto& [name, c] : cases.items()) {
    BOOST_TEST_CONTEXT(file.filename() << ": " << name) {
      const bool pair = c.contains("current_version") && c.contains("target_version");
      const bool range = c.contains("range") && c.contains("version");
      BOOST_REQUIRE_MESSAGE(pair != range, "a case is a version pair or a range with a version");
      pair ? CheckPair(c) : CheckRange(c);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(component_cases_register_or_are_refused_as_expected) {
  RequireSeedFiles("components", {"basic_component", "complex_component", "edge_case_component"});
  const auto files = DataFiles("components");
  BOOST_REQUIRE(!files.empty());
  for (const auto& f : files) RunComponentFile(f);
}

BOOST_AUTO_TEST_CASE(upgrade_cases_end_as_expected) {
  RequireSeedFiles("upgrades", {"simple_upgrade", "complex_upgrade", "failing_upgrade"});
  const auto files = DataFiles("upgrades");
  BOOST_REQUIRE(!files.empty());
  for (const auto& f : files) RunUpgradeFile(f);
}

BOOST_AUTO_TEST_CASE(version_cases_are_compatible_or_not_as_expected) {
  RequireSeedFiles("versions", {"compatible_versions", "incompatible_versions", "edge_case_versions"});
  const auto files = DataFiles("versions");
  BOOST_REQUIRE(!files.empty());
  for (const auto& f : files) RunVersionFile(f);
}
