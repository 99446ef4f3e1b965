#include "watch_table.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "daemon_client.h"
#include "noodle/bus/client.h"
#include "noodle/envelope.h"
#include "noodle/projections/status.h"
#include "print.h"
#include "table.h"
#include "time_text.h"

namespace noodle::tools {
namespace {

using Clock = std::chrono::steady_clock;
volatile std::sig_atomic_t g_stop = 0;

constexpr size_t kEndedShown = 10;  // ended upgrades kept in the table, newest

struct Row {
  std::string id, component, from, to, strategy, phase, weight, steps, updated, reason;
  std::vector<std::string> Cells() const { return {id, component, from, to, strategy, phase, weight, steps, updated, reason}; }
  bool operator==(const Row&) const = default;
};

const std::vector<std::string> kHeader{"ID", "COMPONENT", "FROM", "TO", "STRATEGY", "PHASE", "WEIGHT", "STEPS", "UPDATED", "REASON"};

std::string Dash(const std::string& s) { return s.empty() ? "-" : s; }

Row RowOf(const proj::Upgrade& u, int64_t updated_ns) {
  std::string reason = u.reason;
  if (u.unhealthy > 0) reason += (reason.empty() ? "" : "; ") + std::to_string(u.unhealthy) + " unhealthy checks";
  return {u.id.hex(), u.component, Dash(u.from_version), u.to_version, fb::EnumNameStrategyKind(u.strategy.kind), proj::PhaseName(u.phase),
          std::to_string(u.weight) + "%", "[" + StepMarks(u) + "]", FormatTime(updated_ns).substr(11, 12), Dash(reason)};
}

Row RowOf(const proj::UpgradeSummary& s) {
  return {s.id.hex(), s.component, Dash(s.from_version), s.to_version, "-", proj::PhaseName(s.phase), "-", "-",
          FormatTime(s.finished_ns).substr(11, 12), Dash(s.reason)};
}

// The table's rows: upgrades in flight, then the newest ended ones.
std::vector<Row> Rows(const proj::Status& status, const std::map<proj::Id, int64_t>& updated) {
  std::vector<Row> rows;
  for (const auto& [id, u] : status.upgrades) {
    auto it = updated.find(id);
    rows.push_back(RowOf(u, it == updated.end() ? u.requested_ns : it->second));
  }
  const size_t skip = status.recent.size() > kEndedShown ? status.recent.size() - kEndedShown : 0;
  for (size_t i = skip; i < status.recent.size(); ++i) rows.push_back(RowOf(status.recent[i]));
  return rows;
}

// Redraws the whole table in place (a terminal).
void Redraw(const std::vector<Row>& rows, uint64_t seq) {
  TableRows table{kHeader};
  for (const auto& r : rows) table.push_back(r.Cells());
  std::cout << "\x1b[H\x1b[2J" << "upgrades at log seq " << seq << "   " << FormatTime(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                                              std::chrono::system_clock::now().time_since_epoch()).count())
            << "   (Ctrl-C to stop)\n\n";
  if (rows.empty()) std::cout << "no upgrades yet\n";
  else PrintTable(table, std::cout);
}

// Appends the rows that changed since last time (a pipe or file): fixed
// widths, since rows come one at a time; as JSON lines with -o json.
void AppendChanged(const std::vector<Row>& rows, std::map<std::string, Row>* printed, bool json, bool* header) {
  for (const auto& r : rows) {
    auto it = printed->find(r.id);
    if (it != printed->end() && it->second == r) continue;
    (*printed)[r.id] = r;
    if (json) {
      nlohmann::json j;
      for (size_t i = 0; i < kHeader.size(); ++i) {
        std::string key = kHeader[i];
        for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        j[key] = r.Cells()[i];
      }
      std::cout << j.dump() << std::endl;
      continue;
    }
    if (!*header) {
      std::printf("%-32s  %-16s %-10s %-10s %-10s %-16s %-6s %-10s %-12s %s\n", "ID", "COMPONENT", "FROM", "TO", "STRATEGY", "PHASE", "WEIGHT",
                  "STEPS", "UPDATED", "REASON");
      *header = true;
    }
    std::printf("%-32s  %-16s %-10s %-10s %-10s %-16s %-6s %-10s %-12s %s\n", r.id.c_str(), r.component.c_str(), r.from.c_str(), r.to.c_str(),
                r.strategy.c_str(), r.phase.c_str(), r.weight.c_str(), r.steps.c_str(), r.updated.c_str(), r.reason.c_str());
    std::fflush(stdout);
  }
}

}  // namespace

std::string StepMarks(const proj::Upgrade& u) {
  std::string marks;
  for (auto st : u.steps) {
    marks += st == proj::StepState::kSucceeded ? '#' : st == proj::StepState::kRunning ? '>' : st == proj::StepState::kFailed ? 'x' : '.';
  }
  return marks;
}

int RunWatchTable(const DaemonFlags& f, const WatchLimits& limits) {
  if (int rc = Reach(f, f.replay); rc != kExitOk) return rc;
  if (int rc = Reach(f, f.events); rc != kExitOk) return rc;
  auto curve = CurveOf(f);
  if (!curve.ok()) return Fail(curve.status());
  auto last = LastSeq(f);
  if (!last.ok()) return Fail(last.status(), "daemon at " + f.replay);
  const uint64_t caught_up_at = last.value();  // the table is shown from there on
  bus::SubscriberOptions o;
  o.event_endpoint = f.events;
  o.replay_endpoint = f.replay;
  o.curve = *curve;
  o.from_seq = 1;
  std::unique_ptr<bus::EventSubscriber> sub;
  if (Status s = bus::EventSubscriber::Open(o, &sub); !s.ok()) return Fail(s, "subscribe");
  std::signal(SIGINT, [](int) { g_stop = 1; });
  const bool tty = isatty(STDOUT_FILENO) == 1 && !f.json;
  proj::Status status;
  std::map<proj::Id, int64_t> updated;
  std::map<std::string, Row> printed;
  bool header = false, said_empty = false, dirty = caught_up_at == 0, shown = false;
  uint64_t seq = 0;
  size_t seen = 0;
  auto last_event = Clock::now(), last_draw = Clock::time_point{};
  while (g_stop == 0 && seen < limits.limit) {
    if (limits.idle_ns > 0 && Clock::now() - last_event > std::chrono::nanoseconds(limits.idle_ns)) break;
    bus::ReceivedEvent ev;
    Status s = sub->Next(100, &ev);
    if (s.IsCorruption()) return Fail(s, "event stream");
    if (s.ok()) {
      const auto* env = fb::GetEventEnvelope(ev.bytes.data());
      proj::Evolve(status, *env);
      seq = ev.seq;
      if (env->stream()->string_view().starts_with("upgrade/")) {
        if (auto id = IdFromHex(env->stream()->string_view().substr(8))) updated[proj::Id::From(&*id)] = env->time_ns();
      }
      dirty = true;
      if (seq > caught_up_at) ++seen, last_event = Clock::now();
      if (seq < caught_up_at) continue;  // still replaying what came before
    }
    // Drawn once caught up, then on change; a terminal at most 5 times a second.
    if (!dirty || (tty && shown && s.ok() && Clock::now() - last_draw < std::chrono::milliseconds(200))) continue;
    for (auto it = updated.begin(); it != updated.end();) it = status.find(it->first) ? std::next(it) : updated.erase(it);
    const auto rows = Rows(status, updated);
    if (tty) Redraw(rows, seq);
    else AppendChanged(rows, &printed, f.json, &header);
    if (!tty && !header && !said_empty && !f.json && rows.empty()) std::cout << "no upgrades yet" << std::endl, said_empty = true;
    dirty = false, shown = true, last_draw = Clock::now();
  }
  if (dirty) {
    const auto rows = Rows(status, updated);
    if (tty) Redraw(rows, seq);
    else AppendChanged(rows, &printed, f.json, &header);
  }
  return kExitOk;
}

}  // namespace noodle::tools
