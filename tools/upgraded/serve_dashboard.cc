#include "serve_dashboard.h"

#include <iostream>
#include <spdlog/spdlog.h>

#include "noodle/bus/server.h"

namespace noodle::daemon {

int ServeDashboard(const Settings& s, const engine::Engine* eng, dashboard::Dashboard* dash) {
  if (s.dashboard.empty()) return -1;
  if (eng == nullptr) {
    spdlog::warn("upgraded: --inspect: the dashboard is not served (it shows a running engine)");
    return -1;
  }
  // Serving at all means the start-up check passed: the daemon refuses a
  // log that fails it (only --inspect serves one).
  dashboard::Audit audit{true,
                         "at start: the hash chain since the last verified checkpoint, and the log against the newest "
                         "signed head (upgradectl audit verify checks the whole chain)"};
  if (Status st = dash->Serve(s.dashboard, [eng] { return eng->Current(); }, std::move(audit)); !st.ok()) {
    std::cerr << "upgraded: " << st.message() << "\n";
    return 1;
  }
  if (!bus::IsLoopbackEndpoint("tcp://" + dash->address())) {
    spdlog::warn("upgraded: the dashboard on {} is readable by anyone who reaches it (no authentication)", s.dashboard);
  }
  spdlog::info("upgraded: dashboard on http://{}/", dash->address());
  return -1;
}

}  // namespace noodle::daemon
