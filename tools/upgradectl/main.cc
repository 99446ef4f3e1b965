// upgradectl: the operator's and auditor's command line. Built twice from
// this file: upgradectl (no RocksDB; hands command lines that read a data
// directory to noodle-log) and noodle-log (NOODLE_LOCAL_LOG: the same
// commands, reading the data directory directly).
#include <CLI/CLI.hpp>

#include "artifact_commands.h"
#include "daemon_commands.h"
#include "exit_codes.h"
#include "key_commands.h"
#include "local_log.h"
#include "log_commands.h"
#include "version.h"

int main(int argc, char** argv) {
#ifndef NOODLE_LOCAL_LOG
  if (noodle::tools::NeedsLocalLog(argc, argv)) return noodle::tools::RunLocalLogProgram(argc, argv);
#endif
  CLI::App app{"upgradectl: publish upgrade commands, watch events, query, replay and audit the log"};
  app.require_subcommand(1);
#ifdef NOODLE_LOCAL_LOG
  app.set_version_flag("--version", noodle::tools::VersionLine("noodle-log"));
#else
  app.set_version_flag("--version", noodle::tools::VersionLine("upgradectl"));
#endif
  int exit_code = noodle::tools::kExitOk;
#ifdef NOODLE_LOCAL_LOG
  noodle::tools::AddLogCommands(app, &exit_code);
#else
  // Listed for --help only: `upgradectl log ...` runs noodle-log before parsing.
  app.add_subcommand("log", noodle::tools::kLogCommandsHelp);
#endif
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
