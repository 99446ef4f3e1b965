// Confinement: hooks run only from the hook roots (no '..', no symlink out, no
// shell line unless allowed), plugin libraries load only from below the
// plugin dir with a declared SHA-256, and every name is checked before it
// reaches a path, a stream or a reply. Real files and real processes: each
// refused hook or library would have created a marker file, and the tests
// check it was not created.
#define BOOST_TEST_MODULE confinement
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>

#include "noodle/protocol/commands.h"
#include "noodle/engine/hook_executor.h"
#include "noodle/engine/names.h"
#include "noodle/plugin/executor.h"
#include "noodle/plugin/host.h"
#include "support/test_support.h"
#include "support/world.h"

using namespace noodle;
namespace fs = std::filesystem;

namespace {

// hooks/ is the hook root; outside/ is not.
struct HookRig {
  test::TempDir dir;
  fs::path root = fs::path(dir.path()) / "hooks";
  fs::path outside = fs::path(dir.path()) / "outside";
  HookRig() {
    fs::create_directories(root);
    fs::create_directories(outside);
  }
  std::string marker(const std::string& name) const { return (fs::path(dir.path()) / (name + ".ran")).string(); }
  // An executable script that creates `marker` when it runs.
  std::string Script(const fs::path& path, const std::string& marker) const {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << "#!/bin/sh\ntouch '" << marker << "'\n";
    chmod(path.c_str(), 0755);
    return path.string();
  }
  engine::HookExecutorOptions Options(bool allow_shell = false) const {
    engine::HookExecutorOptions o;
    o.hook_roots = {root.string()};
    o.allow_shell = allow_shell;
    return o;
  }
};

engine::StepRequest SwapStep(const std::map<std::string, proj::Hook>& hooks) {
  engine::StepRequest s;
  s.upgrade_id = {1, 2};
  s.action = fb::StepAction::Swap;
  s.from.name = s.to.name = "shop";
  s.from.version = "1.0.0";
  s.to.version = "1.1.0";
  s.to.hooks = hooks;
  return s;
}

engine::StepOutcome RunStep(const engine::HookExecutorOptions& options, const engine::StepRequest& step) {
  auto executor = engine::NewHookExecutor(options);
  std::promise<engine::StepOutcome> done;
  auto result = done.get_future();
  executor->Start(step, [&done](engine::StepOutcome o) { done.set_value(std::move(o)); });
  return result.get();
}

proj::Hook Argv(const std::string& program) { return proj::Hook{{program}, false, 10000}; }

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(hooks)

BOOST_AUTO_TEST_CASE(a_hook_inside_the_roots_runs) {
  HookRig rig;
  const std::string marker = rig.marker("inside");
  const auto o = RunStep(rig.Options(), SwapStep({{"swap", Argv(rig.Script(rig.root / "swap.sh", marker))}}));
  BOOST_TEST(o.succeeded, o.reason);
  BOOST_TEST(fs::exists(marker));
}

BOOST_AUTO_TEST_CASE(a_hook_outside_the_roots_is_refused_before_it_runs) {
  HookRig rig;
  const std::string marker = rig.marker("outside");
  const std::string program = rig.Script(rig.outside / "swap.sh", marker);
  const auto o = RunStep(rig.Options(), SwapStep({{"swap", Argv(program)}}));
  BOOST_TEST(!o.succeeded);
  BOOST_TEST(o.exit_code == -1);
  BOOST_TEST(o.reason == "hook swap: " + program + " is outside the hook roots (" + rig.root.string() + ")");
  BOOST_TEST(!fs::exists(marker));
}

BOOST_AUTO_TEST_CASE(a_root_that_is_a_string_prefix_is_not_a_parent) {
  HookRig rig;  // hooks2/ starts with "hooks" but is not below hooks/
  const std::string marker = rig.marker("prefix");
  const std::string program = rig.Script(fs::path(rig.dir.path()) / "hooks2" / "swap.sh", marker);
  const auto o = RunStep(rig.Options(), SwapStep({{"swap", Argv(program)}}));
  BOOST_TEST(Contains(o.reason, "is outside the hook roots"), o.reason);
  BOOST_TEST(!fs::exists(marker));
}

BOOST_AUTO_TEST_CASE(a_dot_dot_path_is_refused_even_when_it_resolves_inside) {
  HookRig rig;
  const std::string marker = rig.marker("dotdot");
  rig.Script(rig.root / "swap.sh", marker);
  // Lands back in hooks/, but a '..' in the given path is refused as such.
  const std::string program = (rig.root / ".." / "hooks" / "swap.sh").string();
  const auto o = RunStep(rig.Options(), SwapStep({{"swap", Argv(program)}}));
  BOOST_TEST(!o.succeeded);
  BOOST_TEST(Contains(o.reason, "hook swap: " + program + " has a '..' component"), o.reason);
  BOOST_TEST(!fs::exists(marker));
}

BOOST_AUTO_TEST_CASE(a_symlink_that_leads_out_of_the_roots_is_refused) {
  HookRig rig;
  const std::string marker = rig.marker("symlink");
  const std::string target = rig.Script(rig.outside / "evil.sh", marker);
  fs::create_symlink(target, rig.root / "swap.sh");
  const std::string program = (rig.root / "swap.sh").string();
  const auto o = RunStep(rig.Options(), SwapStep({{"swap", Argv(program)}}));
  BOOST_TEST(!o.succeeded);
  BOOST_TEST(o.reason == "hook swap: " + program + " resolves to " + target + ", outside the hook roots (" +
                             rig.root.string() + ")");
  BOOST_TEST(!fs::exists(marker));
}

BOOST_AUTO_TEST_CASE(a_hook_another_user_could_replace_is_refused_before_it_runs) {
  HookRig rig;
  // Inside the root, but in a directory anyone may write: whoever can write
  // there chooses what runs.
  const std::string marker = rig.marker("swappable");
  const std::string program = rig.Script(rig.root / "drop" / "swap.sh", marker);
  chmod((rig.root / "drop").c_str(), 0777);
  auto o = RunStep(rig.Options(), SwapStep({{"swap", Argv(program)}}));
  BOOST_TEST(!o.succeeded);
  BOOST_TEST(Contains(o.reason, "is not safe to run"), o.reason);
  BOOST_TEST(Contains(o.reason, "writable by group or others"), o.reason);
  BOOST_TEST(!fs::exists(marker));
  // The same for a group-writable program file.
  chmod((rig.root / "drop").c_str(), 0755);
  chmod(program.c_str(), 0775);
  o = RunStep(rig.Options(), SwapStep({{"swap", Argv(program)}}));
  BOOST_TEST(!o.succeeded);
  BOOST_TEST(!fs::exists(marker));
  chmod(program.c_str(), 0755);
  o = RunStep(rig.Options(), SwapStep({{"swap", Argv(program)}}));
  BOOST_TEST(o.succeeded, o.reason);
  BOOST_TEST(fs::exists(marker));
}

BOOST_AUTO_TEST_CASE(a_relative_program_is_refused) {
  HookRig rig;
  const auto o = RunStep(rig.Options(), SwapStep({{"swap", Argv("true")}}));
  BOOST_TEST(!o.succeeded);
  BOOST_TEST(Contains(o.reason, "hook swap: true is not an absolute path"), o.reason);
}

BOOST_AUTO_TEST_CASE(a_shell_line_runs_only_when_shells_are_allowed) {
  HookRig rig;
  const std::string marker = rig.marker("shell");
  const auto step = SwapStep({{"swap", proj::Hook{{"touch '" + marker + "'"}, true, 10000}}});
  const auto refused = RunStep(rig.Options(/*allow_shell=*/false), step);
  BOOST_TEST(!refused.succeeded);
  BOOST_TEST(refused.exit_code == -1);
  BOOST_TEST(Contains(refused.reason, "hook swap: shell hooks are disabled"), refused.reason);
  BOOST_TEST(!fs::exists(marker));

  const auto allowed = RunStep(rig.Options(/*allow_shell=*/true), step);
  BOOST_TEST(allowed.succeeded, allowed.reason);
  BOOST_TEST(fs::exists(marker));
}

BOOST_AUTO_TEST_CASE(without_hook_roots_no_hook_program_runs) {
  HookRig rig;
  const std::string marker = rig.marker("noroots");
  const auto o = RunStep({}, SwapStep({{"swap", Argv(rig.Script(rig.root / "swap.sh", marker))}}));
  BOOST_TEST(!o.succeeded);
  BOOST_TEST(Contains(o.reason, "no hook roots are configured"), o.reason);
  BOOST_TEST(!fs::exists(marker));
}

BOOST_AUTO_TEST_CASE(every_hook_of_a_step_is_checked_before_the_first_runs) {
  HookRig rig;
  const std::string swap_marker = rig.marker("swap"), health_marker = rig.marker("health");
  const auto o = RunStep(rig.Options(), SwapStep({{"swap", Argv(rig.Script(rig.root / "swap.sh", swap_marker))},
                                                  {"health", Argv(rig.Script(rig.outside / "health.sh", health_marker))}}));
  BOOST_TEST(!o.succeeded);
  BOOST_TEST(Contains(o.reason, "hook health: "), o.reason);
  BOOST_TEST(!fs::exists(swap_marker));  // the swap inside the roots did not run either
  BOOST_TEST(!fs::exists(health_marker));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- plugins ----

namespace {

// A plugin dir in a temp dir; libraries are copies of (or links to) the
// marker library, which creates $NOODLE_TEST_MARKER when it is loaded.
struct PluginRig {
  test::TempDir dir;
  fs::path plugins = fs::path(dir.path()) / "plugins";
  fs::path outside = fs::path(dir.path()) / "outside";
  std::string marker = (fs::path(dir.path()) / "loaded").string();
  PluginRig() {
    fs::create_directories(plugins);
    fs::create_directories(outside);
    setenv("NOODLE_TEST_MARKER", marker.c_str(), 1);
  }
  ~PluginRig() { unsetenv("NOODLE_TEST_MARKER"); }
  plugin::HostOptions Options() const {
    plugin::HostOptions o;
    o.plugin_dir = plugins.string();
    return o;  // no trial program: a load happens here, in this process
  }
  fs::path Install(const fs::path& dir, const std::string& name) const {
    fs::create_directories(dir);
    const fs::path lib = dir / ("lib" + name + ".so");
    fs::copy_file(MARKER_PLUGIN, lib, fs::copy_options::overwrite_existing);
    return lib;
  }
};

std::string Sha256(const fs::path& p) {
  std::string out, err;
  BOOST_REQUIRE(test::RunProgram({"/usr/bin/sha256sum", p.string()}, "", &out, &err) == 0);
  return out.substr(0, 64);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugins)

BOOST_AUTO_TEST_CASE(a_library_inside_the_plugin_dir_is_loaded_so_the_marker_works) {
  PluginRig rig;
  const fs::path lib = rig.Install(rig.plugins / "marker" / "1.0.0", "marker");
  plugin::Host host(rig.Options());
  const Status s = host.Start("marker", "1.0.0", Sha256(lib));
  // It is no real plugin (no entry point), but dlopen ran its constructor.
  BOOST_TEST(Contains(s.message(), "has no"), s.ToString());
  BOOST_TEST(fs::exists(rig.marker));
}

BOOST_AUTO_TEST_CASE(a_symlinked_library_outside_the_plugin_dir_is_refused_before_dlopen) {
  PluginRig rig;
  const fs::path real = rig.Install(rig.outside, "evil");
  fs::create_directories(rig.plugins / "evil" / "1.0.0");
  fs::create_symlink(real, rig.plugins / "evil" / "1.0.0" / "libevil.so");
  plugin::Host host(rig.Options());
  const Status s = host.Start("evil", "1.0.0", Sha256(real));
  BOOST_TEST(!s.ok());
  BOOST_TEST(Contains(s.message(), "plugin dir check: "), s.message());
  BOOST_TEST(Contains(s.message(), "outside the plugin dir"), s.message());
  BOOST_TEST(Contains(s.message(), "refused before dlopen"), s.message());
  BOOST_TEST(!fs::exists(rig.marker));
}

BOOST_AUTO_TEST_CASE(a_plugin_name_or_version_with_a_path_in_it_is_refused_before_dlopen) {
  PluginRig rig;
  // Where "../../outside/x" would lead from <plugins>/<plugin>/<version>/.
  const fs::path lib = rig.Install(rig.outside, "x");
  plugin::Host host(rig.Options());
  const Status by_plugin = host.Start("c", "1.0.0", Sha256(lib), {}, "../../outside/x");
  BOOST_TEST(Contains(by_plugin.message(), "name check: plugin '../../outside/x'"), by_plugin.message());
  plugin::Host other(rig.Options());
  const Status by_version = other.Start("dots", "../../outside", Sha256(lib), {}, "");
  BOOST_TEST(Contains(by_version.message(), "name check: version '../../outside'"), by_version.message());
  plugin::Host third(rig.Options());
  const Status dotdot = third.Start("up", "1.0.0", Sha256(lib), {}, "..");
  BOOST_TEST(Contains(dotdot.message(), "name check: plugin '..'"), dotdot.message());
  BOOST_TEST(!fs::exists(rig.marker));
}

BOOST_AUTO_TEST_CASE(a_library_without_a_declared_sha256_is_refused_unless_allowed) {
  PluginRig rig;
  rig.Install(rig.plugins / "marker" / "1.0.0", "marker");
  plugin::Host host(rig.Options());
  const Status s = host.Start("marker", "1.0.0", "");
  BOOST_TEST(Contains(s.message(), "sha256 check: marker 1.0.0 declares no artifact SHA-256"), s.message());
  BOOST_TEST(!fs::exists(rig.marker));

  plugin::HostOptions lax = rig.Options();
  lax.require_sha256 = false;
  plugin::Host relaxed(lax);
  relaxed.Start("marker", "1.0.0", "");
  BOOST_TEST(fs::exists(rig.marker));  // the operator said so: it is loaded
}

// The host hashes each library once per version of the file: a library
// changed after it passed is hashed again, and its old digest no longer fits.
BOOST_AUTO_TEST_CASE(a_library_changed_after_its_hash_was_checked_is_refused) {
  PluginRig rig;
  const fs::path lib = rig.Install(rig.plugins / "marker" / "1.0.0", "marker");
  const std::string declared = Sha256(lib);
  plugin::Host host(rig.Options());
  const Status first = host.Start("m1", "1.0.0", declared, {}, "marker");
  BOOST_TEST(Contains(first.message(), "has no"), first.message());  // passed the hash, then dlopen
  BOOST_TEST(Contains(host.Start("m2", "1.0.0", declared, {}, "marker").message(), "has no"));  // the cached digest
  fs::remove(rig.marker);
  std::ofstream(lib, std::ios::app) << "appended";  // same inode, new content
  const Status changed = host.Start("m3", "1.0.0", declared, {}, "marker");
  BOOST_TEST(Contains(changed.message(), "artifact hash mismatch"), changed.message());
  BOOST_TEST(!fs::exists(rig.marker));
}

BOOST_AUTO_TEST_CASE(the_plugin_executor_refuses_metadata_plugin_outside_the_dir) {
  PluginRig rig;
  const fs::path lib = rig.Install(rig.outside, "x");
  plugin::Host host(rig.Options());
  auto executor = plugin::NewPluginExecutor(&host, 1);
  engine::StepRequest step;
  step.upgrade_id = {3, 4};
  step.action = fb::StepAction::Swap;
  step.from.name = step.to.name = "c";
  step.from.version = "1.0.0";
  step.to.version = "1.1.0";
  step.from.executor = step.to.executor = fb::ExecutorKind::Plugin;
  step.from.metadata["plugin"] = "../../outside/x";
  step.from.artifact_sha256 = Sha256(lib);
  std::promise<engine::StepOutcome> done;
  auto result = done.get_future();
  executor->Start(step, [&done](engine::StepOutcome o) { done.set_value(std::move(o)); });
  const auto o = result.get();
  BOOST_TEST(!o.succeeded);
  BOOST_TEST(Contains(o.reason, "name check: plugin"), o.reason);
  BOOST_TEST(!fs::exists(rig.marker));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- names ----

namespace {

std::string Announce(const std::string& agent, const std::vector<std::string>& instances) {
  flatbuffers::FlatBufferBuilder b;
  const fb::Id128 cid(7, instances.size() + 1);
  std::vector<flatbuffers::Offset<flatbuffers::String>> strings;
  for (const auto& i : instances) strings.push_back(b.CreateString(i));
  auto body = fb::CreateAnnounceAgent(b, b.CreateString(agent), b.CreateVector(strings));
  b.Finish(fb::CreateCommandEnvelope(b, &cid, 0, b.CreateString(agent), nullptr, fb::Command::AnnounceAgent, body.Union()),
           fb::CommandEnvelopeIdentifier());
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

// Point and Deregister built with the name's every byte (the cmd:: builders
// stop at a NUL; a raw client does not).
std::string RawPoint(const std::string& name) {
  flatbuffers::FlatBufferBuilder b;
  const fb::Id128 cid(8, name.size());
  auto body = fb::CreateCreateRollbackPoint(b, b.CreateString(name));
  b.Finish(fb::CreateCommandEnvelope(b, &cid, 0, b.CreateString("tester"), nullptr, fb::Command::CreateRollbackPoint,
                                     body.Union()),
           fb::CommandEnvelopeIdentifier());
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

std::string RawDeregister(const std::string& name) {
  flatbuffers::FlatBufferBuilder b;
  const fb::Id128 cid(9, name.size());
  auto body = fb::CreateDeregisterComponent(b, b.CreateString(name));
  b.Finish(fb::CreateCommandEnvelope(b, &cid, 0, b.CreateString("tester"), nullptr, fb::Command::DeregisterComponent,
                                     body.Union()),
           fb::CommandEnvelopeIdentifier());
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

bool HasIssue(const engine::Decision& d, const std::string& code, const std::string& field = "") {
  for (const auto& e : d.errors) {
    if (e.code == code && (field.empty() || e.field == field)) return true;
  }
  return false;
}

// Then: refused as Invalid, with the issue, and nothing appended.
void ExpectInvalid(test::World& w, const std::string& command, const std::string& code, const std::string& field = "") {
  const size_t before = w.log.size();
  const engine::Decision d = w.Run(command);
  BOOST_TEST(d.rejected);
  BOOST_TEST((d.code == fb::RejectCode::Invalid));
  BOOST_TEST(HasIssue(d, code, field), "no issue " << code << " " << field << " in: " << d.message);
  BOOST_TEST(d.appends.empty());
  BOOST_TEST(w.log.size() == before);
  BOOST_TEST(d.message.size() < 4096u);  // a huge name does not make a huge reply
}

const std::string kNul("db\0x", 4);

}  // namespace

BOOST_AUTO_TEST_SUITE(names)

BOOST_AUTO_TEST_CASE(names_in_use_stay_valid) {
  for (const char* n : {"db", "shop", "web-1", "host-1", "counter", "before-x", "a_b.c", "X9"}) {
    BOOST_TEST(engine::names::IsValidName(n), n);
  }
  for (const std::string& n : {std::string(""), std::string("."), std::string(".."), std::string(".hidden"),
                              std::string("-rf"), std::string("a/b"), std::string("a b"), std::string("a\nb"), kNul,
                              std::string(129, 'a'), std::string("caf\xc3\xa9")}) {
    BOOST_TEST(!engine::names::IsValidName(n), engine::names::Printable(n));
  }
  BOOST_TEST(engine::names::IsValidName(std::string(128, 'a')));
}

BOOST_AUTO_TEST_CASE(malformed_component_names_are_refused_with_nothing_appended) {
  // Given an empty world
  test::World w;
  // When components with names that are paths, control bytes or huge are registered, then each is Invalid.
  for (const std::string& n : {std::string(".."), std::string("."), kNul, std::string("a/b"), std::string("web\n1"),
                              std::string(129, 'a'), std::string(1 << 20, 'x'), std::string("-x")}) {
    BOOST_TEST_CONTEXT("name " << engine::names::Printable(n)) {
      ExpectInvalid(w, engine::cmd::Register(test::MakeComponent(n, "1.0.0")), "invalid_name", "component.name");
    }
  }
  // And a good one still registers.
  w.Register(test::MakeComponent("db", "1.0.0"));
  BOOST_TEST(w.log.size() == 1u);
}

BOOST_AUTO_TEST_CASE(malformed_names_inside_a_spec_are_refused) {
  test::World w;
  auto c = test::MakeComponent("shop", "1.0.0");
  c.instances = {"web-1", std::string("web\0" "2", 5)};
  ExpectInvalid(w, engine::cmd::Register(c), "invalid_name", "component.instances");
  c = test::MakeComponent("shop", "1.0.0", {{"../db", "^1"}});
  ExpectInvalid(w, engine::cmd::Register(c), "invalid_name", "component.dependencies[0].name");
  c = test::MakeComponent("shop", "1.0.0");
  c.metadata["plugin"] = "../../elsewhere/x";
  ExpectInvalid(w, engine::cmd::Register(c), "invalid_name", "component.metadata.plugin");
  c = test::MakeComponent("shop", "1.0.0");
  c.metadata["owner"] = "ops\nteam";
  ExpectInvalid(w, engine::cmd::Register(c), "invalid_text", "component.metadata.owner");
  c = test::MakeComponent("shop", "1.0.0");
  c.hooks["swap"] = proj::Hook{{"/opt/hooks/swap", std::string("a\0b", 3)}, false, 1000};
  ExpectInvalid(w, engine::cmd::Register(c), "invalid_hook", "component.hooks.swap.argv");
}

// prefix + i, built by appending (g++ 12 warns falsely on "x" + std::to_string(i) here).
std::string Numbered(const char* prefix, size_t i) {
  std::string s = prefix;
  s += std::to_string(i);
  return s;
}

BOOST_AUTO_TEST_CASE(oversized_lists_are_refused) {
  test::World w;
  using namespace engine::names;
  auto c = test::MakeComponent("shop", "1.0.0");
  for (size_t i = 0; i <= kMaxInstances; ++i) c.instances.push_back(Numbered("i", i));
  ExpectInvalid(w, engine::cmd::Register(c), "limit_exceeded", "component.instances");

  c = test::MakeComponent("shop", "1.0.0");
  for (size_t i = 0; i <= kMaxDependencies; ++i) c.dependencies.push_back({Numbered("d", i), "*"});
  ExpectInvalid(w, engine::cmd::Register(c), "limit_exceeded", "component.dependencies");

  c = test::MakeComponent("shop", "1.0.0");
  for (size_t i = 0; i <= kMaxMetadataEntries; ++i) c.metadata.emplace(Numbered("k", i), std::string(1, 'v'));
  ExpectInvalid(w, engine::cmd::Register(c), "limit_exceeded", "component.metadata");

  c = test::MakeComponent("shop", "1.0.0");
  c.hooks["swap"] = proj::Hook{std::vector<std::string>(kMaxHookArgs + 1, "x"), false, 1000};
  ExpectInvalid(w, engine::cmd::Register(c), "limit_exceeded", "component.hooks.swap.argv");
  c.hooks["swap"] = proj::Hook{{"/opt/hooks/swap", std::string(kMaxHookBytes, 'y')}, false, 1000};
  ExpectInvalid(w, engine::cmd::Register(c), "limit_exceeded", "component.hooks.swap.argv");

  // Within the limits, the same shapes register.
  c = test::MakeComponent("shop", "1.0.0");
  for (size_t i = 0; i < kMaxInstances; ++i) c.instances.push_back(Numbered("i", i));
  w.Register(c);
}

BOOST_AUTO_TEST_CASE(an_upgrade_request_with_a_malformed_component_name_is_refused) {
  test::World w;
  w.Register(test::MakeComponent("db", "1.0.0"));
  engine::cmd::UpgradeRequest r;
  r.component = kNul;
  r.target_version = "1.1.0";
  ExpectInvalid(w, engine::cmd::Upgrade(r), "invalid_name", "component");
  r.component = "db";
  r.requested_by = std::string(1 << 16, 'r');
  ExpectInvalid(w, engine::cmd::Upgrade(r), "invalid_text", "requested_by");
}

BOOST_AUTO_TEST_CASE(agents_points_and_deregistrations_check_their_names) {
  test::World w;
  // Agent names and instance names; an instance list over the limit.
  ExpectInvalid(w, Announce("..", {"web-1"}), "invalid_name", "agent");
  ExpectInvalid(w, Announce(kNul, {"web-1"}), "invalid_name", "agent");
  ExpectInvalid(w, Announce("host-1", {"web-1", "../etc"}), "invalid_name", "instances");
  ExpectInvalid(w, Announce("host-1", {std::string("web\0" "1", 5)}), "invalid_name", "instances");
  ExpectInvalid(w, Announce("host-1", std::vector<std::string>(engine::names::kMaxInstances + 1, "w")), "limit_exceeded",
                "instances");
  // Rollback points and deregistrations.
  ExpectInvalid(w, engine::cmd::Point("../x"), "invalid_name", "name");
  ExpectInvalid(w, RawPoint(kNul), "invalid_name", "name");
  ExpectInvalid(w, engine::cmd::Point("a\nb"), "invalid_name", "name");
  ExpectInvalid(w, engine::cmd::Deregister("..", ""), "invalid_name", "name");
  ExpectInvalid(w, RawDeregister(kNul), "invalid_name", "name");
  BOOST_TEST(w.log.empty());

  // The names in use go through.
  BOOST_TEST(!w.Run(Announce("host-1", {"web-1", "web-2"})).rejected);
  BOOST_TEST(!w.Run(engine::cmd::Point("before-x")).rejected);
  BOOST_TEST(w.log.size() == 2u);
}

BOOST_AUTO_TEST_CASE(the_daemon_hook_policy_is_checked_at_registration) {
  test::World w;
  w.limits.hook_roots = {"/opt/hooks"};
  w.limits.allow_shell_hooks = false;
  auto c = test::MakeComponent("shop", "1.0.0");
  c.hooks["swap"] = proj::Hook{{"echo hi"}, true, 1000};
  ExpectInvalid(w, engine::cmd::Register(c), "shell_hook_forbidden", "component.hooks.swap");
  c.hooks["swap"] = proj::Hook{{"/opt/hooks2/swap"}, false, 1000};
  ExpectInvalid(w, engine::cmd::Register(c), "hook_outside_roots", "component.hooks.swap");
  c.hooks["swap"] = proj::Hook{{"/opt/hooks/../bin/sh"}, false, 1000};
  ExpectInvalid(w, engine::cmd::Register(c), "hook_outside_roots", "component.hooks.swap");
  // Agents run their hooks under their own policy: not checked here.
  auto agent_run = c;
  agent_run.executor = fb::ExecutorKind::Agent;
  agent_run.hooks["swap"] = proj::Hook{{"echo hi"}, true, 1000};
  w.Register(agent_run);
  c.name = "db";
  c.hooks["swap"] = proj::Hook{{"/opt/hooks/swap"}, false, 1000};
  w.Register(c);
  BOOST_TEST(w.log.size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
