#include "noodle/projections/component.h"

#include "noodle/envelope.h"

namespace noodle::proj {
namespace {

const char* const kHookNames[] = {"prepare", "swap", "health", "revert", "stop", "start"};

const fb::HookCommand* HookOf(const fb::Hooks& h, std::string_view name) {
  if (name == "prepare") return h.prepare();
  if (name == "swap") return h.swap();
  if (name == "health") return h.health();
  if (name == "revert") return h.revert();
  if (name == "stop") return h.stop();
  return h.start();
}

}  // namespace

std::string Id::hex() const { return IdToHex(fb()); }

Component FromSpec(const fb::ComponentSpec& spec) {
  Component c;
  c.name = spec.name()->str();
  c.version = spec.version()->str();
  c.type = spec.type();
  c.hot_swappable = spec.hot_swappable();
  c.critical = spec.critical();
  if (spec.dependencies() != nullptr) {
    for (const auto* d : *spec.dependencies()) c.dependencies.push_back({d->name()->str(), d->range()->str()});
  }
  if (const auto* a = spec.artifact(); a != nullptr) {
    if (a->location() != nullptr) c.artifact_location = a->location()->str();
    c.artifact_require_signature = a->require_signature();
    if (a->sha256() != nullptr) {
      c.artifact_sha256 = HashToHex(*a->sha256());
      if (c.artifact_sha256.find_first_not_of('0') == std::string::npos) c.artifact_sha256.clear();
    }
  }
  if (spec.metadata() != nullptr) {
    for (const auto* kv : *spec.metadata()) c.metadata[kv->key()->str()] = kv->value() ? kv->value()->str() : "";
  }
  c.executor = spec.executor();
  if (const auto* h = spec.hooks(); h != nullptr) {
    for (const char* name : kHookNames) {
      const auto* cmd = HookOf(*h, name);
      if (cmd == nullptr) continue;
      Hook hook;
      if (cmd->argv() != nullptr) {
        for (const auto* a : *cmd->argv()) hook.argv.push_back(a->str());
      }
      hook.shell = cmd->shell();
      hook.timeout_ms = cmd->timeout_ms();
      c.hooks[name] = std::move(hook);
    }
  }
  if (spec.instances() != nullptr) {
    for (const auto* i : *spec.instances()) c.instances.push_back(i->str());
  }
  return c;
}

flatbuffers::Offset<fb::ComponentSpec> ToSpec(flatbuffers::FlatBufferBuilder& fbb, const Component& c) {
  std::vector<flatbuffers::Offset<fb::Dependency>> deps;
  for (const auto& d : c.dependencies) {
    deps.push_back(fb::CreateDependency(fbb, fbb.CreateString(d.name), fbb.CreateString(d.range)));
  }
  flatbuffers::Offset<fb::Artifact> artifact;
  if (!c.artifact_location.empty() || !c.artifact_sha256.empty() || c.artifact_require_signature) {
    const fb::Hash256 hash = HashFromHex(c.artifact_sha256).value_or(fb::Hash256());
    artifact = fb::CreateArtifact(fbb, fbb.CreateString(c.artifact_location), &hash, c.artifact_require_signature);
  }
  std::vector<flatbuffers::Offset<fb::KeyValue>> metadata;
  for (const auto& [k, v] : c.metadata) {
    metadata.push_back(fb::CreateKeyValue(fbb, fbb.CreateString(k), fbb.CreateString(v)));
  }
  flatbuffers::Offset<fb::Hooks> hooks;
  if (!c.hooks.empty()) {
    flatbuffers::Offset<fb::HookCommand> built[6];
    for (size_t i = 0; i < 6; ++i) {
      const Hook* h = c.hook(kHookNames[i]);
      if (h == nullptr) continue;
      built[i] = fb::CreateHookCommand(fbb, fbb.CreateVectorOfStrings(h->argv), h->shell, h->timeout_ms);
    }
    hooks = fb::CreateHooks(fbb, built[0], built[1], built[2], built[3], built[4], built[5]);
  }
  return fb::CreateComponentSpec(fbb, fbb.CreateString(c.name), fbb.CreateString(c.version), c.type,
                                 c.hot_swappable, c.critical, fbb.CreateVector(deps), artifact,
                                 fbb.CreateVectorOfSortedTables(&metadata), c.executor, hooks,
                                 fbb.CreateVectorOfStrings(c.instances));
}

}  // namespace noodle::proj
