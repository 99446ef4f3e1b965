#include "component_json.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "enum_names.h"
#include "json_input.h"

namespace noodle::tools {
namespace {

using nlohmann::json;

Status WrongType(const std::string& path, const char* expected, const json& v) {
  return Status::InvalidArgument(path + ": expected " + expected + ", got " + v.type_name());
}

// Refuses a key of j that is not in `valid`, naming its path.
Status OnlyKeys(const json& j, const std::string& path, const std::vector<std::string_view>& valid) {
  if (!j.is_object()) return WrongType(path, "an object", j);
  for (const auto& [key, v] : j.items()) {
    if (std::find(valid.begin(), valid.end(), key) == valid.end()) {
      return Status::InvalidArgument(path + "." + key + ": unknown key (" + SuggestKey(key, valid) + ")");
    }
  }
  return Status::OK();
}

Status String(const json& v, const std::string& path, std::string* out) {
  if (!v.is_string()) return WrongType(path, "a string", v);
  *out = v.get<std::string>();
  return Status::OK();
}

Status Bool(const json& v, const std::string& path, bool* out) {
  if (!v.is_boolean()) return WrongType(path, "true or false", v);
  *out = v.get<bool>();
  return Status::OK();
}

// A whole number in [0, 2^32): 5.0 is one (as JSON Schema's "integer"), 5.5 is not.
Status Uint32(const json& v, const std::string& path, uint32_t* out) {
  const double d = v.is_number() ? v.get<double>() : -1;
  if (!v.is_number() || d < 0 || d > std::numeric_limits<uint32_t>::max() || std::floor(d) != d) {
    return WrongType(path, "a whole number from 0 to 4294967295", v);
  }
  *out = v.is_number_unsigned() ? static_cast<uint32_t>(v.get<uint64_t>()) : static_cast<uint32_t>(d);
  return Status::OK();
}

Status Strings(const json& v, const std::string& path, std::vector<std::string>* out) {
  if (!v.is_array()) return WrongType(path, "an array of strings", v);
  out->clear();
  for (size_t i = 0; i < v.size(); ++i) {
    std::string s;
    if (Status st = String(v[i], path + "[" + std::to_string(i) + "]", &s); !st.ok()) return st;
    out->push_back(std::move(s));
  }
  return Status::OK();
}

// Matches a string against an enum's names, ignoring case.
template <typename E, size_t N>
Status Enum(const json& v, const std::string& path, const E (&values)[N], const char* (*name)(E), E* out) {
  std::string s;
  if (Status st = String(v, path, &s); !st.ok()) return st;
  std::string all;
  const auto e = EnumNamed(s, values, name, &all);
  if (!e) return Status::InvalidArgument(path + ": unknown value '" + s + "' (valid: " + all + ")");
  *out = *e;
  return Status::OK();
}

const char* ExecutorName(fb::ExecutorKind e) { return fb::EnumNameExecutorKind(e); }
const char* TypeName(fb::ComponentType t) { return fb::EnumNameComponentType(t); }

Status Dependencies(const json& v, proj::Component* c) {
  if (!v.is_array()) return WrongType("$.dependencies", "an array", v);
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string path = "$.dependencies[" + std::to_string(i) + "]";
    if (Status s = OnlyKeys(v[i], path, {"name", "range"}); !s.ok()) return s;
    proj::Dependency d;
    for (const char* k : {"name", "range"}) {
      if (!v[i].contains(k)) return Status::InvalidArgument(path + ": '" + k + "' is required");
    }
    if (Status s = String(v[i]["name"], path + ".name", &d.name); !s.ok()) return s;
    if (Status s = String(v[i]["range"], path + ".range", &d.range); !s.ok()) return s;
    c->dependencies.push_back(std::move(d));
  }
  return Status::OK();
}

Status Artifact(const json& v, proj::Component* c) {
  const std::string path = "$.artifact";
  if (Status s = OnlyKeys(v, path, {"location", "sha256", "require_signature"}); !s.ok()) return s;
  if (v.contains("location")) {
    if (Status s = String(v["location"], path + ".location", &c->artifact_location); !s.ok()) return s;
  }
  if (v.contains("sha256")) {
    std::string& h = c->artifact_sha256;
    if (Status s = String(v["sha256"], path + ".sha256", &h); !s.ok()) return s;
    const bool hex = std::all_of(h.begin(), h.end(), [](unsigned char ch) { return std::isxdigit(ch); });
    if (!h.empty() && (h.size() != 64 || !hex)) return Status::InvalidArgument(path + ".sha256: expected 64 hex digits");
  }
  if (!v.contains("require_signature")) return Status::OK();
  return Bool(v["require_signature"], path + ".require_signature", &c->artifact_require_signature);
}

// Strings are kept as they are, other values as their compact JSON text.
Status Metadata(const json& v, proj::Component* c) {
  if (!v.is_object()) return WrongType("$.metadata", "an object", v);
  for (const auto& [k, value] : v.items()) c->metadata[k] = value.is_string() ? value.get<std::string>() : value.dump();
  return Status::OK();
}

Status OneHook(const json& h, const std::string& path, proj::Hook* hook) {
  if (h.is_string()) {
    hook->argv = {h.get<std::string>()};
    hook->shell = true;
    return Status::OK();
  }
  if (Status s = OnlyKeys(h, path, {"argv", "shell", "timeout_ms"}); !s.ok()) return s;
  if (!h.contains("argv")) return Status::InvalidArgument(path + ": 'argv' is required");
  if (Status s = Strings(h["argv"], path + ".argv", &hook->argv); !s.ok()) return s;
  if (hook->argv.empty()) return Status::InvalidArgument(path + ".argv: expected at least one string");
  if (h.contains("shell")) {
    if (Status s = Bool(h["shell"], path + ".shell", &hook->shell); !s.ok()) return s;
  }
  if (h.contains("timeout_ms")) return Uint32(h["timeout_ms"], path + ".timeout_ms", &hook->timeout_ms);
  return Status::OK();
}

Status Hooks(const json& v, proj::Component* c) {
  if (Status s = OnlyKeys(v, "$.hooks", {"prepare", "swap", "health", "revert", "stop", "start"}); !s.ok()) return s;
  for (const auto& [name, h] : v.items()) {
    proj::Hook hook;
    if (Status s = OneHook(h, "$.hooks." + name, &hook); !s.ok()) return s;
    c->hooks[name] = std::move(hook);
  }
  return Status::OK();
}

const std::vector<std::string_view>& TopKeys() {
  static const std::vector<std::string_view> keys = {
      "$schema", "name", "version", "type", "component_type", "description", "hot_swappable", "critical",
      "dependencies", "artifact", "metadata", "hooks", "instances", "executor"};
  return keys;
}

// name, version, type (either spelling) and description.
Status Identity(const json& j, proj::Component* c) {
  for (const char* k : {"name", "version"}) {
    if (!j.contains(k)) return Status::InvalidArgument(std::string("$: '") + k + "' is required");
  }
  if (Status s = String(j["name"], "$.name", &c->name); !s.ok()) return s;
  if (c->name.empty()) return Status::InvalidArgument("$.name: expected a non-empty string");
  if (Status s = String(j["version"], "$.version", &c->version); !s.ok()) return s;
  if (j.contains("type") && j.contains("component_type")) {
    return Status::InvalidArgument("$.component_type: give 'type' or 'component_type', not both");
  }
  for (const char* k : {"type", "component_type"}) {
    if (!j.contains(k)) continue;
    if (Status s = Enum(j[k], std::string("$.") + k, fb::EnumValuesComponentType(), TypeName, &c->type); !s.ok()) return s;
  }
  if (!j.contains("description")) return Status::OK();
  if (j.contains("metadata") && j["metadata"].is_object() && j["metadata"].contains("description")) {
    return Status::InvalidArgument("$.description: also given as $.metadata.description; give one");
  }
  return String(j["description"], "$.description", &c->metadata["description"]);
}

}  // namespace

Status ComponentFromJson(const json& j, proj::Component* out) {
  if (!j.is_object()) return WrongType("$", "a component spec (a JSON object)", j);
  if (Status s = OnlyKeys(j, "$", TopKeys()); !s.ok()) return s;
  if (j.contains("$schema") && !j["$schema"].is_string()) return WrongType("$.$schema", "a string", j["$schema"]);
  proj::Component c;
  Status s = Identity(j, &c);
  if (s.ok() && j.contains("hot_swappable")) s = Bool(j["hot_swappable"], "$.hot_swappable", &c.hot_swappable);
  if (s.ok() && j.contains("critical")) s = Bool(j["critical"], "$.critical", &c.critical);
  if (s.ok() && j.contains("dependencies")) s = Dependencies(j["dependencies"], &c);
  if (s.ok() && j.contains("artifact")) s = Artifact(j["artifact"], &c);
  if (s.ok() && j.contains("metadata")) s = Metadata(j["metadata"], &c);
  if (s.ok() && j.contains("hooks")) s = Hooks(j["hooks"], &c);
  if (s.ok() && j.contains("instances")) s = Strings(j["instances"], "$.instances", &c.instances);
  if (s.ok() && j.contains("executor")) {
    s = Enum(j["executor"], "$.executor", fb::EnumValuesExecutorKind(), ExecutorName, &c.executor);
  }
  if (!s.ok()) return s;
  *out = std::move(c);
  return Status::OK();
}

Status ReadComponentSpec(const std::string& file, proj::Component* out) {
  json j;
  if (Status s = ReadJsonFile(file, &j); !s.ok()) return s;
  if (Status s = ComponentFromJson(j, out); !s.ok()) return Status::InvalidArgument(file + ": " + s.message());
  return Status::OK();
}

}  // namespace noodle::tools
