// The plugin executor: performs upgrade steps of components whose spec says
// executor Plugin, on a Host.
//   swap / restart / shift (weight w): stage the target version (state
//       migrated, health checked) if it is not staged yet, set the weight;
//       at 100 the swap is committed and the old version drained and unloaded.
//   deploy: stage at weight 0.  verify: artifact hash + health of the staged
//       version.  switch: weight 100 and commit.
//   revert: weight 0, the staged version unloaded; the old one never stopped.
// The library is <plugin dir>/<plugin>/<version>/lib<plugin>.so, where
// plugin is the component's metadata "plugin" (default: its name).
#pragma once

#include <memory>

#include "noodle/engine/executor.h"
#include "noodle/plugin/host.h"

namespace noodle::plugin {

// host outlives the executor. Steps run on `threads` worker threads.
std::unique_ptr<engine::Executor> NewPluginExecutor(Host* host, size_t threads = 4);

}  // namespace noodle::plugin
