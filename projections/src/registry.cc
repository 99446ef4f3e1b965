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

}  // namespace

void Evolve(Registry& r, const fb::EventEnvelope& e) {
  r.seq = e.seq();
  switch (e.event_type()) {
    case fb::Event::ComponentRegistered: {
      Component c = FromSpec(*e.event_as_ComponentRegistered()->component());
      auto& entry = r.components[c.name];
      if (entry.registered_seq == 0) entry.registered_seq = e.seq();
      entry.updated_seq = e.seq();
      Unindex(r, entry.spec);
      Index(r, c);
      entry.spec = std::move(c);
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
        Unindex(r, it->second.spec);
        it->second.spec = FromSpec(*done->spec());
        Index(r, it->second.spec);
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
