#include "event_text.h"

#include <sstream>

#include "time_text.h"

namespace noodle::tools {
namespace {

std::string Str(const flatbuffers::String* s) { return s == nullptr ? "" : s->str(); }

std::string StepStartedText(const fb::StepStarted& s) {
  std::string out = s.revert() ? "revert " : "";
  out += Str(s.action());
  if (s.instance() != nullptr && s.instance()->size() > 0) out += " on " + s.instance()->str();
  if (s.weight() > 0) out += " at " + std::to_string(s.weight()) + "%";
  if (s.revert()) return out + " (undoes step " + std::to_string(s.reverts() + 1) + ")";
  out += " (step " + std::to_string(s.step() + 1) + (s.of_steps() > 0 ? "/" + std::to_string(s.of_steps()) : "") + ")";
  return out;
}

std::string StepFailedText(const fb::StepFailed& s) {
  std::string out = "step " + std::to_string(s.step() + 1) + ": " + Str(s.reason());
  if (s.duration_ns() > 0) out += " after " + HumanDuration(s.duration_ns());
  return out;
}

std::string ByWhy(const flatbuffers::String* by, const flatbuffers::String* reason) {
  std::string out = Str(by).empty() ? "" : "by " + Str(by);
  if (!Str(reason).empty()) out += (out.empty() ? "" : ": ") + Str(reason);
  return out;
}

std::string PausedText(const fb::UpgradePaused& p) {
  if (p.by() == nullptr || p.by()->size() == 0) return "at weight " + std::to_string(p.weight()) + "%";
  return ByWhy(p.by(), p.reason());
}

std::string RejectedText(const fb::UpgradeRejected& r) {
  std::string out;
  if (r.errors() == nullptr) return out;
  for (const auto* err : *r.errors()) out += (out.empty() ? "" : "; ") + Str(err->message());
  return out;
}

}  // namespace

std::string EventDetail(const fb::EventEnvelope& e) {
  switch (e.event_type()) {
    case fb::Event::StepStarted: return StepStartedText(*e.event_as_StepStarted());
    case fb::Event::StepSucceeded: {
      const auto* s = e.event_as_StepSucceeded();
      return "step " + std::to_string(s->step() + 1) + " in " + HumanDuration(s->duration_ns());
    }
    case fb::Event::StepFailed: return StepFailedText(*e.event_as_StepFailed());
    case fb::Event::TrafficShifted: {
      const auto* t = e.event_as_TrafficShifted();
      return std::to_string(t->from_weight()) + "% -> " + std::to_string(t->to_weight()) + "%";
    }
    case fb::Event::HealthCheckRecorded: {
      const auto* h = e.event_as_HealthCheckRecorded();
      const std::string where = Str(h->instance()).empty() ? "" : " on " + Str(h->instance());
      return std::string(fb::EnumNameHealthVerdict(h->verdict())) + where + (Str(h->detail()).empty() ? "" : ": " + Str(h->detail()));
    }
    case fb::Event::UpgradeFailed: return Str(e.event_as_UpgradeFailed()->reason());
    case fb::Event::UpgradePaused: return PausedText(*e.event_as_UpgradePaused());
    case fb::Event::UpgradeCancelled: return ByWhy(e.event_as_UpgradeCancelled()->by(), e.event_as_UpgradeCancelled()->reason());
    case fb::Event::UpgradeAborted: return ByWhy(e.event_as_UpgradeAborted()->by(), e.event_as_UpgradeAborted()->reason());
    case fb::Event::UpgradeRejected: return RejectedText(*e.event_as_UpgradeRejected());
    case fb::Event::UpgradeCompleted: {
      const auto* c = e.event_as_UpgradeCompleted();
      return Str(c->component()) + " " + Str(c->from_version()) + " -> " + Str(c->to_version()) + " in " +
             HumanDuration(c->duration_ns());
    }
    case fb::Event::UpgradeRequested: {
      const auto* r = e.event_as_UpgradeRequested();
      return Str(r->component()) + " -> " + Str(r->target_version());
    }
    case fb::Event::ComponentRegistered: {
      const auto* c = e.event_as_ComponentRegistered()->component();
      return Str(c->name()) + " " + Str(c->version());
    }
    case fb::Event::RollbackPointCreated: {
      const auto* p = e.event_as_RollbackPointCreated();
      return Str(p->name()) + " at seq " + std::to_string(p->at_seq());
    }
    case fb::Event::RollbackStarted: return Str(e.event_as_RollbackStarted()->reason());
    case fb::Event::RollbackCompleted: return Str(e.event_as_RollbackCompleted()->restored_version());
    case fb::Event::RollbackFailed: return Str(e.event_as_RollbackFailed()->reason());
    default: return "";
  }
}

std::vector<std::string> OutputTail(const fb::EventEnvelope& e, size_t max) {
  const flatbuffers::String* text = nullptr;
  if (e.event_type() == fb::Event::StepFailed) text = e.event_as_StepFailed()->output_tail();
  if (e.event_type() == fb::Event::StepSucceeded) text = e.event_as_StepSucceeded()->output_tail();
  std::vector<std::string> lines;
  if (text == nullptr) return lines;
  std::istringstream in(text->str());
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  if (lines.size() > max) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(max));
  return lines;
}

}  // namespace noodle::tools
