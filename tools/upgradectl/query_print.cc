#include "query_print.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "noodle/envelope.h"
#include "print.h"
#include "table.h"
#include "time_text.h"

namespace noodle::tools {
namespace {

std::string Str(const flatbuffers::String* s) { return s != nullptr ? s->str() : std::string(); }
// A vector of tables as pointers; empty when absent.
template <typename T>
std::vector<const T*> Items(const flatbuffers::Vector<flatbuffers::Offset<T>>* v) {
  std::vector<const T*> out;
  if (v != nullptr) out.assign(v->begin(), v->end());
  return out;
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

char StepMark(fb::StepState s) {
  switch (s) {
    case fb::StepState::Succeeded: return '#';
    case fb::StepState::Running: return '>';
    case fb::StepState::Failed: return 'x';
    default: return '.';
  }
}

std::string StepMarks(const fb::UpgradeInfo& u) {
  std::string out;
  if (u.steps() != nullptr) for (const auto* s : *u.steps()) out += StepMark(s->state());
  return "[" + out + "]";
}

std::string Field(const char* name, const std::string& value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%-12s", name);
  return std::string(buf) + value + "\n";
}

std::string Since(int64_t from_ns, int64_t to_ns) { return from_ns > 0 ? HumanDuration((to_ns ? to_ns : NowNs()) - from_ns) : "-"; }

std::string Hook(const fb::HookCommand* h) {
  if (h == nullptr || h->argv() == nullptr) return "";
  std::string out;
  for (const auto* a : *h->argv()) out += (out.empty() ? "" : " ") + a->str();
  return out + (h->shell() ? "  (shell)" : "") + "  timeout " + HumanDuration(int64_t{h->timeout_ms()} * 1'000'000);
}

uint64_t CountOf(const flatbuffers::Vector<flatbuffers::Offset<fb::OutcomeCount>>* outcomes, fb::Outcome which) {
  if (outcomes == nullptr) return 0;
  for (const auto* o : *outcomes) {
    if (o->outcome() == which) return o->count();
  }
  return 0;
}

}  // namespace

std::string Label(const char* enum_name) {
  std::string out;
  for (const char* c = enum_name; *c != '\0'; ++c) {
    if (std::isupper(static_cast<unsigned char>(*c)) != 0 && c != enum_name) out += '_';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
  }
  return out;
}

void PrintUpgrade(const fb::UpgradeInfo& u) {
  std::string out = Field("upgrade", IdToHex(*u.id()));
  out += Field("component", Str(u.component()) + " " + OrDash(Str(u.from_version())) + " -> " + Str(u.to_version()));
  out += Field("phase", Label(fb::EnumNamePhase(u.phase())) + (Str(u.reason()).empty() ? "" : ": " + Str(u.reason())));
  out += Field("strategy", Label(fb::EnumNameStrategyKind(u.strategy())) + "  weight " + std::to_string(u.weight()) + "%");
  if (u.requested_ns()) out += Field("requested", FormatTime(u.requested_ns()));
  if (u.started_ns()) out += Field("started", FormatTime(u.started_ns()));
  if (u.finished_ns()) out += Field("finished", FormatTime(u.finished_ns()));
  if (u.started_ns()) out += Field(u.finished_ns() ? "took" : "running for", Since(u.started_ns(), u.finished_ns()));
  if (u.paused_ns() > 0 || u.paused_since_ns() > 0) {  // operator pauses: time the timeout did not count
    const int64_t paused = u.paused_ns() + (u.paused_since_ns() > 0 ? NowNs() - u.paused_since_ns() : 0);
    out += Field("paused", HumanDuration(paused) + (u.paused_since_ns() > 0 ? " so far (the timeout is stopped)" : ""));
  }
  std::cout << out;
  if (u.steps() == nullptr || u.steps()->size() == 0) return std::cout.flush(), void();
  std::cout << "steps:\n";
  TableRows rows{{"  #", "ACTION", "INSTANCE", "WEIGHT", "STATE"}};
  uint32_t n = 0;
  for (const auto* s : *u.steps()) {
    rows.push_back({"  " + std::to_string(++n), Str(s->action()), OrDash(Str(s->instance())), std::to_string(s->weight()) + "%",
                    Label(fb::EnumNameStepState(s->state()))});
  }
  PrintTable(rows, std::cout);
}

void PrintComponent(const fb::ComponentInfo& info) {
  const fb::ComponentSpec& c = *info.spec();
  std::string out = Field("component", Str(c.name()));
  out += Field("version", Str(c.version()));
  out += Field("type", Label(fb::EnumNameComponentType(c.type())));
  out += Field("executor", Label(fb::EnumNameExecutorKind(c.executor())));
  out += Field("hot swap", c.hot_swappable() ? "yes" : "no (stopped and started around the swap)");
  if (c.critical()) out += Field("critical", "yes");
  if (c.instances() != nullptr && c.instances()->size() > 0) {
    std::string list;
    for (const auto* i : *c.instances()) list += (list.empty() ? "" : ", ") + i->str();
    out += Field("instances", list);
  }
  if (c.artifact() != nullptr && !Str(c.artifact()->location()).empty()) {
    out += Field("artifact", Str(c.artifact()->location()) + (c.artifact()->require_signature() ? "  (signature required)" : ""));
  }
  out += Field("registered", "seq " + std::to_string(info.registered_seq()) + ", last changed at seq " + std::to_string(info.updated_seq()));
  std::cout << out;
  if (c.dependencies() != nullptr && c.dependencies()->size() > 0) {
    std::cout << "dependencies:\n";
    TableRows rows{{"  NAME", "RANGE"}};
    for (const auto* d : *c.dependencies()) rows.push_back({"  " + Str(d->name()), Str(d->range())});
    PrintTable(rows, std::cout);
  }
  if (const auto* h = c.hooks()) {
    TableRows rows{{"  HOOK", "COMMAND"}};
    const std::pair<const char*, const fb::HookCommand*> hooks[] = {{"prepare", h->prepare()}, {"swap", h->swap()}, {"health", h->health()},
                                                                    {"revert", h->revert()}, {"stop", h->stop()}, {"start", h->start()}};
    for (const auto& [name, cmd] : hooks) {
      if (!Hook(cmd).empty()) rows.push_back({std::string("  ") + name, Hook(cmd)});
    }
    if (rows.size() > 1) std::cout << "hooks:\n", PrintTable(rows, std::cout);
  }
  if (c.metadata() != nullptr && c.metadata()->size() > 0) {
    std::cout << "metadata:\n";
    TableRows rows{{"  KEY", "VALUE"}};
    for (const auto* kv : *c.metadata()) rows.push_back({"  " + Str(kv->key()), Str(kv->value())});
    PrintTable(rows, std::cout);
  }
  std::cout.flush();
}

void PrintDryRun(const nlohmann::json& p) {
  const auto text = [&](const char* key) { return p.contains(key) && p[key].is_string() ? p[key].get<std::string>() : ""; };
  const bool valid = p.value("valid", false);
  std::cout << "dry run: upgrade of " << text("component") << " " << OrDash(text("from")) << " -> " << text("to") << " "
            << (valid ? "would be accepted" : "would be REJECTED") << (p.value("would_queue", false) ? " (and wait its turn)" : "")
            << (p.value("breaking", false) ? "; a breaking change" : "") << "\n";
  for (const auto& e : p.value("errors", nlohmann::json::array())) {
    std::cout << "  problem: " << e.value("message", "") << (e.value("field", "").empty() ? "" : "  [" + e.value("field", "") + "]") << "\n";
  }
  for (const auto& w : p.value("warnings", nlohmann::json::array())) std::cout << "  warning: " << w.get<std::string>() << "\n";
  const auto plan = p.value("plan", nlohmann::json::array());
  if (!plan.empty()) {
    std::cout << "plan (" << plan.size() << " step" << (plan.size() == 1 ? "" : "s")
              << (p.value("parallel", 1) > 1 ? ", " + std::to_string(p.value("parallel", 1)) + " at once" : "") << "):\n";
    TableRows rows{{"  #", "ACTION", "INSTANCE", "WEIGHT", "THEN"}};
    size_t n = 0;
    for (const auto& s : plan) {
      rows.push_back({"  " + std::to_string(++n), s.value("action", ""), OrDash(s.value("instance", "")),
                      std::to_string(s.value("weight", 0)) + "%", s.value("pause", false) ? "pause" : "-"});
    }
    PrintTable(rows, std::cout);
  }
  std::cout << "nothing was changed\n";
  std::cout.flush();
}

void PrintRegistry(const std::vector<const fb::RegistryResult*>& pages, bool wide) {
  TableRows rows{{"COMPONENT", "VERSION", "TYPE", "DEPENDENCIES"}};
  if (wide) rows[0].insert(rows[0].end(), {"EXECUTOR", "INSTANCES", "HOT", "UPDATED"});
  for (const auto* page : pages) {
    if (page->components() == nullptr) continue;
    for (const auto* info : *page->components()) {
      const fb::ComponentSpec& spec = *info->spec();
      std::string deps;
      if (spec.dependencies() != nullptr) {
        for (const auto* d : *spec.dependencies()) deps += (deps.empty() ? "" : ",") + Str(d->name()) + " " + Str(d->range());
      }
      rows.push_back({Str(spec.name()), Str(spec.version()), Label(fb::EnumNameComponentType(spec.type())), OrDash(deps)});
      if (!wide) continue;
      rows.back().insert(rows.back().end(), {Label(fb::EnumNameExecutorKind(spec.executor())),
                                             std::to_string(spec.instances() ? spec.instances()->size() : 0),
                                             spec.hot_swappable() ? "yes" : "no", "seq " + std::to_string(info->updated_seq())});
    }
  }
  if (rows.size() == 1) std::cout << "no components registered\n";
  else PrintTable(rows, std::cout);
}

void PrintStatus(const std::vector<const fb::StatusResult*>& pages, bool wide) {
  const fb::StatusResult& last = *pages.back();  // the counters: the newest page's
  TableRows active{{"ID", "COMPONENT", "FROM", "TO", "STRATEGY", "PHASE", "WEIGHT", "STEPS", "AGE"}};
  TableRows ended{{"ID", "COMPONENT", "FROM", "TO", "PHASE", "FINISHED", "TOOK", "REASON"}};
  for (const auto* p : pages) {
    for (const auto* u : Items(p->active())) {
      active.push_back({IdToHex(*u->id()), Str(u->component()), OrDash(Str(u->from_version())), Str(u->to_version()),
                        Label(fb::EnumNameStrategyKind(u->strategy())), Label(fb::EnumNamePhase(u->phase())),
                        std::to_string(u->weight()) + "%", StepMarks(*u), Since(u->requested_ns(), 0)});
      if (wide) active.back().push_back(OrDash(Str(u->reason())));
    }
  }
  if (wide) active[0].push_back("REASON");
  size_t shown = 0, recent = 0;
  for (const auto* p : pages) recent += p->recent() ? p->recent()->size() : 0;
  const size_t skip = wide || recent <= 10 ? 0 : recent - 10;  // the newest ten, unless -o wide
  for (const auto* p : pages) {
    for (const auto* u : Items(p->recent())) {
      if (shown++ < skip) continue;
      ended.push_back({IdToHex(*u->id()), Str(u->component()), OrDash(Str(u->from_version())), Str(u->to_version()),
                       Label(fb::EnumNamePhase(u->phase())), u->finished_ns() ? FormatTime(u->finished_ns()) : "-",
                       Since(u->started_ns() ? u->started_ns() : u->requested_ns(), u->finished_ns()), OrDash(Str(u->reason()))});
    }
  }
  std::cout << "log seq " << last.seq() << "   in progress " << active.size() - 1 << "   ended " << last.history_count() << "\n";
  if (active.size() > 1) std::cout << "\nIN PROGRESS\n", PrintTable(active, std::cout);
  if (ended.size() > 1) {
    std::cout << "\nENDED" << (skip > 0 ? " (newest " + std::to_string(ended.size() - 1) + "; -o wide or `upgrade list` for all)" : "") << "\n";
    PrintTable(ended, std::cout);
  }
  TableRows points{{"POINT", "SEQ"}};
  for (const auto* p : pages) {
    for (const auto* pt : Items(p->points())) points.push_back({Str(pt->name()), std::to_string(pt->seq())});
  }
  if (points.size() > 1) std::cout << "\nROLLBACK POINTS\n", PrintTable(points, std::cout);
  TableRows rollbacks{{"ROLLBACK", "TO", "FAILED"}};
  for (const auto* p : pages) {
    for (const auto* r : Items(p->rollbacks())) {
      rollbacks.push_back({IdToHex(*r->id()), Str(r->point()).empty() ? "seq " + std::to_string(r->to_seq()) : Str(r->point()), OrDash(Str(r->failed()))});
    }
  }
  if (rollbacks.size() > 1) std::cout << "\nROLLBACKS IN PROGRESS\n", PrintTable(rollbacks, std::cout);
  std::cout.flush();
}

void PrintStats(const std::vector<const fb::StatisticsResult*>& pages, bool wide) {
  const fb::StatisticsResult& totals = *pages.back();  // every page carries them
  static constexpr fb::Outcome kShown[] = {fb::Outcome::Completed, fb::Outcome::Failed, fb::Outcome::RolledBack,
                                           fb::Outcome::Rejected, fb::Outcome::Cancelled, fb::Outcome::Aborted,
                                           fb::Outcome::RollbackFailed};
  const auto durations = [](const fb::Durations* d, std::vector<std::string>* row, bool all) {
    const bool any = d != nullptr && d->count() > 0;
    if (all) row->push_back(any ? HumanDuration(d->min_ns()) : "-");
    row->push_back(any ? HumanDuration(d->median_ns()) : "-");
    row->push_back(any ? HumanDuration(d->p95_ns()) : "-");
    if (all) row->push_back(any ? HumanDuration(d->max_ns()) : "-");
  };
  TableRows rows{{"COMPONENT"}};
  for (fb::Outcome o : kShown) rows[0].push_back(Label(fb::EnumNameOutcome(o)));
  for (const char* h : wide ? std::vector<const char*>{"MIN", "MEDIAN", "P95", "MAX"} : std::vector<const char*>{"MEDIAN", "P95"}) rows[0].push_back(h);
  for (auto& h : rows[0]) for (auto& ch : h) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const auto add = [&](const std::string& name, const auto* outcomes, const fb::Durations* d) {
    rows.push_back({name});
    for (fb::Outcome o : kShown) rows.back().push_back(std::to_string(CountOf(outcomes, o)));
    durations(d, &rows.back(), wide);
  };
  for (const auto* p : pages) {
    for (const auto* c : Items(p->per_component())) add(Str(c->component()), c->outcomes(), c->durations());
  }
  add("(all)", totals.outcomes(), totals.durations());
  std::cout << "in flight " << totals.in_flight() << "   log seq " << totals.seq() << "   durations: request to end\n";
  PrintTable(rows, std::cout);
}

}  // namespace noodle::tools
