#include "query_print.h"

#include <cctype>
#include <cstdio>
#include <iostream>

#include "noodle/envelope.h"
#include "print.h"
#include "time_text.h"

namespace noodle::tools {
namespace {

std::string Str(const flatbuffers::String* s) { return s != nullptr ? s->str() : std::string(); }

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

char StepMark(fb::StepState s) {
  switch (s) {
    case fb::StepState::Succeeded: return '#';
    case fb::StepState::Running: return '>';
    case fb::StepState::Failed: return 'x';
    default: return '.';
  }
}

std::string Outcomes(const flatbuffers::Vector<flatbuffers::Offset<fb::OutcomeCount>>* outcomes, const char* sep) {
  std::string out;
  if (outcomes == nullptr) return out;
  for (const auto* o : *outcomes) {
    out += sep;
    out += Label(fb::EnumNameOutcome(o->outcome()));
    out += ' ';
    out += std::to_string(o->count());
  }
  return out;
}

}  // namespace

void PrintUpgrade(const fb::UpgradeInfo& u) {
  const auto field = [](const char* name, const std::string& value) {
    if (!value.empty()) std::printf("%-10s %s\n", name, value.c_str());
  };
  field("upgrade", IdToHex(*u.id()));
  field("component", u.component()->str() + " " + (Str(u.from_version()).empty() ? "?" : Str(u.from_version())) + " -> " +
                         Str(u.to_version()));
  field("phase", Label(fb::EnumNamePhase(u.phase())) + (Str(u.reason()).empty() ? "" : ": " + Str(u.reason())));
  field("strategy", Label(fb::EnumNameStrategyKind(u.strategy())) + "  weight " + std::to_string(u.weight()) + "%");
  field("requested", u.requested_ns() ? FormatTime(u.requested_ns()) : "");
  field("started", u.started_ns() ? FormatTime(u.started_ns()) : "");
  field("finished", u.finished_ns() ? FormatTime(u.finished_ns()) : "");
  if (u.started_ns() && u.finished_ns()) field("took", HumanDuration(u.finished_ns() - u.started_ns()));
  if (u.steps() == nullptr || u.steps()->size() == 0) return;
  std::printf("steps:\n  %-3s %-8s %-12s %-7s %s\n", "#", "ACTION", "INSTANCE", "WEIGHT", "STATE");
  uint32_t n = 0;
  for (const auto* s : *u.steps()) {
    const std::string instance = Str(s->instance()).empty() ? "-" : Str(s->instance());
    std::printf("  %-3u %-8s %-12s %-7s %s\n", ++n, Str(s->action()).c_str(), instance.c_str(),
                (std::to_string(s->weight()) + "%").c_str(), Label(fb::EnumNameStepState(s->state())).c_str());
  }
  std::fflush(stdout);
}

std::string Label(const char* enum_name) {
  std::string out;
  for (const char* c = enum_name; *c != '\0'; ++c) {
    if (std::isupper(static_cast<unsigned char>(*c)) != 0 && c != enum_name) out += '_';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
  }
  return out;
}

std::string UpgradeLine(const fb::UpgradeInfo& u) {
  std::string line = IdToHex(*u.id()) + "  " + u.component()->str() + " " + Str(u.from_version()) + " -> " +
                     Str(u.to_version()) + "  ";
  if (u.phase() < fb::Phase::Completed) {  // in progress
    std::string steps;
    if (u.steps() != nullptr) {
      for (const auto* s : *u.steps()) steps += StepMark(s->state());
    }
    line += std::string(fb::EnumNameStrategyKind(u.strategy())) + "  " + Label(fb::EnumNamePhase(u.phase())) +
            "  weight " + std::to_string(u.weight()) + "%  steps [" + steps + "]";
    if (!Str(u.reason()).empty()) line += "  " + Str(u.reason());
    return line;
  }
  line += Label(fb::EnumNamePhase(u.phase()));
  if (!Str(u.reason()).empty()) line += "  (" + Str(u.reason()) + ")";
  return line;
}

void PrintRegistry(const std::vector<const fb::RegistryResult*>& pages) {
  std::printf("%-20s %-14s %-10s %s\n", "COMPONENT", "VERSION", "TYPE", "DEPENDENCIES");
  for (const auto* page : pages) {
    if (page->components() == nullptr) continue;
    for (const auto* c : *page->components()) {
      const fb::ComponentSpec& spec = *c->spec();
      std::string deps;
      if (spec.dependencies() != nullptr) {
        for (const auto* d : *spec.dependencies()) deps += (deps.empty() ? "" : ", ") + d->name()->str() + " " + d->range()->str();
      }
      std::printf("%-20s %-14s %-10s %s\n", spec.name()->c_str(), spec.version()->c_str(),
                  fb::EnumNameComponentType(spec.type()), deps.empty() ? "-" : deps.c_str());
    }
  }
}

void PrintStatus(const std::vector<const fb::StatusResult*>& pages) {
  size_t active = 0;
  for (const auto* p : pages) active += p->active() != nullptr ? p->active()->size() : 0;
  const fb::StatusResult& last = *pages.back();  // the counters: the newest page's
  std::cout << "upgrades in progress: " << active << "   ended: " << last.history_count() << "   log seq: " << last.seq()
            << "\n";
  for (const auto* p : pages) {
    if (p->active() == nullptr) continue;
    for (const auto* u : *p->active()) std::cout << "  " << UpgradeLine(*u) << "\n";
  }
  for (const auto* p : pages) {
    if (p->recent() == nullptr) continue;
    for (const auto* u : *p->recent()) std::cout << "  ended  " << UpgradeLine(*u) << "\n";
  }
}

void PrintStats(const std::vector<const fb::StatisticsResult*>& pages) {
  const fb::StatisticsResult& totals = *pages.back();  // every page carries them
  std::cout << "outcomes:" << Outcomes(totals.outcomes(), "  ");
  if (const auto* d = totals.durations()) {
    std::cout << "\ndurations (" << d->count() << " ended): min " << Ms(d->min_ns()) << " ms, median "
              << Ms(d->median_ns()) << " ms, p95 " << Ms(d->p95_ns()) << " ms, max " << Ms(d->max_ns()) << " ms";
  }
  std::cout << "\nin flight: " << totals.in_flight() << "\n";
  for (const auto* p : pages) {
    if (p->per_component() == nullptr) continue;
    for (const auto* c : *p->per_component()) {
      std::cout << "  " << c->component()->str() << ":" << Outcomes(c->outcomes(), " ");
      if (const auto* d = c->durations()) {
        std::cout << "; median " << Ms(d->median_ns()) << " ms, p95 " << Ms(d->p95_ns()) << " ms";
      }
      std::cout << "\n";
    }
  }
}

}  // namespace noodle::tools
