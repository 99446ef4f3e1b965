#include "upgrade_lookup.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "daemon_client.h"
#include "enum_names.h"
#include "exit_codes.h"
#include "print.h"
#include "query_print.h"
#include "table.h"
#include "time_text.h"

namespace noodle::tools {
namespace {

using nlohmann::json;

std::string Str(const flatbuffers::String* s) { return s == nullptr ? "" : s->str(); }

UpgradeRow RowOf(const fb::UpgradeInfo& u) {
  UpgradeRow r;
  r.id = proj::Id::From(u.id());
  r.component = Str(u.component());
  r.from = Str(u.from_version());
  r.to = Str(u.to_version());
  r.phase = fb::EnumNamePhase(u.phase());
  r.strategy = fb::EnumNameStrategyKind(u.strategy());
  r.reason = Str(u.reason());
  r.requested_ns = u.requested_ns();
  r.started_ns = u.started_ns();
  r.finished_ns = u.finished_ns();
  r.weight = u.weight();
  r.ended = u.phase() >= fb::Phase::Completed;  // the phases from Completed on are ends
  return r;
}

bool IsHex(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c); });
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Candidates(const std::vector<const UpgradeRow*>& rows) {
  std::string out;
  for (const auto* r : rows) out += "\n  " + r->id.hex() + "  " + r->component + " " + r->from + " -> " + r->to + "  " + r->phase;
  return out;
}

struct ListFlags {
  std::string component, phase, since;
};

// The phase as the schema spells it, matched case-insensitively.
Result<std::string> PhaseNamed(const std::string& text) {
  std::string valid;
  const char* (*name)(fb::Phase) = fb::EnumNamePhase;
  if (auto p = EnumNamed(text, fb::EnumValuesPhase(), name, &valid)) return std::string(name(*p));
  return Status::InvalidArgument("--phase '" + text + "': not a phase; one of " + valid);
}

json RowJson(const UpgradeRow& r) {
  return {{"id", r.id.hex()}, {"component", r.component}, {"from_version", r.from}, {"to_version", r.to},
          {"phase", r.phase}, {"strategy", r.strategy}, {"weight", r.weight}, {"reason", r.reason},
          {"requested", r.requested_ns ? FormatTime(r.requested_ns) : ""},
          {"finished", r.finished_ns ? FormatTime(r.finished_ns) : ""}};
}

int RunList(const DaemonFlags& f, const ListFlags& l) {
  std::string phase;
  int64_t since = 0;
  if (!l.phase.empty()) {
    auto p = PhaseNamed(l.phase);
    if (!p.ok()) return Fail(p.status());
    phase = p.value();
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (!l.since.empty()) {
    auto s = ParseSince(l.since, now);
    if (!s.ok()) return Fail(s.status());
    since = s.value();
  }
  std::vector<UpgradeRow> all;
  if (int rc = ListUpgrades(f, &all); rc != kExitOk) return rc;
  std::vector<std::vector<std::string>> table{{"ID", "COMPONENT", "FROM", "TO", "PHASE", "STRATEGY", "REQUESTED", "DURATION"}};
  json out = json::array();
  for (const auto& r : all) {
    if ((!l.component.empty() && r.component != l.component) || (!phase.empty() && r.phase != phase) || r.requested_ns < since) continue;
    const int64_t begin = r.started_ns ? r.started_ns : r.requested_ns;
    const int64_t end = r.finished_ns ? r.finished_ns : now;
    out.push_back(RowJson(r));
    table.push_back({r.id.hex(), r.component, r.from.empty() ? "-" : r.from, r.to, Label(r.phase.c_str()), Label(r.strategy.c_str()),
                     r.requested_ns ? FormatTime(r.requested_ns) : "-", begin ? HumanDuration(end - begin) : "-"});
  }
  if (f.json) std::cout << out.dump() << "\n";
  else if (table.size() == 1) std::cout << "no upgrades\n";
  else PrintTable(table, std::cout);
  return kExitOk;
}

}  // namespace

int ListUpgrades(const DaemonFlags& f, std::vector<UpgradeRow>* rows) {
  std::vector<engine::Reply> pages;
  auto page = [&](const std::string& after) { return engine::cmd::QueryStatusPage(after, MetaOf(f)); };
  if (int rc = FetchPages(f, page, fb::QueryAnswer::StatusResult, &pages); rc != kExitOk) return rc;
  rows->clear();
  for (const auto* p : Answers<fb::StatusResult>(pages)) {
    if (p->active() != nullptr) for (const auto* u : *p->active()) rows->push_back(RowOf(*u));
  }
  for (const auto* p : Answers<fb::StatusResult>(pages)) {
    if (p->recent() != nullptr) for (const auto* u : *p->recent()) rows->push_back(RowOf(*u));
  }
  return kExitOk;
}

Result<proj::Id> ResolveIn(const std::vector<UpgradeRow>& rows, const std::string& text) {
  if (text.size() == 32 && IsHex(text)) {
    const auto full = IdFromHex(text);
    if (full) return proj::Id::From(&*full);
  }
  std::vector<const UpgradeRow*> by_prefix, by_name;
  const std::string prefix = Lower(text);
  for (const auto& r : rows) {
    if (IsHex(text) && r.id.hex().starts_with(prefix)) by_prefix.push_back(&r);
    if (r.component == text && !r.ended) by_name.push_back(&r);
  }
  if (by_prefix.size() == 1 && by_name.empty()) return by_prefix.front()->id;
  if (by_name.size() == 1 && by_prefix.empty()) return by_name.front()->id;
  by_prefix.insert(by_prefix.end(), by_name.begin(), by_name.end());
  if (by_prefix.size() > 1) return Status::InvalidArgument("'" + text + "' names more than one upgrade:" + Candidates(by_prefix));
  return Status::InvalidArgument("no upgrade matches '" + text +
                                 "': give an upgrade id, a unique prefix of one, or a component with an upgrade in flight "
                                 "(upgradectl upgrade list)");
}

int ResolveUpgrade(const DaemonFlags& f, const std::string& text, proj::Id* id) {
  std::vector<UpgradeRow> rows;
  if (!(text.size() == 32 && IsHex(text))) {
    if (int rc = ListUpgrades(f, &rows); rc != kExitOk) return rc;
  }
  auto r = ResolveIn(rows, text);
  if (!r.ok()) return Fail(r.status());
  *id = r.value();
  return kExitOk;
}

void AddUpgradeList(CLI::App* upgrade, const std::shared_ptr<DaemonFlags>& f, int* exit_code) {
  auto l = std::make_shared<ListFlags>();
  auto* list = upgrade->add_subcommand("list", "Upgrades in flight and the newest ended ones, as a table");
  AddDaemonFlags(list, f);
  list->add_option("--component", l->component, "Only this component's");
  list->add_option("--phase", l->phase, "Only upgrades in this phase (Running, Paused, Completed, Failed, ...)");
  list->add_option("--since", l->since, "Only those requested since: a duration (30s, 10m, 2h) or an RFC 3339 time");
  list->callback([=] { *exit_code = RunList(*f, *l); });
}

}  // namespace noodle::tools
