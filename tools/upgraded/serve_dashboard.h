// upgraded's --dashboard: the live dashboard (noodle/dashboard/dashboard.h)
// on its own port, reading the engine's state.
#pragma once

#include "noodle/dashboard/dashboard.h"
#include "noodle/engine/engine.h"
#include "settings.h"

namespace noodle::daemon {

// Serves dash on s.dashboard when set. eng: null with --inspect (nothing is
// served then: the dashboard shows a running engine). Returns -1 to go on,
// else the exit code to stop with (the error is logged).
int ServeDashboard(const Settings& s, const engine::Engine* eng, dashboard::Dashboard* dash);

}  // namespace noodle::daemon
