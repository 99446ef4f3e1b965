#include "daemon_commands.h"

#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "client_config.h"
#include "component_json.h"
#include "daemon_client.h"
#include "exit_codes.h"
#include "flags.h"
#include "follow.h"
#include "noodle/protocol/commands.h"
#include "print.h"
#include "query_print.h"
#include "upgrade_lookup.h"
#include "noodle/engine/semver.h"

namespace noodle::tools {
namespace {

using nlohmann::json;
using Flags = std::shared_ptr<DaemonFlags>;

struct UpgradeFlags {
  std::string component, version, expected, strategy = "immediate", level = "standard", id, target_file;
  uint32_t steps = 1, max_unavailable = 1;
  int64_t pause_ns = 0, timeout_ns = 600'000'000'000, wait_ns = 0;
  std::vector<int> weights;
  int priority = 0;
  bool no_rollback = false, allow_breaking = false, dry_run = false;
};

// The request the flags describe; InvalidArgument when --id or --target is bad.
Status RequestOf(const DaemonFlags& f, const UpgradeFlags& u, engine::cmd::UpgradeRequest* r) {
  if (!u.id.empty()) {
    auto id = ParseId(u.id);
    if (!id.ok()) return id.status();
    r->upgrade_id = id.value();
  }
  // A version that is no SemVer is bad input: refused here, nothing sent.
  if (auto v = semver::Parse(u.version); !v.ok()) return Status::InvalidArgument("version '" + u.version + "': " + v.status().message());
  if (!u.expected.empty()) {
    if (auto v = semver::Parse(u.expected); !v.ok()) return Status::InvalidArgument("--expected '" + u.expected + "': " + v.status().message());
  }
  r->component = u.component;
  r->target_version = u.version;
  r->expected_version = u.expected;
  static const std::map<std::string, fb::StrategyKind> kinds = {
      {"immediate", fb::StrategyKind::Immediate}, {"gradual", fb::StrategyKind::Gradual}, {"canary", fb::StrategyKind::Canary},
      {"blue_green", fb::StrategyKind::BlueGreen}, {"rolling", fb::StrategyKind::Rolling}};
  r->strategy.kind = kinds.at(u.strategy);
  r->strategy.steps = u.steps;
  for (int w : u.weights) r->strategy.weights.push_back(static_cast<uint8_t>(std::clamp(w, 0, 255)));
  r->strategy.pause_ms = static_cast<uint32_t>(std::min<int64_t>(u.pause_ns / 1'000'000, UINT32_MAX));
  r->strategy.max_unavailable = u.max_unavailable;
  r->priority = u.priority;
  r->timeout_ms = static_cast<uint32_t>(std::min<int64_t>(u.timeout_ns / 1'000'000, UINT32_MAX));
  r->rollback_enabled = !u.no_rollback;
  r->level = u.level == "basic" ? fb::ValidationLevel::Basic : u.level == "strict" ? fb::ValidationLevel::Strict : fb::ValidationLevel::Standard;
  r->allow_breaking = u.allow_breaking;
  r->dry_run = u.dry_run;
  r->requested_by = MetaOf(f).actor;
  if (!u.target_file.empty()) {
    proj::Component c;
    if (Status s = ReadComponentSpec(u.target_file, &c); !s.ok()) return s;
    r->target = c;
  }
  return Status::OK();
}

// An accepted dry run's plan (Accepted.result_json) for people.
void PrintDryRunOf(const engine::Reply& reply) {
  if (reply.result_json.empty()) return;
  const json plan = json::parse(reply.result_json, nullptr, false);
  if (!plan.is_discarded()) PrintDryRun(plan);
}

int RunUpgradeStart(const DaemonFlags& f, const UpgradeFlags& u) {
  engine::cmd::UpgradeRequest r;
  if (Status s = RequestOf(f, u, &r); !s.ok()) return Fail(s);
  // --wait follows the event stream: check it answers before asking.
  if (u.wait_ns > 0 && !u.dry_run) {
    if (int rc = Reach(f, f.events); rc != kExitOk) return rc;
    if (int rc = Reach(f, f.replay); rc != kExitOk) return rc;
  }
  proj::Id id;
  engine::Reply reply;
  // A refused dry run is printed by Send: every problem with its code and field.
  if (int rc = Send(f, engine::cmd::Upgrade(r, MetaOf(f), &id), &reply); rc != kExitOk) return rc;
  if (f.json) std::cout << ReplyJson(reply).dump() << std::endl;
  else if (u.dry_run) PrintDryRunOf(reply);
  else std::cout << "upgrade " << id.hex() << " accepted: " << u.component << " -> " << u.version << std::endl;
  if (u.wait_ns > 0 && !u.dry_run) return FollowUpgrade(f, id, reply.seqs.empty() ? 1 : reply.seqs.front(), u.wait_ns);
  return kExitOk;
}

// Prints a one-entry answer: compact JSON with --json, else indented.
void PrintAnswer(const DaemonFlags& f, const engine::Reply& r) {
  const json answer = AnswerJson(r);
  std::cout << (f.json ? answer.dump() : answer.dump(2)) << "\n";
}

void AddComponentCommands(CLI::App& app, const Flags& f, int* exit_code) {
  auto* component = app.add_subcommand("component", "Register, list, show and deregister components");
  component->require_subcommand(1);
  auto spec_file = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  auto* reg = component->add_subcommand("register", "Register a component from a JSON spec");
  AddDaemonFlags(reg, f);
  reg->add_option("--file,-f", *spec_file, "Component spec (JSON; see README)")->required();
  reg->callback([=] {
    proj::Component c;
    if (Status s = ReadComponentSpec(*spec_file, &c); !s.ok()) {
      *exit_code = Fail(s);
      return;
    }
    *exit_code = Simple(*f, engine::cmd::Register(c, MetaOf(*f)), "registered " + c.name + " " + c.version);
  });
  auto* list = component->add_subcommand("list", "List registered components");
  AddDaemonFlags(list, f);
  list->callback([=] {
    std::vector<engine::Reply> pages;
    auto page = [&](const std::string& after) { return engine::cmd::QueryRegistryPage(after, 0, MetaOf(*f)); };
    if ((*exit_code = FetchPages(*f, page, fb::QueryAnswer::RegistryResult, &pages)) != kExitOk) return;
    if (f->json) std::cout << PagesJson(pages).dump() << "\n";
    else PrintRegistry(Answers<fb::RegistryResult>(pages), f->wide);
  });
  auto* show = component->add_subcommand("show", "Show one component");
  AddDaemonFlags(show, f);
  show->add_option("name", *name, "Component name")->required();
  show->callback([=] {
    engine::Reply r;
    const fb::ComponentInfo* c = nullptr;
    if ((*exit_code = Query(*f, engine::cmd::QueryRegistry(*name, MetaOf(*f)), &r, &c)) != kExitOk) return;
    if (f->json) PrintAnswer(*f, r);
    else PrintComponent(*c);
  });
  auto* dereg = component->add_subcommand("deregister", "Deregister a component");
  AddDaemonFlags(dereg, f);
  dereg->add_option("name", *name, "Component name")->required();
  dereg->add_option("--reason", *reason, "Why");
  dereg->callback([=] { *exit_code = Simple(*f, engine::cmd::Deregister(*name, *reason, MetaOf(*f)), "deregistered " + *name); });
}

void AddUpgradeStart(CLI::App* upgrade, const Flags& f, int* exit_code) {
  auto u = std::make_shared<UpgradeFlags>();
  auto* start = upgrade->add_subcommand("start", "Request an upgrade of COMPONENT to VERSION");
  AddDaemonFlags(start, f);
  start->add_option("component", u->component, "Component")->required();
  start->add_option("version", u->version, "Target version")->required();
  start->add_option("--expected", u->expected, "Refuse unless the component is at this version");
  start->add_option("--strategy", u->strategy, "immediate, gradual, canary, blue_green, rolling")
      ->check(CLI::IsMember({"immediate", "gradual", "canary", "blue_green", "rolling"}));
  start->add_option("--steps", u->steps, "gradual: number of steps");
  start->add_option("--weights", u->weights, "canary: weights in percent, e.g. 10,50,100")->delimiter(',');
  AddDurationOption(start, "--pause", &u->pause_ns, "canary: pause after each weight (30s, 5m; 0: until promoted)");
  start->add_option("--max-unavailable", u->max_unavailable, "rolling: instances down at once");
  start->add_option("--priority", u->priority, "Higher goes first when upgrades wait");
  AddDurationOption(start, "--timeout", &u->timeout_ns, "Fail (and roll back) after this long (10m, 90s); paused time does not count");
  start->add_flag("--no-rollback", u->no_rollback, "Leave a failed upgrade where it stopped");
  start->add_option("--level", u->level, "Validation: basic, standard, strict")->check(CLI::IsMember({"basic", "standard", "strict"}));
  start->add_flag("--allow-breaking", u->allow_breaking, "Allow a major version change");
  start->add_flag("--dry-run", u->dry_run, "Validate and print the plan; change nothing");
  start->add_option("--id", u->id, "Upgrade id (32 hex digits; default: new)");
  start->add_option("--target", u->target_file, "Spec of the new version (JSON), when it changes more than the version");
  AddDurationOption(start, "--wait", &u->wait_ns,
                    "Follow the upgrade's events for up to this long (5m, 90s), a line each; exit 0 only if it completed");
  start->callback([=] { *exit_code = RunUpgradeStart(*f, *u); });
}

void AddUpgradeCommands(CLI::App& app, const Flags& f, int* exit_code) {
  auto* upgrade = app.add_subcommand("upgrade", "Start, cancel, promote, abort upgrades; show their status");
  upgrade->require_subcommand(1);
  AddUpgradeStart(upgrade, f, exit_code);
  AddUpgradeList(upgrade, f, exit_code);
  auto id_text = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  using Make = std::string (*)(const proj::Id&, const std::string&, const engine::cmd::Meta&);
  auto on_id = [=](const char* verb, const char* done, const char* help, Make make) {
    auto* c = upgrade->add_subcommand(verb, help);
    AddDaemonFlags(c, f);
    c->add_option("upgrade", *id_text, "Upgrade: id, unique id prefix, or component name")->required();
    c->add_option("--reason", *reason, "Why");
    c->callback([=] {
      proj::Id id;
      if ((*exit_code = ResolveUpgrade(*f, *id_text, &id)) != kExitOk) return;
      *exit_code = Simple(*f, make(id, *reason, MetaOf(*f)), done);
    });
  };
  on_id("cancel", "cancelled", "Cancel an upgrade (rolls back what ran)",
        [](const proj::Id& id, const std::string& why, const engine::cmd::Meta& m) { return engine::cmd::Cancel(id, why, m); });
  on_id("abort", "aborted", "Abort an upgrade (canary: traffic back to the old version)",
        [](const proj::Id& id, const std::string& why, const engine::cmd::Meta& m) { return engine::cmd::Abort(id, why, m); });
  on_id("pause", "paused", "Pause a running upgrade: steps in flight finish, none starts until resumed (its timeout stops until resumed)",
        [](const proj::Id& id, const std::string& why, const engine::cmd::Meta& m) { return engine::cmd::Pause(id, why, m); });
  on_id("resume", "resumed", "Resume an upgrade paused with `upgrade pause`",
        [](const proj::Id& id, const std::string&, const engine::cmd::Meta& m) { return engine::cmd::Resume(id, m); });
  on_id("promote", "promoted", "Promote a paused canary to its next weight",
        [](const proj::Id& id, const std::string&, const engine::cmd::Meta& m) { return engine::cmd::Promote(id, m); });
  auto* ustatus = upgrade->add_subcommand("status", "Status of one upgrade");
  AddDaemonFlags(ustatus, f);
  ustatus->add_option("upgrade", *id_text, "Upgrade: id, unique id prefix, or component name")->required();
  ustatus->callback([=] {
    proj::Id id;
    if ((*exit_code = ResolveUpgrade(*f, *id_text, &id)) != kExitOk) return;
    engine::Reply r;
    const fb::UpgradeInfo* u = nullptr;
    if ((*exit_code = Query(*f, engine::cmd::QueryStatus(id, MetaOf(*f)), &r, &u)) != kExitOk) return;
    if (f->json) return PrintAnswer(*f, r);
    PrintUpgrade(*u);
    if (u->phase() > fb::Phase::Completed) PrintFailedStep(*f, id);  // ended, and not completed
  });
}

// status and stats: whole listings, page after page.
void AddReportCommands(CLI::App& app, const Flags& f, int* exit_code) {
  auto* status = app.add_subcommand("status", "Upgrades in progress, recent ones, history count");
  AddDaemonFlags(status, f);
  status->callback([=] {
    std::vector<engine::Reply> pages;
    auto page = [&](const std::string& after) { return engine::cmd::QueryStatusPage(after, MetaOf(*f)); };
    if ((*exit_code = FetchPages(*f, page, fb::QueryAnswer::StatusResult, &pages)) != kExitOk) return;
    if (f->json) std::cout << PagesJson(pages).dump() << "\n";
    else PrintStatus(Answers<fb::StatusResult>(pages), f->wide);
  });
  auto* stats = app.add_subcommand("stats", "Outcomes and durations, overall and per component");
  AddDaemonFlags(stats, f);
  stats->callback([=] {
    std::vector<engine::Reply> pages;
    auto page = [&](const std::string& after) { return engine::cmd::QueryStatisticsPage(after, MetaOf(*f)); };
    if ((*exit_code = FetchPages(*f, page, fb::QueryAnswer::StatisticsResult, &pages)) != kExitOk) return;
    if (f->json) std::cout << PagesJson(pages).dump() << "\n";
    else PrintStats(Answers<fb::StatisticsResult>(pages), f->wide);
  });
}

}  // namespace

void AddDaemonFlags(CLI::App* cmd, const Flags& f) {
  cmd->add_option("--commands", f->commands, "Command endpoint of upgraded")->default_str(f->commands);
  cmd->add_option("--events", f->events, "Event endpoint of upgraded");
  cmd->add_option("--replay", f->replay, "Replay endpoint of upgraded");
  AddDurationOption(cmd, "--request-timeout", &f->request_timeout_ns, "How long to wait for each reply (5s, 500ms)");
  cmd->add_option_function<std::string>(
         "-o,--output", [f](const std::string& o) { f->json = o == "json", f->wide = o == "wide"; },
         "table (default), wide (more columns) or json")
      ->check(CLI::IsMember({"table", "wide", "json"}));
  cmd->add_flag_callback("--json", [f] { f->json = true, f->wide = false; }, "Same as -o json");
  cmd->add_option("--actor", f->actor, "A note of who is asking (default: $USER); the daemon records its key's name");
  cmd->add_option("--server-key", f->server_key, "The daemon's CURVE public key (Z85, or its .pub file)");
  cmd->add_option("--key", f->key, "This client's CURVE key pair file (upgradectl keys generate)");
}

std::shared_ptr<DaemonFlags> DefaultDaemonFlags() {
  auto f = std::make_shared<DaemonFlags>();
  ClientConfig c;
  f->config_error = LoadClientConfig(&c);
  f->commands = c.commands;
  f->events = c.events;
  f->replay = c.replay;
  f->server_key = c.server_public_key;
  f->key = c.client_key;
  return f;
}

Result<bus::CurveClientKeys> CurveOf(const DaemonFlags& f) {
  if (!f.config_error.ok()) return f.config_error;
  ClientConfig c;
  c.server_public_key = f.server_key;
  c.client_key = f.key;
  return CurveKeysOf(c);
}

void AddDaemonCommands(CLI::App& app, int* exit_code) {
  auto f = DefaultDaemonFlags();
  AddComponentCommands(app, f, exit_code);
  AddUpgradeCommands(app, f, exit_code);
  AddRollbackCommands(app, f, exit_code);  // rollback_commands.cc
  AddReportCommands(app, f, exit_code);
}

}  // namespace noodle::tools
