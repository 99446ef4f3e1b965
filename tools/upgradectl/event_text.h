// Events in a few words for people: what watch, events and --wait print
// after an event's type.
#pragma once

#include <string>
#include <vector>

#include "noodle/fb/events_generated.h"

namespace noodle::tools {

// The event's detail in one line: the step and where it ran, a weight
// change, a health verdict, a failure's reason, a rejection's problems.
// Empty for events whose type says it all.
std::string EventDetail(const fb::EventEnvelope& e);

// The last `max` lines of a step's output (StepFailed/StepSucceeded
// output_tail), for printing under a failure; empty for other events.
std::vector<std::string> OutputTail(const fb::EventEnvelope& e, size_t max = 10);

}  // namespace noodle::tools
