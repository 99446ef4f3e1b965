#include "noodle/projections/registry.h"

namespace noodle::proj {

std::vector<std::string> Registry::DependentsOf(const std::string& name) const {
  auto it = dependents.find(name);
  return it == dependents.end() ? std::vector<std::string>{} : std::vector<std::string>(it->second.begin(), it->second.end());
}

namespace {

// Keeps the reverse dependency index in step with one component's spec.
void Unindex(Registry& r, const Component& c) {
  for (const auto& d : c.dependencies) {
    auto it = r.dependents.find(d.name);
    if (it == r.dependents.end()) continue;
    it->second.erase(c.name);
    if (it->second.empty()) r.dependents.erase(it);
  }
}

void Index(Registry& r, const Component& c) {
  for (const auto& d : c.dependencies) r.dependents[d.name].insert(c.name);
}

// True when spec declares the same dependency names as c, in order: then
// the reverse index needs no change.
bool SameDependencyNames(const Component& c, const fb::ComponentSpec& spec) {
  const auto* deps = spec.dependencies();
  const size_t n = deps == nullptr ? 0 : deps->size();
  if (n != c.dependencies.size()) return false;
  for (size_t i = 0; i < n; ++i) {
    if (deps->Get(static_cast<flatbuffers::uoffset_t>(i))->name()->string_view() != c.dependencies[i].name) return false;
  }
  return true;
}

// Replaces entry's spec in place, keeping the reverse index in step.
void Respec(Registry& r, RegistryEntry& entry, const fb::ComponentSpec& spec) {
  const bool reindex = entry.spec.name != spec.name()->string_view() || !SameDependencyNames(entry.spec, spec);
  if (reindex) Unindex(r, entry.spec);
  AssignSpec(spec, &entry.spec);
  if (reindex) Index(r, entry.spec);
}

}  // namespace

void Evolve(Registry& r, const fb::EventEnvelope& e) {
  r.seq = e.seq();
  switch (e.event_type()) {
    case fb::Event::ComponentRegistered: {
      const auto* spec = e.event_as_ComponentRegistered()->component();
      auto& entry = r.components[spec->name()->str()];
      if (entry.registered_seq == 0) entry.registered_seq = e.seq();
      entry.updated_seq = e.seq();
      Respec(r, entry, *spec);
      break;
    }
    case fb::Event::ComponentDeregistered: {
      auto it = r.components.find(e.event_as_ComponentDeregistered()->name()->str());
      if (it == r.components.end()) break;
      Unindex(r, it->second.spec);
      r.components.erase(it);
      break;
    }
    case fb::Event::UpgradeCompleted: {
      const auto* done = e.event_as_UpgradeCompleted();
      auto it = r.components.find(done->component()->str());
      if (it == r.components.end()) break;
      if (done->spec() != nullptr) {
        Respec(r, it->second, *done->spec());
      } else {
        it->second.spec.version = done->to_version()->str();
      }
      it->second.updated_seq = e.seq();
      break;
    }
    default:
      break;
  }
}

}  // namespace noodle::proj
