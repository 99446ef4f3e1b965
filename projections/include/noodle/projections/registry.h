// Registry projection: the components, their current versions and specs, and
// the dependency graph, folded from the log. Pure: no disk, no sockets.
// Not thread-safe: one owner folds; readers take a copy.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "noodle/fb/events_generated.h"
#include "noodle/projections/component.h"

namespace noodle::proj {

struct RegistryEntry {
  Component spec;
  uint64_t registered_seq = 0;
  uint64_t updated_seq = 0;  // last registration or completed upgrade
  bool operator==(const RegistryEntry&) const = default;
};

struct Registry {
  static constexpr const char* kName = "registry";
  uint64_t seq = 0;  // last event folded in
  std::map<std::string, RegistryEntry> components;
  // name -> the components that declare a dependency on it (kept by Evolve,
  // so finding dependents costs a lookup, not a scan of the registry).
  std::map<std::string, std::set<std::string>> dependents;
  bool operator==(const Registry&) const = default;

  const Component* find(const std::string& name) const {
    auto it = components.find(name);
    return it == components.end() ? nullptr : &it->second.spec;
  }
  // Names of the components that declare a dependency on name.
  std::vector<std::string> DependentsOf(const std::string& name) const;
};

// Folds one verified event into r. Events that do not concern r only move seq.
void Evolve(Registry& r, const fb::EventEnvelope& e);

}  // namespace noodle::proj
