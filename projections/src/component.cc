#include "noodle/projections/component.h"

#include "noodle/envelope.h"

namespace noodle::proj {
namespace {

const char* const kHookNames[] = {"prepare", "swap", "health", "revert", "stop", "start"};
// The same names in the order a std::map keeps them.
const char* const kHookNamesSorted[] = {"health", "prepare", "revert", "start", "stop", "swap"};

const fb::HookCommand* HookOf(const fb::Hooks& h, std::string_view name) {
  if (name == "prepare") return h.prepare();
  if (name == "swap") return h.swap();
  if (name == "health") return h.health();
  if (name == "revert") return h.revert();
  if (name == "stop") return h.stop();
  return h.start();
}

void AssignStr(std::string* out, const flatbuffers::String* s) {
  if (s == nullptr) out->clear();
  else out->assign(s->data(), s->size());
}

void AssignStrings(std::vector<std::string>* out, const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* in) {
  out->resize(in == nullptr ? 0 : in->size());
  for (size_t i = 0; i < out->size(); ++i) AssignStr(&(*out)[i], in->Get(static_cast<flatbuffers::uoffset_t>(i)));
}

// Sets *m to the n entries key(i) -> fill(i, value), as inserting them in
// order into an empty map would (a later duplicate key wins). When m already
// holds exactly those keys in that order, the values are filled in place, so
// an unchanged spec costs no allocation.
template <typename V, typename Key, typename Fill>
void AssignMap(std::map<std::string, V>* m, size_t n, Key&& key, Fill&& fill) {
  bool same = m->size() == n;
  auto it = m->begin();
  for (size_t i = 0; same && i < n; ++i, ++it) same = it->first == key(i);
  if (same) {
    it = m->begin();
    for (size_t i = 0; i < n; ++i, ++it) fill(i, &it->second);
    return;
  }
  m->clear();
  for (size_t i = 0; i < n; ++i) {
    V& v = (*m)[std::string(key(i))];
    v = V{};
    fill(i, &v);
  }
}

void AssignArtifact(const fb::ComponentSpec& spec, Component* c) {
  const auto* a = spec.artifact();
  c->artifact_require_signature = a != nullptr && a->require_signature();
  if (a == nullptr || a->location() == nullptr) c->artifact_location.clear();
  else AssignStr(&c->artifact_location, a->location());
  c->artifact_sha256.clear();
  if (a != nullptr && a->sha256() != nullptr) {
    c->artifact_sha256 = HashToHex(*a->sha256());
    if (c->artifact_sha256.find_first_not_of('0') == std::string::npos) c->artifact_sha256.clear();
  }
}

void AssignHooks(const fb::ComponentSpec& spec, Component* c) {
  const fb::HookCommand* present[6];
  const char* names[6];
  size_t n = 0;
  if (const auto* h = spec.hooks(); h != nullptr) {
    for (const char* name : kHookNamesSorted) {
      if (const auto* cmd = HookOf(*h, name); cmd != nullptr) {
        present[n] = cmd;
        names[n++] = name;
      }
    }
  }
  AssignMap(
      &c->hooks, n, [&](size_t i) { return std::string_view(names[i]); },
      [&](size_t i, Hook* hook) {
        AssignStrings(&hook->argv, present[i]->argv());
        hook->shell = present[i]->shell();
        hook->timeout_ms = present[i]->timeout_ms();
      });
}

}  // namespace

std::string Id::hex() const { return IdToHex(fb()); }

void AssignSpec(const fb::ComponentSpec& spec, Component* c) {
  AssignStr(&c->name, spec.name());
  AssignStr(&c->version, spec.version());
  c->type = spec.type();
  c->hot_swappable = spec.hot_swappable();
  c->critical = spec.critical();
  const auto* deps = spec.dependencies();
  c->dependencies.resize(deps == nullptr ? 0 : deps->size());
  for (size_t i = 0; i < c->dependencies.size(); ++i) {
    const auto* d = deps->Get(static_cast<flatbuffers::uoffset_t>(i));
    AssignStr(&c->dependencies[i].name, d->name());
    AssignStr(&c->dependencies[i].range, d->range());
  }
  AssignArtifact(spec, c);
  const auto* md = spec.metadata();
  AssignMap(
      &c->metadata, md == nullptr ? 0 : md->size(),
      [&](size_t i) { return md->Get(static_cast<flatbuffers::uoffset_t>(i))->key()->string_view(); },
      [&](size_t i, std::string* v) { AssignStr(v, md->Get(static_cast<flatbuffers::uoffset_t>(i))->value()); });
  c->executor = spec.executor();
  AssignHooks(spec, c);
  AssignStrings(&c->instances, spec.instances());
}

Component FromSpec(const fb::ComponentSpec& spec) {
  Component c;
  AssignSpec(spec, &c);
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
