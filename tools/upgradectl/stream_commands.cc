// watch, events tail/replay, audit verify: reading the event stream of a
// running upgraded (live from its PUB endpoint, gap-free through replay).
#include <cctype>
#include <chrono>
#include <csignal>
#include <iostream>

#include "audit_commands.h"
#include "daemon_client.h"
#include "daemon_commands.h"
#include "exit_codes.h"
#include "event_text.h"
#include "flags.h"
#include "watch_table.h"
#include "noodle/bus/client.h"
#include "noodle/envelope.h"
#include "noodle/projections/registry.h"
#include "noodle/projections/status.h"
#include "noodle/store/chain.h"
#include "local_log.h"
#include "enum_names.h"
#include "print.h"

namespace noodle::tools {
namespace {

using Flags = std::shared_ptr<DaemonFlags>;
using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_interrupted = 0;

struct StreamFlags {
  uint64_t from = 0;  // 0: from now on
  uint64_t to = 0;    // 0: to the end
  size_t count = 10;  // events tail: how many of the newest
  size_t limit = SIZE_MAX;
  int64_t idle_ns = 0;  // stop after this long without an event; 0: run until interrupted
  bool follow = false, events = false;
  std::string stream, type, data_dir;
};

// One line about an upgrade as the watcher's local status sees it.
std::string UpgradeLine(const proj::Upgrade& u) {
  return u.component + " " + (u.from_version.empty() ? "?" : u.from_version) + " -> " + u.to_version + "  " +
         fb::EnumNameStrategyKind(u.strategy.kind) + "  " + proj::PhaseName(u.phase) + "  weight " +
         std::to_string(u.weight) + "%  steps [" + StepMarks(u) + "]" + (u.unhealthy ? "  unhealthy checks " + std::to_string(u.unhealthy) : "");
}

// The event type as the schema spells it, matched case-insensitively;
// InvalidArgument listing the valid types.
Result<std::string> EventTypeNamed(const std::string& text) {
  std::string valid;
  const char* (*name)(fb::Event) = fb::EnumNameEvent;
  if (auto e = EnumNamed(text, fb::EnumValuesEvent(), name, &valid, std::optional(fb::Event::NONE))) return std::string(name(*e));
  return Status::InvalidArgument("--type '" + text + "' is no event type; one of: " + valid);
}

bool Ended(const StreamFlags& s, size_t printed, Clock::time_point last_event) {
  if (g_interrupted) return true;
  if (printed >= s.limit) return true;
  return s.idle_ns > 0 && Clock::now() - last_event > std::chrono::nanoseconds(s.idle_ns);
}

int RunWatch(const DaemonFlags& f, const StreamFlags& s, bool events_only) {
  if (int rc = Reach(f, f.replay); rc != kExitOk) return rc;
  if (int rc = Reach(f, f.events); rc != kExitOk) return rc;
  EventJson codec;
  uint64_t from = s.from;
  if (from == 0) {
    auto last = LastSeq(f);
    if (!last.ok()) return Fail(last.status(), "daemon at " + f.replay);
    from = events_only ? (last.value() >= s.count ? last.value() - s.count + 1 : 1) : last.value() + 1;
  }
  bus::SubscriberOptions o;
  o.event_endpoint = f.events;
  o.replay_endpoint = f.replay;
  auto curve = CurveOf(f);
  if (!curve.ok()) return Fail(curve.status());
  o.curve = *curve;
  o.from_seq = events_only ? from : 1;  // watch folds from seq 1 to know each upgrade
  std::unique_ptr<bus::EventSubscriber> sub;
  if (Status st = bus::EventSubscriber::Open(o, &sub); !st.ok()) return Fail(st, "subscribe");
  std::signal(SIGINT, [](int) { g_interrupted = 1; });
  proj::Status status;
  size_t printed = 0;
  auto last_event = Clock::now();
  while (!Ended(s, printed, last_event)) {
    bus::ReceivedEvent ev;
    Status st = sub->Next(100, &ev);
    if (st.IsCorruption()) return Fail(st, "event stream");
    if (!st.ok()) continue;
    last_event = Clock::now();
    const auto* env = fb::GetEventEnvelope(ev.bytes.data());
    proj::Evolve(status, *env);
    if (ev.seq < from) continue;
    if (events_only || f.json) {
      PrintEvent(codec, *env, f.json);
    } else {
      // The whole stream name: upgrade ids begin with their creation time,
      // so a short prefix would print many upgrades alike.
      std::cout << "#" << ev.seq << "  " << FormatTime(env->time_ns()).substr(11) << "  " << env->stream()->str()
                << "  " << fb::EnumNameEvent(env->event_type()) << "  " << EventDetail(*env) << "\n";
      if (env->stream()->string_view().starts_with("upgrade/")) {
        auto id = IdFromHex(env->stream()->string_view().substr(8));
        if (id) {
          if (const auto* u = status.find(proj::Id::From(&*id))) {
            std::cout << "      " << UpgradeLine(*u) << "\n";
          } else if (!status.recent.empty() && status.recent.back().id == proj::Id::From(&*id)) {
            const auto& r = status.recent.back();
            std::cout << "      " << r.component << " " << r.from_version << " -> " << r.to_version << "  "
                      << proj::PhaseName(r.phase) << (r.reason.empty() ? "" : "  (" + r.reason + ")") << "\n";
          }
        }
      }
    }
    std::cout.flush();
    ++printed;
  }
  return kExitOk;
}

int RunReplay(const DaemonFlags& f, const StreamFlags& s) {
  if (int rc = Reach(f, f.replay); rc != kExitOk) return rc;
  EventJson codec;
  uint64_t next = std::max<uint64_t>(1, s.from);
  size_t printed = 0;
  auto curve = CurveOf(f);
  if (!curve.ok()) return Fail(curve.status());
  std::unique_ptr<bus::ReplayReader> reader;
  bus::ReplayReader::Open(f.replay, &reader, *curve);
  while (true) {
    std::vector<std::string> events;
    uint64_t last = 0;
    if (Status st = reader->Fetch(next, s.to, 1000, &events, &last, f.timeout_ms()); !st.ok()) {
      return Fail(st, "daemon at " + f.replay);
    }
    for (const auto& bytes : events) {
      const auto* env = fb::GetEventEnvelope(bytes.data());
      ++next;
      if (!s.stream.empty() && !env->stream()->string_view().starts_with(s.stream)) continue;
      if (!s.type.empty() && s.type != fb::EnumNameEvent(env->event_type())) continue;
      PrintEvent(codec, *env, f.json);
      if (++printed >= s.limit) return kExitOk;
    }
    if (events.empty() || (s.to > 0 && next > s.to) || next > last) return kExitOk;
  }
}

int RunAudit(const DaemonFlags& f, const StreamFlags& s) {
  uint64_t checked = 0, last = 0;
  Status result;
  if (!s.data_dir.empty()) {
    // Offline, or beside a running daemon: a read-only view of its log.
    if (Status st = VerifyLocalLog(s.data_dir, &checked, &last, &result); !st.ok()) return Fail(st, s.data_dir);
  } else {
    if (int rc = Reach(f, f.replay); rc != kExitOk) return rc;
    store::ChainChecker chain(1, nullptr);
    auto curve = CurveOf(f);
    if (!curve.ok()) return Fail(curve.status());
    std::unique_ptr<bus::ReplayReader> reader;
    bus::ReplayReader::Open(f.replay, &reader, *curve);
    while (result.ok()) {
      std::vector<std::string> events;
      if (Status st = reader->Fetch(chain.next_seq(), 0, 1000, &events, &last, f.timeout_ms()); !st.ok()) {
        if (!st.IsCorruption()) return Fail(st, "daemon at " + f.replay);
        result = st;
        break;
      }
      for (const auto& bytes : events) {
        result = chain.Check(bytes, *fb::GetEventEnvelope(bytes.data()));
        if (!result.ok()) break;
        ++checked;
      }
      if (events.empty() || chain.next_seq() > last) break;
    }
  }
  if (!result.ok()) {
    std::cout << "CHAIN BROKEN at seq " << (result.seq() ? std::to_string(*result.seq()) : "?") << ": " << result.message()
              << " (" << checked << " events verified before it)\n";
    return kExitCorrupt;
  }
  std::cout << "chain holds: " << checked << " events verified (last seq " << last << ")\n";
  return kExitOk;
}

}  // namespace

void AddStreamCommands(CLI::App& app, int* exit_code) {
  auto f = DefaultDaemonFlags();
  auto s = std::make_shared<StreamFlags>();

  auto* watch = app.add_subcommand(
      "watch", "Live table of upgrades (redrawn on a terminal, a row per change into a pipe); -e: the event stream");
  AddDaemonFlags(watch, f);
  // --events names the event endpoint on every daemon command.
  watch->add_flag("-e,--event-stream", s->events, "Print each event with its upgrade's phase, weight and steps instead of the table");
  watch->add_option("--from", s->from, "With --event-stream: start at this seq (resume); default: new events only");
  watch->add_option("--limit", s->limit, "Stop after this many new events");
  AddDurationOption(watch, "--idle", &s->idle_ns, "Stop after this long without an event (5s, 1m)");
  watch->callback([=] {
    if (s->events) *exit_code = RunWatch(*f, *s, false);
    else *exit_code = RunWatchTable(*f, {s->limit, s->idle_ns});
  });

  auto* events = app.add_subcommand("events", "Print events: the newest (tail) or a range (replay)");
  events->require_subcommand(1);
  auto* tail = events->add_subcommand("tail", "The newest events; --follow keeps printing");
  AddDaemonFlags(tail, f);
  tail->add_option("-n,--count", s->count, "How many of the newest events");
  tail->add_option("--from", s->from, "Start at this seq instead");
  tail->add_flag("--follow", s->follow, "Keep printing new events");
  tail->add_option("--limit", s->limit, "With --follow: stop after printing this many");
  AddDurationOption(tail, "--idle", &s->idle_ns, "With --follow: stop after this long without an event (5s, 1m)");
  tail->callback([=] {
    StreamFlags t = *s;
    if (!t.follow) {
      if ((*exit_code = Reach(*f, f->replay)) != kExitOk) return;
      auto last = LastSeq(*f);
      if (!last.ok()) {
        *exit_code = Fail(last.status(), "daemon at " + f->replay);
        return;
      }
      if (t.from == 0) t.from = last.value() >= t.count ? last.value() - t.count + 1 : 1;
      t.to = last.value();
      *exit_code = t.from > t.to ? kExitOk : RunReplay(*f, t);
      return;
    }
    *exit_code = RunWatch(*f, t, true);
  });
  auto* replay = events->add_subcommand("replay", "Events of a seq range, optionally of one stream prefix or type");
  AddDaemonFlags(replay, f);
  replay->add_option("--from", s->from, "First seq");
  replay->add_option("--to", s->to, "Last seq (default: the end)");
  replay->add_option("--stream", s->stream, "Only streams starting with this");
  replay->add_option("--type", s->type, "Only this event type");
  replay->add_option("--limit", s->limit, "At most this many");
  replay->callback([=] {
    if (!s->type.empty()) {
      auto type = EventTypeNamed(s->type);
      if (!type.ok()) {
        *exit_code = Fail(type.status());
        return;
      }
      s->type = type.value();
    }
    *exit_code = RunReplay(*f, *s);
  });

  auto* audit = app.add_subcommand("audit", "Audit the log");
  audit->require_subcommand(1);
  auto* verify = audit->add_subcommand("verify", "Recompute the hash chain (live over the bus, or --data-dir offline); exit 4 when broken");
  AddDaemonFlags(verify, f);
  verify->add_option("--data-dir", s->data_dir, "Data directory of upgraded, read directly (offline or beside the daemon)");
  auto head = std::make_shared<HeadAuditFlags>();
  AddAgainstFlags(verify, head);
  verify->callback([=] {
    *exit_code = RunAudit(*f, *s);
    // The chain can hold and the log still be truncated or re-chained.
    if (!head->against.empty()) *exit_code = std::max(*exit_code, AuditAgainstHead(*f, s->data_dir, *head));
  });
  AddAuditHeadCommands(audit, f, exit_code);
}

}  // namespace noodle::tools
