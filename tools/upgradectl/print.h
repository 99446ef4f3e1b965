// Output shared by upgradectl's commands: events for humans or as JSON
// Lines, times, and failures mapped to exit codes.
#pragma once

#include <string>
#include <string_view>

#include "event_json.h"
#include "noodle/status.h"

namespace noodle::tools {

// UTC, millisecond precision: 2026-11-28T06:56:43.722Z
std::string FormatTime(int64_t ns);

// One line per event: "#seq  time  stream@version  Type  by actor  {data}",
// or the event as one JSON object.
void PrintEvent(const EventJson& codec, const fb::EventEnvelope& env, bool as_json);

// Prints "upgradectl: <context>: <status>" to stderr; returns its exit code.
int Fail(const Status& s, std::string_view context = {});

}  // namespace noodle::tools
