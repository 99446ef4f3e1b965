// The engine's metrics, made once in a Registry and updated from the
// engine's threads (relaxed atomics). Names, types and labels: README
// "Observability". Internal.
#pragma once

#include <array>
#include <string>

#include "noodle/observe/metrics.h"

namespace noodle::observe {

// How an upgrade ended: the `outcome` label.
enum class Outcome { kCompleted, kRejected, kFailed, kCancelled, kAborted, kRolledBack, kRollbackFailed, kCount };
const char* OutcomeName(Outcome o);

// "BlueGreen" -> "blue_green": the schema's enum names as label values.
std::string SnakeCase(std::string_view name);

struct EngineMetrics {
  explicit EngineMetrics(Registry& r);

  Counter& requested;
  std::array<Counter*, size_t(Outcome::kCount)> ended{};
  std::array<Histogram*, size_t(Outcome::kCount)> upgrade_seconds{};  // rejected: none
  Gauge& in_flight;
  Histogram& step_succeeded_seconds;
  Histogram& step_failed_seconds;
  Histogram& append_seconds;
  Counter& append_failures;
  std::array<Counter*, 7> refused{};  // by fb::RejectCode

  void Ended(Outcome o, double seconds) {
    ended[size_t(o)]->Add();
    if (upgrade_seconds[size_t(o)] != nullptr) upgrade_seconds[size_t(o)]->Observe(seconds);
  }
};

}  // namespace noodle::observe
