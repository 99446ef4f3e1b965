#include "daemon_commands.h"

#include <chrono>
#include <cstring>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "client_config.h"
#include "component_json.h"
#include "exit_codes.h"
#include "noodle/bus/client.h"
#include "noodle/protocol/commands.h"
#include "noodle/protocol/reply.h"
#include "noodle/envelope.h"
#include "print.h"

namespace noodle::tools {
namespace {

using nlohmann::json;
using Flags = std::shared_ptr<DaemonFlags>;

json ReplyJson(const engine::Reply& r) {
  json j{{"accepted", r.accepted}};
  if (r.accepted) {
    json ids = json::array();
    for (const auto& id : r.ids) ids.push_back(id.hex());
    j["ids"] = ids;
    j["seqs"] = r.seqs;
    if (!r.result_json.empty()) j["result"] = json::parse(r.result_json, nullptr, false);
  } else {
    j["code"] = fb::EnumNameRejectCode(r.code);
    j["message"] = r.message;
    json errors = json::array();
    for (const auto& e : r.errors) errors.push_back({{"code", e.code}, {"field", e.field}, {"message", e.message}});
    j["errors"] = errors;
  }
  return j;
}

void PrintRejection(const engine::Reply& r) {
  std::cerr << "upgradectl: rejected (" << fb::EnumNameRejectCode(r.code) << "): " << r.message << "\n";
  for (const auto& e : r.errors) {
    std::cerr << "  - " << e.code << (e.field.empty() ? "" : " [" + e.field + "]") << ": " << e.message << "\n";
  }
}

// Sends a command; 0 when accepted, else the exit code (after printing why).
int Send(const DaemonFlags& f, const std::string& command, engine::Reply* reply) {
  // One connection for the whole invocation (--wait polls through it too).
  static std::unique_ptr<bus::CommandClient> client;
  if (!client) {
    bus::CommandClientOptions o;
    o.timeout_ms = f.timeout_ms;
    auto curve = CurveOf(f);
    if (!curve.ok()) return Fail(curve.status());
    o.curve = *curve;
    bus::CommandClient::Connect(f.commands, o, &client);
  }
  auto bytes = client->Call(command);
  if (!bytes.ok()) return Fail(bytes.status(), "daemon at " + f.commands);
  if (Status s = engine::DecodeReply(bytes.value(), reply); !s.ok()) return Fail(s, "reply");
  if (!reply->accepted) {
    if (f.json) std::cout << ReplyJson(*reply).dump() << "\n";
    else PrintRejection(*reply);
    return kExitRejected;
  }
  return kExitOk;
}

engine::cmd::Meta MetaOf(const DaemonFlags& f) {
  const char* user = std::getenv("USER");
  return {{}, std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count(),
          !f.actor.empty() ? f.actor : (user != nullptr && *user ? user : "upgradectl")};
}

// Adds one page of a listing to the whole: lists are appended, objects gain
// the page's members, and the rest (counters, totals, seq) is the newest
// page's.
void MergePage(json* whole, json page) {
  if (!whole->is_object() || !page.is_object()) {
    *whole = std::move(page);
    return;
  }
  for (auto& [key, value] : page.items()) {
    json& w = (*whole)[key];
    if (value.is_array() && w.is_array()) w.insert(w.end(), value.begin(), value.end());
    else if (value.is_object() && w.is_object()) w.update(value);
    else w = std::move(value);
  }
}

// Sends a paged query (page(after) builds it) page after page until the
// reply's next is empty, and merges the answers into *whole. A daemon that
// does not page answers whole, with no next. 0 when every page was accepted.
int FetchAll(const DaemonFlags& f, const std::function<std::string(const std::string&)>& page, json* whole) {
  constexpr int kMaxPages = 1'000'000;  // each page holds an entry at least: only a broken daemon gets here
  *whole = json();
  std::string after;
  for (int n = 0; n < kMaxPages; ++n) {
    engine::Reply r;
    if (int rc = Send(f, page(after), &r); rc != kExitOk) return rc;
    json j = json::parse(r.result_json, nullptr, false);
    if (j.is_discarded()) return Fail(Status::Corruption("the answer is not JSON"), "reply");
    MergePage(whole, std::move(j));
    if (r.next.empty()) return kExitOk;
    if (r.next == after) return Fail(Status::Corruption("the next page starts where this one did"), "reply");
    after = std::move(r.next);
  }
  return Fail(Status::Corruption("more pages than any listing has"), "reply");
}

// For commands whose answer is just "accepted".
int Simple(const DaemonFlags& f, const std::string& command, const std::string& what) {
  engine::Reply r;
  if (int rc = Send(f, command, &r); rc != kExitOk) return rc;
  if (f.json) {
    std::cout << ReplyJson(r).dump() << "\n";
  } else {
    std::cout << what;
    if (!r.ids.empty()) std::cout << " " << r.ids.front().hex();
    if (!r.seqs.empty()) std::cout << " (seq " << r.seqs.front() << (r.seqs.size() > 1 ? ".." + std::to_string(r.seqs.back()) : "") << ")";
    std::cout << "\n";
  }
  return kExitOk;
}

Result<proj::Id> ParseId(const std::string& text) {
  auto id = IdFromHex(text);
  if (!id) return Status::InvalidArgument("'" + text + "' is not an upgrade id (32 hex digits)");
  return proj::Id::From(&*id);
}

// Waits until the upgrade has ended; prints how. 0 when completed.
int WaitForEnd(const DaemonFlags& f, const proj::Id& id, int seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    engine::Reply r;
    if (int rc = Send(f, engine::cmd::QueryStatus(id, MetaOf(f)), &r); rc != kExitOk) return rc;
    const json s = json::parse(r.result_json, nullptr, false);
    const std::string phase = s.value("phase", "");
    if (phase != "queued" && phase != "running" && phase != "paused" && phase != "rolling_back") {
      if (f.json) std::cout << s.dump() << "\n";
      else std::cout << "upgrade " << id.hex() << " " << phase << (s.value("reason", "").empty() ? "" : ": " + s.value("reason", "")) << "\n";
      return phase == "completed" ? kExitOk : kExitRejected;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cerr << "upgradectl: upgrade " << id.hex() << " still in progress after " << seconds << " s\n";
  return kExitRejected;
}

void PrintRegistry(const json& reg) {
  std::printf("%-20s %-14s %-10s %s\n", "COMPONENT", "VERSION", "TYPE", "DEPENDENCIES");
  for (const auto& c : reg["components"]) {
    std::string deps;
    for (const auto& d : c["dependencies"]) deps += (deps.empty() ? "" : ", ") + d["name"].get<std::string>() + " " + d["range"].get<std::string>();
    std::printf("%-20s %-14s %-10s %s\n", c["name"].get<std::string>().c_str(), c["version"].get<std::string>().c_str(),
                c["type"].get<std::string>().c_str(), deps.empty() ? "-" : deps.c_str());
  }
}

void PrintStatus(const json& s) {
  std::cout << "upgrades in progress: " << s["active"].size() << "   ended: " << s["history_count"] << "   log seq: " << s["seq"] << "\n";
  for (const auto& u : s["active"]) {
    std::string steps;
    for (const auto& st : u["steps"]) {
      const std::string state = st["state"];
      steps += state == "succeeded" ? "#" : state == "running" ? ">" : state == "failed" ? "x" : ".";
    }
    std::cout << "  " << u["id"].get<std::string>() << "  " << u["component"].get<std::string>() << " "
              << u["from"].get<std::string>() << " -> " << u["to"].get<std::string>() << "  "
              << u["strategy"].get<std::string>() << "  " << u["phase"].get<std::string>() << "  weight "
              << u["weight"] << "%  steps [" << steps << "]" << (u["reason"].get<std::string>().empty() ? "" : "  " + u["reason"].get<std::string>()) << "\n";
  }
  for (const auto& r : s["recent"]) {
    std::cout << "  ended  " << r["id"].get<std::string>() << "  " << r["component"].get<std::string>() << " "
              << r["from"].get<std::string>() << " -> " << r["to"].get<std::string>() << "  " << r["phase"].get<std::string>()
              << (r["reason"].get<std::string>().empty() ? "" : "  (" + r["reason"].get<std::string>() + ")") << "\n";
  }
}

void PrintStats(const json& s) {
  std::cout << "outcomes:";
  for (const auto& [k, v] : s["outcomes"].items()) std::cout << "  " << k << " " << v;
  const auto& d = s["durations"];
  std::cout << "\ndurations (" << d["count"] << " ended): min " << d["min_ms"] << " ms, median " << d["median_ms"]
            << " ms, p95 " << d["p95_ms"] << " ms, max " << d["max_ms"] << " ms\nin flight: " << s["in_flight"] << "\n";
  for (const auto& [name, c] : s["per_component"].items()) {
    std::cout << "  " << name << ":";
    for (const auto& [k, v] : c["outcomes"].items()) std::cout << " " << k << " " << v;
    std::cout << "; median " << c["durations"]["median_ms"] << " ms, p95 " << c["durations"]["p95_ms"] << " ms\n";
  }
}

Result<int64_t> ParseTime(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) return static_cast<int64_t>(std::stoll(text));
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr || (*end != '\0' && std::string(end) != "Z")) {
    return Status::InvalidArgument("--time: nanoseconds since the epoch or YYYY-MM-DDTHH:MM:SSZ (UTC)");
  }
  return static_cast<int64_t>(timegm(&tm)) * 1'000'000'000;
}

struct UpgradeFlags {
  std::string component, version, expected, strategy = "immediate", level = "standard", id, target_file;
  uint32_t steps = 1, pause_ms = 0, max_unavailable = 1, timeout_ms = 600000;
  std::vector<int> weights;
  int priority = 0, wait = 0;
  bool no_rollback = false, allow_breaking = false, dry_run = false;
};

int RunUpgradeStart(const DaemonFlags& f, const UpgradeFlags& u) {
  engine::cmd::UpgradeRequest r;
  if (!u.id.empty()) {
    auto id = ParseId(u.id);
    if (!id.ok()) return Fail(id.status());
    r.upgrade_id = id.value();
  }
  r.component = u.component;
  r.target_version = u.version;
  r.expected_version = u.expected;
  static const std::map<std::string, fb::StrategyKind> kinds = {
      {"immediate", fb::StrategyKind::Immediate}, {"gradual", fb::StrategyKind::Gradual}, {"canary", fb::StrategyKind::Canary},
      {"blue_green", fb::StrategyKind::BlueGreen}, {"rolling", fb::StrategyKind::Rolling}};
  r.strategy = kinds.at(u.strategy);
  r.steps = u.steps;
  for (int w : u.weights) r.weights.push_back(static_cast<uint8_t>(std::clamp(w, 0, 255)));
  r.pause_ms = u.pause_ms;
  r.max_unavailable = u.max_unavailable;
  r.priority = u.priority;
  r.timeout_ms = u.timeout_ms;
  r.rollback_enabled = !u.no_rollback;
  r.level = u.level == "basic" ? fb::ValidationLevel::Basic : u.level == "strict" ? fb::ValidationLevel::Strict : fb::ValidationLevel::Standard;
  r.allow_breaking = u.allow_breaking;
  r.dry_run = u.dry_run;
  r.requested_by = MetaOf(f).actor;
  if (!u.target_file.empty()) {
    std::ifstream in(u.target_file);
    json j = json::parse(in, nullptr, false);
    proj::Component c;
    if (j.is_discarded()) return Fail(Status::InvalidArgument(u.target_file + ": invalid JSON"));
    if (Status s = ComponentFromJson(j, &c); !s.ok()) return Fail(s, u.target_file);
    r.target = c;
  }
  proj::Id id;
  engine::Reply reply;
  if (int rc = Send(f, engine::cmd::Upgrade(r, MetaOf(f), &id), &reply); rc != kExitOk) {
    if (u.dry_run && !reply.result_json.empty() && !f.json) std::cout << json::parse(reply.result_json).dump(2) << "\n";
    return rc;
  }
  if (f.json) std::cout << ReplyJson(reply).dump() << "\n";
  else if (u.dry_run) std::cout << json::parse(reply.result_json).dump(2) << "\n";
  else std::cout << "upgrade " << id.hex() << " accepted: " << u.component << " -> " << u.version << "\n";
  if (u.wait > 0 && !u.dry_run) return WaitForEnd(f, id, u.wait);
  return kExitOk;
}

}  // namespace

void AddDaemonFlags(CLI::App* cmd, const Flags& f) {
  cmd->add_option("--commands", f->commands, "Command endpoint of upgraded")->default_str(f->commands);
  cmd->add_option("--events", f->events, "Event endpoint of upgraded");
  cmd->add_option("--replay", f->replay, "Replay endpoint of upgraded");
  cmd->add_option("--timeout", f->timeout_ms, "Milliseconds to wait for each reply");
  cmd->add_flag("--json", f->json, "Print JSON");
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

  // component
  auto* component = app.add_subcommand("component", "Register, list, show and deregister components");
  component->require_subcommand(1);
  auto spec_file = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  auto* reg = component->add_subcommand("register", "Register a component from a JSON spec");
  AddDaemonFlags(reg, f);
  reg->add_option("--file,-f", *spec_file, "Component spec (JSON; see README)")->required();
  reg->callback([=] {
    std::ifstream in(*spec_file);
    if (!in) {
      *exit_code = Fail(Status::InvalidArgument("cannot read " + *spec_file));
      return;
    }
    json j = json::parse(in, nullptr, false);
    proj::Component c;
    if (j.is_discarded()) {
      *exit_code = Fail(Status::InvalidArgument(*spec_file + ": invalid JSON"));
      return;
    }
    if (Status s = ComponentFromJson(j, &c); !s.ok()) {
      *exit_code = Fail(s, *spec_file);
      return;
    }
    *exit_code = Simple(*f, engine::cmd::Register(c, MetaOf(*f)), "registered " + c.name + " " + c.version);
  });
  auto* list = component->add_subcommand("list", "List registered components");
  AddDaemonFlags(list, f);
  list->callback([=] {
    json reg;
    auto page = [&](const std::string& after) { return engine::cmd::QueryRegistryPage(after, 0, MetaOf(*f)); };
    if ((*exit_code = FetchAll(*f, page, &reg)) != kExitOk) return;
    if (f->json) std::cout << reg.dump() << "\n";
    else PrintRegistry(reg);
  });
  auto* show = component->add_subcommand("show", "Show one component");
  AddDaemonFlags(show, f);
  show->add_option("name", *name, "Component name")->required();
  show->callback([=] {
    engine::Reply r;
    if ((*exit_code = Send(*f, engine::cmd::QueryRegistry(*name, MetaOf(*f)), &r)) != kExitOk) return;
    std::cout << (f->json ? r.result_json : json::parse(r.result_json).dump(2)) << "\n";
  });
  auto* dereg = component->add_subcommand("deregister", "Deregister a component");
  AddDaemonFlags(dereg, f);
  dereg->add_option("name", *name, "Component name")->required();
  dereg->add_option("--reason", *reason, "Why");
  dereg->callback([=] { *exit_code = Simple(*f, engine::cmd::Deregister(*name, *reason, MetaOf(*f)), "deregistered " + *name); });

  // upgrade
  auto* upgrade = app.add_subcommand("upgrade", "Start, cancel, promote, abort upgrades; show their status");
  upgrade->require_subcommand(1);
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
  start->add_option("--pause-ms", u->pause_ms, "canary: pause after each weight (0: until promoted)");
  start->add_option("--max-unavailable", u->max_unavailable, "rolling: instances down at once");
  start->add_option("--priority", u->priority, "Higher goes first when upgrades wait");
  start->add_option("--timeout-ms", u->timeout_ms, "Fail (and roll back) after this long");
  start->add_flag("--no-rollback", u->no_rollback, "Leave a failed upgrade where it stopped");
  start->add_option("--level", u->level, "Validation: basic, standard, strict")->check(CLI::IsMember({"basic", "standard", "strict"}));
  start->add_flag("--allow-breaking", u->allow_breaking, "Allow a major version change");
  start->add_flag("--dry-run", u->dry_run, "Validate and print the plan; change nothing");
  start->add_option("--id", u->id, "Upgrade id (32 hex digits; default: new)");
  start->add_option("--target", u->target_file, "Spec of the new version (JSON), when it changes more than the version");
  start->add_option("--wait", u->wait, "Wait up to this many seconds for the upgrade to end; exit 0 only if it completed");
  start->callback([=] { *exit_code = RunUpgradeStart(*f, *u); });

  auto id_text = std::make_shared<std::string>();
  auto on_id = [=](const char* verb, const char* done, const char* help, auto make) {
    auto* c = upgrade->add_subcommand(verb, help);
    AddDaemonFlags(c, f);
    c->add_option("id", *id_text, "Upgrade id")->required();
    c->add_option("--reason", *reason, "Why");
    c->callback([=] {
      auto id = ParseId(*id_text);
      if (!id.ok()) {
        *exit_code = Fail(id.status());
        return;
      }
      *exit_code = Simple(*f, make(id.value(), *reason, MetaOf(*f)), done);
    });
  };
  on_id("cancel", "cancelled", "Cancel an upgrade (rolls back what ran)", [](const proj::Id& id, const std::string& why, const engine::cmd::Meta& m) { return engine::cmd::Cancel(id, why, m); });
  on_id("abort", "aborted", "Abort an upgrade (canary: traffic back to the old version)", [](const proj::Id& id, const std::string& why, const engine::cmd::Meta& m) { return engine::cmd::Abort(id, why, m); });
  on_id("promote", "promoted", "Promote a paused canary to its next weight", [](const proj::Id& id, const std::string&, const engine::cmd::Meta& m) { return engine::cmd::Promote(id, m); });
  auto* ustatus = upgrade->add_subcommand("status", "Status of one upgrade");
  AddDaemonFlags(ustatus, f);
  ustatus->add_option("id", *id_text, "Upgrade id")->required();
  ustatus->callback([=] {
    auto id = ParseId(*id_text);
    if (!id.ok()) {
      *exit_code = Fail(id.status());
      return;
    }
    engine::Reply r;
    if ((*exit_code = Send(*f, engine::cmd::QueryStatus(id.value(), MetaOf(*f)), &r)) != kExitOk) return;
    std::cout << (f->json ? r.result_json : json::parse(r.result_json).dump(2)) << "\n";
  });

  // rollback
  auto* rollback = app.add_subcommand("rollback", "Rollback points, and rolling back to one");
  rollback->require_subcommand(1);
  auto* point = rollback->add_subcommand("point", "Create a named rollback point at the log's current position");
  AddDaemonFlags(point, f);
  point->add_option("name", *name, "Point name")->required();
  point->callback([=] { *exit_code = Simple(*f, engine::cmd::Point(*name, MetaOf(*f)), "rollback point " + *name); });
  auto to_seq = std::make_shared<uint64_t>(0);
  auto to_time = std::make_shared<std::string>();
  auto wait = std::make_shared<int>(0);
  auto* to = rollback->add_subcommand("to", "Roll the registry back to a point, a seq or a time");
  AddDaemonFlags(to, f);
  to->add_option("--point", *name, "Rollback point name");
  to->add_option("--seq", *to_seq, "Log seq");
  to->add_option("--time", *to_time, "Time: ns since the epoch or YYYY-MM-DDTHH:MM:SSZ");
  to->add_option("--reason", *reason, "Why");
  to->add_option("--wait", *wait, "Wait up to this many seconds for the rollback to finish");
  to->callback([=] {
    int64_t t = 0;
    if (!to_time->empty()) {
      auto parsed = ParseTime(*to_time);
      if (!parsed.ok()) {
        *exit_code = Fail(parsed.status());
        return;
      }
      t = parsed.value();
    }
    if ((!name->empty()) + (*to_seq > 0) + (t > 0) != 1) {
      *exit_code = Fail(Status::InvalidArgument("give exactly one of --point, --seq, --time"));
      return;
    }
    *exit_code = Simple(*f, engine::cmd::RollBack(*name, *to_seq, t, *reason, MetaOf(*f)), "rollback started:");
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(*wait);
    while (*exit_code == kExitOk && std::chrono::steady_clock::now() < end) {
      json st;
      auto page = [&](const std::string& after) { return engine::cmd::QueryStatusPage(after, MetaOf(*f)); };
      if ((*exit_code = FetchAll(*f, page, &st)) != kExitOk) return;
      if (st["rollbacks"].empty()) {
        if (!f->json) std::cout << "rollback finished\n";
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });

  auto* status = app.add_subcommand("status", "Upgrades in progress, recent ones, history count");
  AddDaemonFlags(status, f);
  status->callback([=] {
    json st;
    auto page = [&](const std::string& after) { return engine::cmd::QueryStatusPage(after, MetaOf(*f)); };
    if ((*exit_code = FetchAll(*f, page, &st)) != kExitOk) return;
    if (f->json) std::cout << st.dump() << "\n";
    else PrintStatus(st);
  });
  auto* stats = app.add_subcommand("stats", "Outcomes and durations, overall and per component");
  AddDaemonFlags(stats, f);
  stats->callback([=] {
    json st;
    auto page = [&](const std::string& after) { return engine::cmd::QueryStatisticsPage(after, MetaOf(*f)); };
    if ((*exit_code = FetchAll(*f, page, &st)) != kExitOk) return;
    if (f->json) std::cout << st.dump() << "\n";
    else PrintStats(st);
  });
}

}  // namespace noodle::tools
