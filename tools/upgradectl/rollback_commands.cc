// rollback point NAME; rollback to POINT|--seq|--time: the engine's plan
// first (a dry run of the same command), then a confirmation on a terminal
// unless --yes, then the rollback.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "daemon_client.h"
#include "daemon_commands.h"
#include "exit_codes.h"
#include "flags.h"
#include "follow.h"
#include "print.h"
#include "time_text.h"

namespace noodle::tools {
namespace {

using nlohmann::json;
using Flags = std::shared_ptr<DaemonFlags>;

struct RollbackFlags {
  std::string point, positional, time, reason;
  uint64_t seq = 0;
  int64_t time_ns = 0;
  int64_t wait_ns = 0;
  bool yes = false, dry_run = false;
};

// Exactly one target; the time strictly RFC 3339. InvalidArgument otherwise.
Status CheckTarget(RollbackFlags* r) {
  if (!r->positional.empty()) {
    if (!r->point.empty() && r->point != r->positional) return Status::InvalidArgument("give the point once (POINT or --point)");
    r->point = r->positional;
  }
  if (!r->time.empty()) {
    auto t = ParseRfc3339(r->time);
    if (!t.ok()) return Status::InvalidArgument("--time " + t.status().message());
    if (t.value() <= 0) return Status::InvalidArgument("--time must be after 1970-01-01T00:00:00Z");
    r->time_ns = t.value();
  }
  if ((!r->point.empty()) + (r->seq > 0) + (!r->time.empty()) != 1) {
    return Status::InvalidArgument("give exactly one of POINT (or --point), --seq, --time");
  }
  return Status::OK();
}

void PrintPlan(const json& plan) {
  std::cout << "rollback to seq " << plan.value("to_seq", 0)
            << (plan.value("point", "").empty() ? "" : " (point " + plan.value("point", "") + ")") << ":\n";
  size_t width = 0;
  for (const char* k : {"downgrade", "register", "deregister"}) {
    for (const auto& c : plan.value(k, json::array())) width = std::max(width, c.value("name", "").size());
  }
  auto name = [&](const json& c) { return c.value("name", "") + std::string(width - c.value("name", "").size() + 2, ' '); };
  size_t changes = 0;
  for (const auto& c : plan.value("downgrade", json::array())) {
    std::cout << "  downgrade   " << name(c) << c.value("from", "") << " -> " << c.value("to", "") << "\n";
    ++changes;
  }
  for (const auto& c : plan.value("register", json::array())) {
    std::cout << "  register    " << name(c) << c.value("version", "") << "\n";
    ++changes;
  }
  for (const auto& c : plan.value("deregister", json::array())) {
    std::cout << "  deregister  " << name(c) << c.value("version", "") << "\n";
    ++changes;
  }
  if (changes == 0) std::cout << "  nothing to change\n";
}

// Asks on the terminal; true when the operator answers y or yes.
bool Confirmed() {
  std::cout << "Roll back? [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

int RunRollbackTo(const DaemonFlags& f, RollbackFlags r) {
  if (Status s = CheckTarget(&r); !s.ok()) return Fail(s);
  engine::Reply dry;
  if (int rc = Send(f, engine::cmd::RollBack(r.point, r.seq, r.time_ns, r.reason, MetaOf(f), true), &dry); rc != kExitOk) {
    return rc;
  }
  const json plan = json::parse(dry.result_json, nullptr, false);
  if (!plan.is_object()) return Fail(Status::Corruption("the plan is no JSON object"), "reply");
  if (f.json && r.dry_run) std::cout << plan.dump() << "\n";
  if (!f.json) PrintPlan(plan);
  if (r.dry_run) return kExitOk;
  if (!r.yes) {
    if (!isatty(STDIN_FILENO)) {
      return Fail(Status::InvalidArgument("not asking for confirmation without a terminal: pass --yes to roll back"));
    }
    if (!Confirmed()) {
      std::cerr << "upgradectl: rollback not confirmed; nothing changed\n";
      return kExitRejected;
    }
  }
  if (r.wait_ns > 0) {  // --wait follows the event stream: check it answers before asking
    if (int rc = Reach(f, f.events); rc != kExitOk) return rc;
  }
  const std::string command = engine::cmd::RollBack(r.point, r.seq, r.time_ns, r.reason, MetaOf(f));
  engine::Reply reply;
  if (int rc = Simple(f, command, "rollback started:", &reply); rc != kExitOk || r.wait_ns == 0) return rc;
  if (reply.ids.empty()) return Fail(Status::Corruption("the accepted rollback names no operation"), "reply");
  return FollowRollback(f, reply.ids.front(), reply.seqs.empty() ? 1 : reply.seqs.front(), r.wait_ns);
}

}  // namespace

void AddRollbackCommands(CLI::App& app, const Flags& f, int* exit_code) {
  auto* rollback = app.add_subcommand("rollback", "Rollback points, and rolling back to one");
  rollback->require_subcommand(1);
  auto name = std::make_shared<std::string>();
  auto* point = rollback->add_subcommand("point", "Create a named rollback point at the log's current position");
  AddDaemonFlags(point, f);
  point->add_option("name", *name, "Point name")->required();
  point->callback([=] { *exit_code = Simple(*f, engine::cmd::Point(*name, MetaOf(*f)), "rollback point " + *name); });
  auto r = std::make_shared<RollbackFlags>();
  auto* to = rollback->add_subcommand(
      "to", "Roll the registry back to a point, a seq or a time: prints the plan, then asks (or --yes)");
  AddDaemonFlags(to, f);
  to->add_option("POINT", r->positional, "Rollback point name (also before-upgrade-ID, an upgrade's own point)");
  to->add_option("--point", r->point, "Rollback point name");
  to->add_option("--seq", r->seq, "Log seq");
  to->add_option("--time", r->time, "Time: RFC 3339 with an offset (2026-11-29T04:00:00Z, ...T05:00:00+01:00)");
  to->add_option("--reason", r->reason, "Why");
  to->add_flag("--yes,-y", r->yes, "Do not ask for confirmation (needed without a terminal)");
  to->add_flag("--dry-run", r->dry_run, "Print the plan only; change nothing");
  AddDurationOption(to, "--wait", &r->wait_ns, "Follow the rollback's events for up to this long (2m, 90s); exit 0 only if it completed");
  to->callback([=] { *exit_code = RunRollbackTo(*f, *r); });
}

}  // namespace noodle::tools
