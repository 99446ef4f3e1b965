// Who sent a command: the principal the bus authenticated (a CURVE key
// mapped to a name and roles by the daemon's keys file), or the engine
// itself for what its executors and timers feed back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace noodle {

// Roles are independent grants; a key may hold several ("operator,admin").
enum Role : uint32_t {
  kRoleObserver = 1u << 0,  // queries, subscribe, replay, audit
  kRoleOperator = 1u << 1,  // start/cancel/promote/abort upgrades, rollback points, rollbacks
  kRoleAdmin = 1u << 2,     // register/deregister, anything that sets hooks or plugins
  kRoleAgent = 1u << 3,     // announce its own name; report steps and health for its instances
};
constexpr uint32_t kAllRoles = kRoleObserver | kRoleOperator | kRoleAdmin | kRoleAgent;

struct Principal {
  std::string name;
  uint32_t roles = 0;
  // Z85 CURVE public key the bus authenticated; empty when there is none.
  std::string key;
  // The engine's own commands (step outcomes, timers): may report any step.
  bool engine = false;
  // No keys file: every client is "local", with every role and no name of
  // its own, so agent reports are not tied to an announced name.
  bool unauthenticated = false;

  bool Has(uint32_t role) const { return (roles & role) == role; }

  static Principal Engine(std::string name = "engine") { return {std::move(name), kAllRoles, "", true, false}; }
  static Principal Local() { return {"local", kAllRoles, "", false, true}; }
};

// "observer", "operator", "admin", "agent"; "" for anything else.
inline std::string_view RoleName(uint32_t role) {
  switch (role) {
    case kRoleObserver: return "observer";
    case kRoleOperator: return "operator";
    case kRoleAdmin: return "admin";
    case kRoleAgent: return "agent";
    default: return "";
  }
}

// The role named, 0 when the name is not a role.
inline uint32_t RoleFromName(std::string_view name) {
  for (uint32_t r : {kRoleObserver, kRoleOperator, kRoleAdmin, kRoleAgent}) {
    if (RoleName(r) == name) return r;
  }
  return 0;
}

}  // namespace noodle
