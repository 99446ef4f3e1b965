#include "follow.h"

#include <chrono>
#include <functional>
#include <iostream>
#include <optional>
#include <set>

#include "daemon_client.h"
#include "event_json.h"
#include "event_text.h"
#include "exit_codes.h"
#include "noodle/bus/client.h"
#include "noodle/envelope.h"
#include "noodle/projections/status.h"
#include "print.h"
#include "time_text.h"

namespace noodle::tools {
namespace {

using Clock = std::chrono::steady_clock;
// Called with each event from from_seq on; returns the exit code once the
// followed operation has ended.
using OnEvent = std::function<std::optional<int>(const fb::EventEnvelope&)>;

int Follow(const DaemonFlags& f, const std::string& what, uint64_t from_seq, int64_t wait_ns, const OnEvent& on_event) {
  bus::SubscriberOptions o;
  o.event_endpoint = f.events;
  o.replay_endpoint = f.replay;
  o.from_seq = from_seq;
  auto curve = CurveOf(f);
  if (!curve.ok()) return Fail(curve.status());
  o.curve = *curve;
  std::unique_ptr<bus::EventSubscriber> sub;
  if (Status s = bus::EventSubscriber::Open(o, &sub); !s.ok()) return Fail(s, "subscribe at " + f.events);
  const auto end = Clock::now() + std::chrono::nanoseconds(wait_ns);
  while (Clock::now() < end) {
    bus::ReceivedEvent ev;
    Status s = sub->Next(100, &ev);
    if (s.IsCorruption()) return Fail(s, "event stream");
    if (!s.ok()) continue;  // nothing yet
    if (auto rc = on_event(*fb::GetEventEnvelope(ev.bytes.data()))) return *rc;
  }
  std::cerr << "upgradectl: " << what << " still in progress after " << HumanDuration(wait_ns)
            << "; follow it with: upgradectl watch\n";
  return kExitRejected;
}

// Prints one event of the followed stream: a JSON line, or time, type and
// detail, with a failing step's output under it.
class Printer {
 public:
  explicit Printer(bool json) : json_(json) {}

  void Print(const fb::EventEnvelope& e) {
    if (json_) {
      PrintEvent(codec_, e, true);
      std::cout.flush();
      return;
    }
    std::string type = fb::EnumNameEvent(e.event_type());
    type.resize(std::max<size_t>(type.size() + 2, 22), ' ');
    std::cout << "  " << FormatTime(e.time_ns()).substr(11) << "  " << type << EventDetail(e) << std::endl;
    if (e.event_type() != fb::Event::StepFailed) return;
    const auto tail = OutputTail(e);
    for (const auto& line : tail) std::cout << "      | " << line << "\n";
    if (cause_.empty()) cause_ = EventDetail(e), tail_ = tail;  // the first failure is the cause; later ones follow from it
    std::cout.flush();
  }

  // The summary line; under a failure, the step that failed and its output.
  void End(const std::string& line, bool failed) const {
    if (json_) return;
    std::cout << line << "\n";
    if (failed && !cause_.empty()) {
      std::cout << "cause: " << cause_ << "\n";
      for (const auto& l : tail_) std::cout << "  | " << l << "\n";
    }
    std::cout.flush();
  }

 private:
  bool json_;
  EventJson codec_;
  std::string cause_;
  std::vector<std::string> tail_;
};

}  // namespace

int FollowUpgrade(const DaemonFlags& f, const proj::Id& id, uint64_t from_seq, int64_t wait_ns) {
  const std::string stream = "upgrade/" + id.hex();
  Printer printer(f.json);
  proj::Status status;  // folded from the request on: knows when the upgrade has ended
  return Follow(f, "upgrade " + id.hex(), from_seq, wait_ns, [&](const fb::EventEnvelope& e) -> std::optional<int> {
    proj::Evolve(status, e);
    if (e.stream()->string_view() != stream) return std::nullopt;
    printer.Print(e);
    if (status.find(id) != nullptr) return std::nullopt;
    for (auto it = status.recent.rbegin(); it != status.recent.rend(); ++it) {
      if (it->id != id) continue;
      const bool ok = it->phase == proj::Phase::kCompleted;
      const std::string took = it->finished_ns > it->requested_ns ? " after " + HumanDuration(it->finished_ns - it->requested_ns) : "";
      printer.End("upgrade " + id.hex() + " " + proj::PhaseName(it->phase) + took + (it->reason.empty() ? "" : ": " + it->reason), !ok);
      return ok ? kExitOk : kExitRejected;
    }
    return std::nullopt;
  });
}

int FollowRollback(const DaemonFlags& f, const proj::Id& op, uint64_t from_seq, int64_t wait_ns) {
  const std::string stream = "rollback/" + op.hex();
  Printer printer(f.json);
  // The components the rollback restores or removes (from its RollbackStarted),
  // and the streams of the downgrades it runs for them: printed too.
  std::set<std::string> components, streams{stream};
  return Follow(f, "rollback " + op.hex(), from_seq, wait_ns, [&](const fb::EventEnvelope& e) -> std::optional<int> {
    const std::string_view at = e.stream()->string_view();
    if (e.event_type() == fb::Event::RollbackStarted && at == stream) {
      const auto* r = e.event_as_RollbackStarted();
      if (r->restore() != nullptr) for (const auto* c : *r->restore()) components.insert(c->name()->str());
      if (r->remove() != nullptr) for (const auto* n : *r->remove()) components.insert(n->str());
    }
    if (e.event_type() == fb::Event::UpgradeRequested && components.count(e.event_as_UpgradeRequested()->component()->str()) > 0) {
      streams.insert(std::string(at));
    }
    const bool ours = streams.count(std::string(at)) > 0 ||
                      (at.starts_with("component/") && components.count(std::string(at.substr(10))) > 0);
    if (!ours) return std::nullopt;
    printer.Print(e);
    if (at != stream) return std::nullopt;
    if (e.event_type() == fb::Event::RollbackCompleted) {
      printer.End("rollback " + op.hex() + " completed", false);
      return kExitOk;
    }
    if (e.event_type() == fb::Event::RollbackFailed) {
      printer.End("rollback " + op.hex() + " failed: " + EventDetail(e), true);
      return kExitRejected;
    }
    return std::nullopt;
  });
}

void PrintFailedStep(const DaemonFlags& f, const proj::Id& id) {
  engine::Reply r;
  const fb::EventsResult* events = nullptr;
  if (Query(f, engine::cmd::QueryEvents("upgrade/" + id.hex(), 1, 1000, MetaOf(f)), &r, &events) != kExitOk) return;
  uint64_t seq = 0;
  for (size_t i = 0; events->events() != nullptr && i < events->events()->size() && seq == 0; ++i) {
    const auto* e = events->events()->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (e->event_type() == static_cast<uint8_t>(fb::Event::StepFailed)) seq = e->seq();  // the first failure is the cause
  }
  auto curve = CurveOf(f);
  std::vector<std::string> got;
  uint64_t last = 0;
  if (seq == 0 || !curve.ok() || !bus::FetchReplay(f.replay, seq, seq, 1, &got, &last, f.timeout_ms(), *curve).ok() || got.empty()) return;
  const fb::EventEnvelope* e = VerifyEnvelope(got.front());
  if (e == nullptr || e->event_type() != fb::Event::StepFailed) return;
  std::cout << "failed step: " << EventDetail(*e) << "\n";
  for (const auto& line : OutputTail(*e)) std::cout << "  | " << line << "\n";
  std::cout.flush();
}

}  // namespace noodle::tools
