// Validation of registrations and upgrade requests. Pure. Every problem is
// reported, not only the first.
#pragma once

#include <string>
#include <vector>

#include "noodle/engine/decider.h"

namespace noodle::engine {

// Problems in a component spec itself (names, versions, ranges, hooks):
// malformed input, refused before anything is recorded.
std::vector<Issue> CheckSpecShape(const fb::ComponentSpec& spec, const Limits& limits, const std::string& field);

// Problems in a request itself (versions, timeouts, priority, strategy).
std::vector<Issue> CheckRequestShape(const fb::RequestUpgrade& req, const Limits& limits);

// Registration against the registry: dependencies registered and in range.
std::vector<Issue> CheckRegistration(const proj::Component& c, const proj::Registry& registry);

struct ValidationResult {
  std::vector<Issue> errors;
  std::vector<std::string> warnings;
  bool breaking = false;
  std::string from_version;
  proj::Component target;  // the component as it will be after the upgrade
};

// An upgrade (as requested, the record the decider keeps) against the state,
// at its validation level:
//   basic:    component exists, expected version, target differs, strategy fits
//             the component (hot_swappable, instances), no dependency cycle.
//   standard: + SemVer compatibility (breaking refused unless allowed),
//             dependencies of the new version met, dependents still satisfied.
//   strict:   + an artifact with a SHA-256 that differs from the current one.
// Critical components need strict. An upgrade that is part of a rollback to
// a point restores a recorded state: only existence is checked.
ValidationResult ValidateUpgrade(const proj::Upgrade& u, const State& state);

// True when the dependency graph with `c` put in (replacing its namesake)
// has a cycle; the cycle is written to path ("a -> b -> a").
bool HasDependencyCycle(const proj::Registry& registry, const proj::Component& c, std::string* path);

}  // namespace noodle::engine
