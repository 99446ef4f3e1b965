#include "component_json.h"

namespace noodle::tools {

using nlohmann::json;

Status ComponentFromJson(const json& j, proj::Component* out) {
  try {
    if (!j.is_object()) return Status::InvalidArgument("a component spec is a JSON object");
    proj::Component c;
    c.name = j.at("name").get<std::string>();
    c.version = j.at("version").get<std::string>();
    if (j.contains("type")) {
      const std::string type = j["type"].get<std::string>();
      bool found = false;
      for (auto t : fb::EnumValuesComponentType()) {
        if (type == fb::EnumNameComponentType(t)) c.type = t, found = true;
      }
      if (!found) return Status::InvalidArgument("type: unknown component type '" + type + "'");
    }
    c.hot_swappable = j.value("hot_swappable", true);
    c.critical = j.value("critical", false);
    for (const auto& d : j.value("dependencies", json::array())) {
      c.dependencies.push_back({d.at("name").get<std::string>(), d.at("range").get<std::string>()});
    }
    if (j.contains("artifact")) {
      c.artifact_location = j["artifact"].value("location", "");
      c.artifact_sha256 = j["artifact"].value("sha256", "");
      if (!c.artifact_sha256.empty() && c.artifact_sha256.size() != 64) {
        return Status::InvalidArgument("artifact.sha256: 64 hex digits");
      }
      c.artifact_require_signature = j["artifact"].value("require_signature", false);
    }
    const json metadata = j.value("metadata", json::object());  // named: items() must not outlive it
    for (const auto& [k, v] : metadata.items()) c.metadata[k] = v.get<std::string>();
    const json hooks = j.value("hooks", json::object());
    for (const auto& [name, h] : hooks.items()) {
      static const char* const kNames[] = {"prepare", "swap", "health", "revert", "stop", "start"};
      if (std::find(std::begin(kNames), std::end(kNames), name) == std::end(kNames)) {
        return Status::InvalidArgument("hooks." + name + ": unknown hook (prepare, swap, health, revert, stop, start)");
      }
      proj::Hook hook;
      if (h.is_string()) {
        hook.argv = {h.get<std::string>()};
        hook.shell = true;
      } else {
        hook.argv = h.at("argv").get<std::vector<std::string>>();
        hook.shell = h.value("shell", false);
        hook.timeout_ms = h.value("timeout_ms", 30000u);
      }
      c.hooks[name] = std::move(hook);
    }
    c.instances = j.value("instances", std::vector<std::string>{});
    if (j.contains("executor")) {
      const std::string e = j["executor"].get<std::string>();
      if (e == "Hook") c.executor = fb::ExecutorKind::Hook;
      else if (e == "Plugin") c.executor = fb::ExecutorKind::Plugin;
      else if (e == "Agent") c.executor = fb::ExecutorKind::Agent;
      else return Status::InvalidArgument("executor: Hook, Plugin or Agent");
    }
    *out = std::move(c);
    return Status::OK();
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("component spec: ") + e.what());
  }
}

}  // namespace noodle::tools
