// upgradectl: the operator's and auditor's command line.
#include <CLI/CLI.hpp>

#include "artifact_commands.h"
#include "exit_codes.h"
#include "key_commands.h"
#include "daemon_commands.h"
#include "log_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"upgradectl: publish upgrade commands, watch events, query, replay and audit the log"};
  app.require_subcommand(1);
  int exit_code = noodle::tools::kExitOk;
  noodle::tools::AddLogCommands(app, &exit_code);
  noodle::tools::AddArtifactCommands(app, &exit_code);
  noodle::tools::AddKeyCommands(app, &exit_code);
  noodle::tools::AddDaemonCommands(app, &exit_code);
  noodle::tools::AddStreamCommands(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : noodle::tools::kExitUsage;
  }
  return exit_code;
}
