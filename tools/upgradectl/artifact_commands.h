// `upgradectl artifact ...`: Ed25519 signing keys and detached artifact
// signatures (formats: engine/include/noodle/engine/artifact_signature.h).
//   keygen --out PREFIX               PREFIX.key (0600) + PREFIX.pub
//   sign --key KEYFILE FILE           writes FILE.sig
//   verify --signers FILE ARTIFACT    [--sha256 HEX]
// Exit codes: 0 ok; 2 usage or unreadable input (key, signers file, artifact);
// 3 a file cannot be written; 4 the signature is missing, does not verify,
// its signer is not trusted, or the hash differs from --sha256.
#pragma once

#include <CLI/CLI.hpp>

namespace noodle::tools {

// Adds the `artifact` subcommand tree to app; the chosen command stores its
// exit code in *exit_code when it runs.
void AddArtifactCommands(CLI::App& app, int* exit_code);

}  // namespace noodle::tools
