// Component specs as JSON, for `upgradectl component register --file`:
// {"name","version","type","hot_swappable","critical",
//  "dependencies":[{"name","range"}], "artifact":{"location","sha256","require_signature"},
//  "metadata":{...}, "hooks":{"swap":{"argv":[...],"shell","timeout_ms"} | "a shell line"},
//  "instances":[...]}
#pragma once

#include <nlohmann/json.hpp>

#include "noodle/projections/component.h"
#include "noodle/status.h"

namespace noodle::tools {

// InvalidArgument names the field at fault. Versions and ranges are
// checked by the engine, which lists every problem.
Status ComponentFromJson(const nlohmann::json& j, proj::Component* out);

}  // namespace noodle::tools
