#include "noodle/projections/registry.h"

namespace noodle::proj {

std::vector<std::string> Registry::DependentsOf(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [n, entry] : components) {
    for (const auto& d : entry.spec.dependencies) {
      if (d.name == name) {
        out.push_back(n);
        break;
      }
    }
  }
  return out;
}

void Evolve(Registry& r, const fb::EventEnvelope& e) {
  r.seq = e.seq();
  switch (e.event_type()) {
    case fb::Event::ComponentRegistered: {
      Component c = FromSpec(*e.event_as_ComponentRegistered()->component());
      auto& entry = r.components[c.name];
      if (entry.registered_seq == 0) entry.registered_seq = e.seq();
      entry.updated_seq = e.seq();
      entry.spec = std::move(c);
      break;
    }
    case fb::Event::ComponentDeregistered:
      r.components.erase(e.event_as_ComponentDeregistered()->name()->str());
      break;
    case fb::Event::UpgradeCompleted: {
      const auto* done = e.event_as_UpgradeCompleted();
      auto it = r.components.find(done->component()->str());
      if (it == r.components.end()) break;
      if (done->spec() != nullptr) {
        it->second.spec = FromSpec(*done->spec());
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
