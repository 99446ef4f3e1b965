#include "noodle/engine/validation.h"

#include <functional>
#include <set>

#include "noodle/engine/names.h"
#include "noodle/engine/semver.h"

namespace noodle::engine {
namespace {

using names::Printable;

// Per list, issues beyond this many are summed up in one: a request with a
// million bad entries gets a short answer.
constexpr size_t kMaxIssuesPerList = 10;

using Code = fb::ValidationCode;

void Add(std::vector<Issue>& out, Code code, std::string field, std::string message) {
  out.emplace_back(code, std::move(field), std::move(message));
}

// "BreakingChange" -> "breaking_change".
std::string SnakeCase(std::string_view camel) {
  std::string out;
  for (char c : camel) {
    if (c >= 'A' && c <= 'Z') {
      if (!out.empty()) out += '_';
      c = static_cast<char>(c - 'A' + 'a');
    }
    out += c;
  }
  return out;
}

// The wire names of every code, by value; "" for Unspecified.
const std::vector<std::string>& CodeNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (Code c : fb::EnumValuesValidationCode()) {
      n.resize(static_cast<size_t>(c) + 1);
      if (c != Code::Unspecified) n[static_cast<size_t>(c)] = SnakeCase(fb::EnumNameValidationCode(c));
    }
    return n;
  }();
  return names;
}

// Adds invalid_name when `name` breaks the name rule (names.h).
bool CheckName(std::vector<Issue>& out, std::string_view name, const std::string& field, const std::string& what) {
  const std::string why = names::NameProblem(name);
  if (why.empty()) return true;
  Add(out, Code::InvalidName, field, what + " '" + Printable(name) + "' " + why);
  return false;
}

void CheckText(std::vector<Issue>& out, const flatbuffers::String* s, size_t max, const std::string& field) {
  if (s == nullptr) return;
  if (const std::string why = names::TextProblem(s->string_view(), max); !why.empty()) {
    Add(out, Code::InvalidText, field, field + " " + why);
  }
}

// False (and limit_exceeded) when a list is longer than max.
template <typename V>
bool CheckCount(std::vector<Issue>& out, const V* v, size_t max, const std::string& field) {
  if (v == nullptr || v->size() <= max) return true;
  Add(out, Code::LimitExceeded, field,
      field + " has " + std::to_string(v->size()) + " entries; at most " + std::to_string(max) + " are accepted");
  return false;
}

void CheckVersion(std::vector<Issue>& out, const flatbuffers::String* v, const std::string& field, bool required) {
  if (v == nullptr || v->size() == 0) {
    if (required) Add(out, Code::MissingField, field, field + " is required");
    return;
  }
  if (v->size() > names::kMaxNameBytes) {
    Add(out, Code::InvalidVersion, field, field + " is longer than " + std::to_string(names::kMaxNameBytes) + " bytes");
    return;
  }
  if (auto p = semver::Parse(v->string_view()); !p.ok()) {
    Add(out, Code::InvalidVersion, field, field + ": " + p.status().message());
  }
}

// The pure part of the hook policy (the executor checks again, with the
// filesystem, before anything runs): sizes, no NUL, shell lines only when
// allowed, argv[0] lexically under a hook root when roots are given. Only for
// hooks the daemon itself runs (executor Hook): agents have their own policy.
void CheckHook(std::vector<Issue>& out, const fb::HookCommand* h, const std::string& field, const Limits& limits,
               bool run_here) {
  if (h == nullptr) return;
  if (h->argv() == nullptr || h->argv()->size() == 0 || h->argv()->Get(0)->size() == 0) {
    Add(out, Code::InvalidHook, field, field + ": argv must name a program");
  } else if (CheckCount(out, h->argv(), names::kMaxHookArgs, field + ".argv")) {
    size_t bytes = 0;
    bool nul = false;
    for (const auto* a : *h->argv()) {
      bytes += a->size();
      nul = nul || a->string_view().find('\0') != std::string_view::npos;
    }
    if (bytes > names::kMaxHookBytes) {
      Add(out, Code::LimitExceeded, field + ".argv",
          field + ": argv is " + std::to_string(bytes) + " bytes; at most " + std::to_string(names::kMaxHookBytes));
    }
    if (nul) Add(out, Code::InvalidHook, field + ".argv", field + ": an argument contains a NUL byte");
    if (run_here && !nul && bytes <= names::kMaxHookBytes) {
      const std::string program = h->argv()->Get(0)->str();
      if (h->shell()) {
        if (!limits.allow_shell_hooks) {
          Add(out, Code::ShellHookForbidden, field,
              field + ": shell hooks are disabled on this daemon (--allow-shell-hooks); give argv of a program under a hook root");
        }
      } else if (!limits.hook_roots.empty()) {
        if (const std::string why = names::HookPathProblem(program); !why.empty()) {
          Add(out, Code::HookOutsideRoots, field, field + ": " + Printable(program) + " " + why);
        } else if (!names::UnderAnyRoot(program, limits.hook_roots)) {
          std::string roots;
          for (const auto& r : limits.hook_roots) roots += (roots.empty() ? "" : ", ") + r;
          Add(out, Code::HookOutsideRoots, field, field + ": " + Printable(program) + " is outside the hook roots (" + roots + ")");
        }
      }
    }
  }
  if (h->timeout_ms() == 0 || h->timeout_ms() > limits.max_hook_timeout_ms) {
    Add(out, Code::InvalidTimeout, field,
        field + ": timeout_ms " + std::to_string(h->timeout_ms()) + " is outside 1.." +
            std::to_string(limits.max_hook_timeout_ms));
  }
}

void CheckMetadata(std::vector<Issue>& out, const flatbuffers::Vector<flatbuffers::Offset<fb::KeyValue>>* md,
                   const std::string& field) {
  if (md == nullptr || !CheckCount(out, md, names::kMaxMetadataEntries, field)) return;
  size_t reported = 0;
  for (const auto* kv : *md) {
    if (reported >= kMaxIssuesPerList) break;
    const size_t before = out.size();
    if (CheckName(out, kv->key()->string_view(), field, "metadata key")) {
      const std::string where = field + "." + kv->key()->str();
      CheckText(out, kv->value(), names::kMaxMetadataValueBytes, where);
      // The plugin host builds a path from it: <plugin dir>/<plugin>/...
      if (kv->key()->string_view() == "plugin" && kv->value() != nullptr) {
        CheckName(out, kv->value()->string_view(), where, "plugin");
      }
    }
    reported += out.size() - before;
  }
}

std::string Describe(const proj::Upgrade& u) { return u.component + " " + u.from_version + " -> " + u.to_version; }

}  // namespace

const std::string& ValidationCodeName(fb::ValidationCode c) {
  static const std::string none;
  const auto& names = CodeNames();
  const auto i = static_cast<size_t>(c);
  return i < names.size() ? names[i] : none;
}

fb::ValidationCode ValidationCodeFromName(std::string_view name) {
  const auto& names = CodeNames();
  for (size_t i = 1; i < names.size(); ++i) {
    if (!names[i].empty() && names[i] == name) return static_cast<fb::ValidationCode>(i);
  }
  return fb::ValidationCode::Unspecified;
}

std::vector<Issue> CheckSpecShape(const fb::ComponentSpec& spec, const Limits& limits, const std::string& field) {
  std::vector<Issue> out;
  CheckName(out, spec.name()->string_view(), field + ".name", "component name");
  CheckVersion(out, spec.version(), field + ".version", true);
  if (spec.dependencies() != nullptr && CheckCount(out, spec.dependencies(), names::kMaxDependencies, field + ".dependencies")) {
    std::set<std::string> seen;
    size_t i = 0;
    for (const auto* d : *spec.dependencies()) {
      const std::string at = field + ".dependencies[" + std::to_string(i++) + "]";
      if (!CheckName(out, d->name()->string_view(), at + ".name", "dependency")) continue;
      const std::string where = field + ".dependencies." + d->name()->str();
      if (!seen.insert(d->name()->str()).second) Add(out, Code::DuplicateDependency, where, "dependency " + d->name()->str() + " is listed twice");
      if (d->name()->string_view() == spec.name()->string_view()) {
        Add(out, Code::DependencyCycle, where, "component " + spec.name()->str() + " depends on itself");
      }
      if (d->range()->size() > names::kMaxRangeBytes) {
        Add(out, Code::InvalidRange, where, "dependency range is longer than " + std::to_string(names::kMaxRangeBytes) + " bytes");
        continue;
      }
      auto r = semver::Range::Parse(d->range()->string_view());
      if (!r.ok()) {
        Add(out, Code::InvalidRange, where, r.status().message());
      } else if (!r->Satisfiable()) {
        Add(out, Code::UnsatisfiableRange, where,
            "dependency range '" + d->range()->str() + "' of " + d->name()->str() + " matches no version");
      }
    }
  }
  if (const auto* a = spec.artifact(); a != nullptr) {
    CheckText(out, a->location(), names::kMaxLocationBytes, field + ".artifact.location");
  }
  CheckMetadata(out, spec.metadata(), field + ".metadata");
  if (const auto* h = spec.hooks(); h != nullptr) {
    const bool here = spec.executor() == fb::ExecutorKind::Hook;
    CheckHook(out, h->prepare(), field + ".hooks.prepare", limits, here);
    CheckHook(out, h->swap(), field + ".hooks.swap", limits, here);
    CheckHook(out, h->health(), field + ".hooks.health", limits, here);
    CheckHook(out, h->revert(), field + ".hooks.revert", limits, here);
    CheckHook(out, h->stop(), field + ".hooks.stop", limits, here);
    CheckHook(out, h->start(), field + ".hooks.start", limits, here);
  }
  if (spec.instances() != nullptr && CheckCount(out, spec.instances(), names::kMaxInstances, field + ".instances")) {
    std::set<std::string_view> seen;
    size_t reported = 0;
    for (const auto* i : *spec.instances()) {
      if (reported >= kMaxIssuesPerList) break;
      if (!CheckName(out, i->string_view(), field + ".instances", "instance")) {
        ++reported;
      } else if (!seen.insert(i->string_view()).second) {
        Add(out, Code::DuplicateInstance, field + ".instances", "instance '" + i->str() + "' is listed twice");
        ++reported;
      }
    }
  }
  return out;
}

std::vector<Issue> CheckRequestShape(const fb::RequestUpgrade& req, const Limits& limits) {
  std::vector<Issue> out;
  if (req.upgrade_id()->hi() == 0 && req.upgrade_id()->lo() == 0) Add(out, Code::MissingField, "upgrade_id", "upgrade_id must not be zero");
  CheckName(out, req.component()->string_view(), "component", "component name");
  CheckVersion(out, req.expected_version(), "expected_version", false);
  CheckVersion(out, req.target_version(), "target_version", true);
  CheckText(out, req.requested_by(), names::kMaxNameBytes, "requested_by");
  CheckMetadata(out, req.metadata(), "metadata");
  if (req.timeout_ms() < limits.min_timeout_ms || req.timeout_ms() > limits.max_timeout_ms) {
    Add(out, Code::InvalidTimeout, "timeout_ms",
        "timeout_ms " + std::to_string(req.timeout_ms()) + " is outside " + std::to_string(limits.min_timeout_ms) +
            ".." + std::to_string(limits.max_timeout_ms));
  }
  if (req.priority() < -limits.max_abs_priority || req.priority() > limits.max_abs_priority) {
    Add(out, Code::InvalidPriority, "priority",
        "priority " + std::to_string(req.priority()) + " is outside -" + std::to_string(limits.max_abs_priority) +
            ".." + std::to_string(limits.max_abs_priority));
  }
  if (const auto* st = req.strategy(); st != nullptr) {
    switch (st->kind()) {
      case fb::StrategyKind::Gradual:
        if (st->steps() < 1 || st->steps() > 100) Add(out, Code::InvalidStrategy, "strategy.steps", "gradual needs 1..100 steps");
        break;
      case fb::StrategyKind::Canary: {
        const auto* w = st->weights();
        if (w == nullptr || w->size() == 0 || w->size() > names::kMaxWeights) {
          Add(out, Code::InvalidStrategy, "strategy.weights", "canary needs 1..20 weights ending at 100");
          break;
        }
        for (size_t i = 0; i < w->size(); ++i) {
          if (w->Get(i) == 0 || w->Get(i) > 100 || (i > 0 && w->Get(i) <= w->Get(i - 1))) {
            Add(out, Code::InvalidStrategy, "strategy.weights", "canary weights must rise strictly within 1..100");
            break;
          }
        }
        if (w->Get(w->size() - 1) != 100) Add(out, Code::InvalidStrategy, "strategy.weights", "canary weights must end at 100");
        if (st->pause_ms() > limits.max_pause_ms) Add(out, Code::InvalidStrategy, "strategy.pause_ms", "pause_ms is over a day");
        break;
      }
      case fb::StrategyKind::Rolling:
        if (st->max_unavailable() < 1) Add(out, Code::InvalidStrategy, "strategy.max_unavailable", "rolling needs max_unavailable >= 1");
        break;
      default:
        break;
    }
  }
  if (const auto* t = req.target(); t != nullptr) {
    for (auto& i : CheckSpecShape(*t, limits, "target")) out.push_back(std::move(i));
    if (t->name()->string_view() != req.component()->string_view()) {
      Add(out, Code::TargetMismatch, "target.name", "target spec names " + Printable(t->name()->string_view()) + ", not " + Printable(req.component()->string_view()));
    }
    if (t->version()->string_view() != req.target_version()->string_view()) {
      Add(out, Code::TargetMismatch, "target.version",
          "target spec has version " + Printable(t->version()->string_view()) + ", not the target_version " +
              Printable(req.target_version()->string_view()));
    }
  }
  return out;
}

std::vector<Issue> CheckRegistration(const proj::Component& c, const proj::Registry& registry) {
  std::vector<Issue> out;
  for (const auto& d : c.dependencies) {
    const proj::Component* dep = registry.find(d.name);
    if (dep == nullptr) {
      Add(out, Code::DependencyMissing, "dependencies." + d.name, c.name + " depends on " + d.name + " (" + d.range + "), which is not registered");
      continue;
    }
    auto range = semver::Range::Parse(d.range);
    auto version = semver::Parse(dep->version);
    if (range.ok() && version.ok() && !range->Matches(version.value())) {
      Add(out, Code::DependencyUnmet, "dependencies." + d.name,
          c.name + " needs " + d.name + " " + d.range + " but " + dep->version + " is registered");
    }
  }
  std::string path;
  if (HasDependencyCycle(registry, c, &path)) Add(out, Code::DependencyCycle, "dependencies", "dependency cycle: " + path);
  return out;
}

bool HasDependencyCycle(const proj::Registry& registry, const proj::Component& c, std::string* path) {
  auto deps_of = [&](const std::string& name) -> const std::vector<proj::Dependency>* {
    if (name == c.name) return &c.dependencies;
    const proj::Component* x = registry.find(name);
    return x == nullptr ? nullptr : &x->dependencies;
  };
  // Depth-first from c: a cycle through c is the only new one c can make.
  std::vector<std::string> stack{c.name};
  std::set<std::string> done;
  std::function<bool(const std::string&)> visit = [&](const std::string& name) -> bool {
    const auto* deps = deps_of(name);
    if (deps == nullptr) return false;
    for (const auto& d : *deps) {
      if (d.name == c.name) {
        stack.push_back(d.name);
        return true;
      }
      if (done.count(d.name) || std::find(stack.begin(), stack.end(), d.name) != stack.end()) continue;
      stack.push_back(d.name);
      if (visit(d.name)) return true;
      stack.pop_back();
      done.insert(d.name);
    }
    return false;
  };
  if (!visit(c.name)) return false;
  path->clear();
  for (size_t i = 0; i < stack.size(); ++i) *path += (i ? " -> " : "") + stack[i];
  return true;
}

namespace {

// The SemVer move: the same version is refused, a breaking one unless
// allowed (or at basic level); downgrades and pre-releases are warned about.
void CheckVersionMove(const proj::Upgrade& u, const semver::Version& from, const semver::Version& to,
                      ValidationResult& v) {
  const auto compat = semver::CheckCompatibility(from, to);
  v.breaking = compat.breaking;
  if (compat.change == semver::Change::kSame) {
    Add(v.errors, Code::SameVersion, "target_version", compat.reason);
  } else if (compat.breaking && !u.allow_breaking && u.level != fb::ValidationLevel::Basic) {
    proj::Upgrade described = u;
    described.from_version = v.from_version;
    Add(v.errors, Code::BreakingChange, "target_version",
        Describe(described) + ": " + compat.reason + " (set allow_breaking to proceed)");
  } else if (compat.breaking || compat.change == semver::Change::kDowngrade || compat.prerelease) {
    v.warnings.push_back(compat.reason);
  }
}

// The strategy against the component: traffic shifts need a hot-swappable
// one; rolling and agents need instances; agents have no second slot.
void CheckStrategyFits(const proj::Upgrade& u, const State& state, ValidationResult& v) {
  auto& out = v.errors;
  const fb::StrategyKind kind = u.strategy.kind;
  const bool shifts_traffic = kind == fb::StrategyKind::Canary || kind == fb::StrategyKind::Gradual;
  if (!v.target.hot_swappable && shifts_traffic) {
    Add(out, Code::NotHotSwappable, "strategy",
        u.component + " is not hot-swappable: it is restarted, never swapped live, so " +
            fb::EnumNameStrategyKind(kind) + " cannot shift traffic to it (use Immediate, Rolling or BlueGreen)");
  }
  const bool by_agents = v.target.executor == fb::ExecutorKind::Agent;
  if ((kind == fb::StrategyKind::Rolling || by_agents) && v.target.instances.empty()) {
    Add(out, Code::NoInstances, "target.instances",
        (by_agents ? "agent-run " : "rolling upgrade of ") + u.component + " needs at least one instance");
  }
  if (!by_agents) return;
  if (kind == fb::StrategyKind::BlueGreen) {
    Add(out, Code::StrategyUnsupported, "strategy",
        u.component + " is run by agents: blue-green needs a second slot they do not have");
  }
  for (const auto& instance : v.target.instances) {
    bool announced = false;
    for (const auto& [agent, instances] : state.status.agents) {
      announced = announced || std::find(instances.begin(), instances.end(), instance) != instances.end();
    }
    if (!announced) {
      Add(out, Code::InstanceWithoutAgent, "target.instances",
          "no announced agent runs instance " + instance + " of " + u.component);
    }
  }
}

// The new version's dependencies are met, and its dependents still accept it.
void CheckDependencies(const proj::Upgrade& u, const State& state, const semver::Version& to, ValidationResult& v) {
  auto& out = v.errors;
  for (const auto& d : v.target.dependencies) {
    const proj::Component* dep = state.registry.find(d.name);
    auto range = semver::Range::Parse(d.range);
    if (dep == nullptr) {
      Add(out, Code::DependencyMissing, "target.dependencies." + d.name,
          u.component + " " + u.to_version + " needs " + d.name + " " + d.range + ", which is not registered");
    } else if (auto dv = semver::Parse(dep->version); range.ok() && dv.ok() && !range->Matches(dv.value())) {
      Add(out, Code::DependencyUnmet, "target.dependencies." + d.name,
          u.component + " " + u.to_version + " needs " + d.name + " " + d.range + " but " + d.name + " is at " +
              dep->version);
    }
  }
  for (const auto& name : state.registry.DependentsOf(u.component)) {
    for (const auto& d : state.registry.find(name)->dependencies) {
      if (d.name != u.component) continue;
      auto range = semver::Range::Parse(d.range);
      if (range.ok() && !range->Matches(to)) {
        Add(out, Code::DependentBroken, "target_version",
            name + " needs " + u.component + " " + d.range + ", which " + u.to_version + " does not satisfy");
      }
    }
  }
}

// Strict: a new build, declared by its SHA-256.
void CheckArtifact(const proj::Component& current, ValidationResult& v) {
  if (v.target.artifact_sha256.empty()) {
    Add(v.errors, Code::ArtifactHashMissing, "target.artifact", "strict validation needs the new artifact's SHA-256");
  } else if (v.target.artifact_sha256 == current.artifact_sha256) {
    Add(v.errors, Code::ArtifactUnchanged, "target.artifact",
        "the new version declares the same artifact SHA-256 as " + current.version + ": not a new build");
  }
}

}  // namespace

ValidationResult ValidateUpgrade(const proj::Upgrade& u, const State& state) {
  ValidationResult v;
  auto& out = v.errors;
  const proj::Component* current = state.registry.find(u.component);
  if (current == nullptr) {
    Add(out, Code::ComponentNotFound, "component", "component " + u.component + " is not registered");
    return v;
  }
  v.from_version = current->version;
  if (u.has_requested_target) {
    v.target = u.requested_target;
  } else {
    v.target = *current;
    v.target.version = u.to_version;
  }
  if (!u.parent.zero()) return v;  // restoring a recorded state

  if (!u.expected_version.empty() && u.expected_version != current->version) {
    Add(out, Code::VersionMismatch, "expected_version",
        u.component + " is at " + current->version + ", not the expected " + u.expected_version);
  }
  auto from = semver::Parse(current->version);
  auto to = semver::Parse(u.to_version);
  if (from.ok() && to.ok()) CheckVersionMove(u, from.value(), to.value(), v);
  if (current->critical && u.level != fb::ValidationLevel::Strict) {
    Add(out, Code::CriticalNeedsStrict, "validation_level",
        u.component + " is critical: only strict validation may upgrade it");
  }
  CheckStrategyFits(u, state, v);
  std::string cycle;
  if (HasDependencyCycle(state.registry, v.target, &cycle)) {
    Add(out, Code::DependencyCycle, "target.dependencies", "dependency cycle: " + cycle);
  }
  if (u.level != fb::ValidationLevel::Basic && to.ok()) CheckDependencies(u, state, to.value(), v);
  if (u.level == fb::ValidationLevel::Strict) CheckArtifact(*current, v);
  return v;
}

}  // namespace noodle::engine
