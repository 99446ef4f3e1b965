// The domain's value types, shared by the projections and the engine: an id,
// a component as registered. Plain values with equality, so a projection
// rebuilt from the log can be compared with the live one field by field.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "noodle/fb/common_generated.h"

namespace noodle::proj {

struct Id {
  uint64_t hi = 0;
  uint64_t lo = 0;
  bool zero() const { return hi == 0 && lo == 0; }
  auto operator<=>(const Id&) const = default;
  static Id From(const fb::Id128* id) { return id == nullptr ? Id{} : Id{id->hi(), id->lo()}; }
  fb::Id128 fb() const { return fb::Id128(hi, lo); }
  std::string hex() const;  // 32 lowercase hex digits
};

struct Hook {
  std::vector<std::string> argv;
  bool shell = false;  // argv[0] is a command line for /bin/sh -c
  uint32_t timeout_ms = 30000;
  bool operator==(const Hook&) const = default;
};

struct Dependency {
  std::string name;
  std::string range;
  bool operator==(const Dependency&) const = default;
};

struct Component {
  std::string name;
  std::string version;
  fb::ComponentType type = fb::ComponentType::Other;
  bool hot_swappable = true;
  bool critical = false;
  std::vector<Dependency> dependencies;
  std::string artifact_location;
  std::string artifact_sha256;  // 64 hex digits; empty when none is declared
  // A detached signature (<artifact>.sig) by a trusted signer must verify
  // before any hook runs or any library is opened (Artifact.require_signature).
  bool artifact_require_signature = false;
  std::map<std::string, std::string> metadata;
  fb::ExecutorKind executor = fb::ExecutorKind::Hook;
  std::map<std::string, Hook> hooks;  // by name: prepare, swap, health, revert, stop, start
  std::vector<std::string> instances;
  bool operator==(const Component&) const = default;

  const Hook* hook(const std::string& hook_name) const {
    auto it = hooks.find(hook_name);
    return it == hooks.end() ? nullptr : &it->second;
  }
};

// Copies a verified ComponentSpec into a value.
Component FromSpec(const fb::ComponentSpec& spec);
// *c = FromSpec(spec), reusing the memory c already holds (its strings,
// vectors and map nodes): folding a spec much like the one it replaces
// allocates little.
void AssignSpec(const fb::ComponentSpec& spec, Component* c);
// Builds the ComponentSpec of c in fbb.
flatbuffers::Offset<fb::ComponentSpec> ToSpec(flatbuffers::FlatBufferBuilder& fbb, const Component& c);

}  // namespace noodle::proj
