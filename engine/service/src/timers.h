// The engine's upgrade timers (deadline, canary pause), ordered by due time,
// kept in step with the status as rounds touch upgrades. Writer thread only.
// Internal to engine/.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "noodle/fb/commands_generated.h"
#include "noodle/projections/status.h"

namespace noodle::engine {

class Timers {
 public:
  using Kind = fb::TimerKind;
  static constexpr Kind kDeadline = fb::TimerKind::Deadline;
  static constexpr Kind kPause = fb::TimerKind::Pause;

  // Sets or clears the upgrade's timers from its record (null: it ended).
  // An operator's pause has no deadline (0), so its Deadline timer is cleared.
  void Rearm(const proj::Id& id, const proj::Upgrade* u) {
    const bool active = u != nullptr && (u->phase == proj::Phase::kRunning || u->phase == proj::Phase::kPaused);
    Set(id, kDeadline, active ? u->deadline_ns() : 0);
    Set(id, kPause, u != nullptr && u->phase == proj::Phase::kPaused ? u->pause_until_ns : 0);
  }
  int64_t NextDue() const { return by_due_.empty() ? INT64_MAX : std::get<0>(*by_due_.begin()); }
  // Removes and returns the timers due at or before now.
  std::vector<std::pair<proj::Id, Kind>> TakeDue(int64_t now) {
    std::vector<std::pair<proj::Id, Kind>> out;
    while (!by_due_.empty() && std::get<0>(*by_due_.begin()) <= now) {
      const auto [due, id, kind] = *by_due_.begin();
      out.emplace_back(id, kind);
      by_due_.erase(by_due_.begin());
      by_key_.erase({id, kind});
    }
    return out;
  }

 private:
  // due 0: no timer.
  void Set(const proj::Id& id, Kind k, int64_t due) {
    auto it = by_key_.find({id, k});
    if (it != by_key_.end()) {
      if (it->second == due) return;
      by_due_.erase({it->second, id, k});
      by_key_.erase(it);
    }
    if (due == 0) return;
    by_key_[{id, k}] = due;
    by_due_.insert({due, id, k});
  }
  std::map<std::pair<proj::Id, Kind>, int64_t> by_key_;
  std::set<std::tuple<int64_t, proj::Id, Kind>> by_due_;
};

}  // namespace noodle::engine
