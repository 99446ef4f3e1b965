#include "engine_metrics.h"

#include <cctype>

#include "noodle/fb/commands_generated.h"

namespace noodle::observe {
namespace {

// Upgrades take from milliseconds (a plugin swap) to hours (a paused canary).
const std::vector<double> kUpgradeBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
// A step is one hook, plugin swap or agent report.
const std::vector<double> kStepBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
// A group commit with its fsync: tens of microseconds to a slow disk's seconds.
const std::vector<double> kAppendBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                            0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};

}  // namespace

const char* OutcomeName(Outcome o) {
  static constexpr const char* kNames[] = {"completed", "rejected", "failed",         "cancelled",
                                           "aborted",   "rolled_back", "rollback_failed"};
  return o < Outcome::kCount ? kNames[size_t(o)] : "";
}

std::string SnakeCase(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (std::isupper(c) && i > 0) out.push_back('_');
    out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

EngineMetrics::EngineMetrics(Registry& r)
    : requested(r.counter("noodle_upgrades_requested_total", "Upgrades requested (rejected ones included).")),
      in_flight(r.gauge("noodle_upgrades_in_flight", "Upgrades not ended: queued, running, paused or rolling back.")),
      step_succeeded_seconds(r.histogram("noodle_step_duration_seconds", "Duration of upgrade steps, by outcome.",
                                         kStepBuckets, {{"outcome", "succeeded"}})),
      step_failed_seconds(r.histogram("noodle_step_duration_seconds", "", kStepBuckets, {{"outcome", "failed"}})),
      append_seconds(r.histogram("noodle_log_append_seconds",
                                 "Time a round of the engine waits for the log to make its events durable (group "
                                 "commit and fsync).",
                                 kAppendBuckets)),
      append_failures(r.counter("noodle_log_append_failures_total",
                                "Rounds whose events the log refused (disk full, I/O error).")) {
  // Every label value exists from the start, so rate() sees the first one.
  for (size_t i = 0; i < size_t(Outcome::kCount); ++i) {
    const Labels labels = {{"outcome", OutcomeName(Outcome(i))}};
    ended[i] = &r.counter("noodle_upgrades_total", "Upgrades that ended, by outcome.", labels);
    if (Outcome(i) == Outcome::kRejected) continue;
    upgrade_seconds[i] = &r.histogram("noodle_upgrade_duration_seconds",
                                      "From request to end, by outcome (rejected ones are not timed).",
                                      kUpgradeBuckets, labels);
  }
  for (fb::RejectCode code : fb::EnumValuesRejectCode()) {
    if (size_t(code) >= refused.size()) continue;
    refused[size_t(code)] = &r.counter("noodle_commands_refused_total",
                                       "Commands answered with a rejection, by reason (the reply's code).",
                                       {{"reason", SnakeCase(fb::EnumNameRejectCode(code))}});
  }
}

}  // namespace noodle::observe
