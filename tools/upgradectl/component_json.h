// Component specs as JSON, for `upgradectl component register --file` and
// `upgrade start --target`. The accepted form is docs/component-spec.schema.json:
// {"name","version","type" (or "component_type"),"description","hot_swappable","critical",
//  "dependencies":[{"name","range"}], "artifact":{"location","sha256","require_signature"},
//  "metadata":{...}, "hooks":{"swap":{"argv":[...],"shell","timeout_ms"} | "a shell line"},
//  "instances":[...], "executor"}
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "noodle/projections/component.h"
#include "noodle/status.h"

namespace noodle::tools {

// Strict: an unknown key, a value of the wrong type or an unknown enum
// value is InvalidArgument naming its JSON path ("$.dependencies[1].rnage:
// unknown key (did you mean 'range'?)"). Enum values (type, executor) match
// case-insensitively; a wrong one lists the valid ones. `description` is
// kept as metadata key "description"; metadata values that are not strings
// are kept as their compact JSON text. Versions and ranges are checked by
// the engine, which lists every problem.
Status ComponentFromJson(const nlohmann::json& j, proj::Component* out);

// Reads and parses the file, then ComponentFromJson. Every message starts
// with the file name; a syntax error gives FILE:LINE:COLUMN.
Status ReadComponentSpec(const std::string& file, proj::Component* out);

}  // namespace noodle::tools
