#include "artifact_commands.h"

#include <iostream>
#include <memory>

#include "exit_codes.h"
#include "noodle/protocol/artifact_signature.h"

namespace noodle::tools {
namespace {

namespace signing = engine::signing;

struct Flags {
  std::string out, key, signers, file, sha256;
};

int Fail(const Status& s, int code) {
  std::cerr << "upgradectl: " << s.message() << "\n";
  return code;
}

int Keygen(const Flags& f) {
  auto key = signing::GenerateSignerKey(f.out);
  if (!key.ok()) return Fail(key.status(), key.status().IsInvalidArgument() ? kExitUsage : kExitUnreachable);
  std::cout << "key " << key->key_id << ": " << f.out << ".key (secret, mode 0600), " << f.out
            << ".pub (append it to a daemon's trusted-signers file)\n";
  return kExitOk;
}

int Sign(const Flags& f) {
  auto key = signing::LoadSignerKey(f.key);
  if (!key.ok()) return Fail(key.status(), kExitUsage);
  auto sig = signing::SignArtifact(f.file, key.value());
  if (!sig.ok()) return Fail(sig.status(), sig.status().IsNotFound() ? kExitUsage : kExitUnreachable);
  std::cout << "signed " << f.file << " with key " << key->key_id << ": " << sig.value() << "\n";
  return kExitOk;
}

int Verify(const Flags& f) {
  auto signers = signing::LoadTrustedSigners(f.signers);
  if (!signers.ok()) return Fail(signers.status(), kExitUsage);
  auto verified = signing::VerifyArtifact(f.file, signers.value(), f.sha256);
  if (!verified.ok()) {
    const Status& s = verified.status();
    // An unreadable artifact is bad input; everything else is a failed check.
    const bool unreadable = s.IsNotFound() && s.message().rfind("artifact ", 0) == 0;
    return Fail(s, unreadable ? kExitUsage : kExitCorrupt);
  }
  std::string name;
  for (const auto& t : signers.value()) {
    if (t.key_id == verified.value()) name = t.name;
  }
  std::cout << "ok: " << f.file << " is signed by " << name << " (key " << verified.value() << ")\n";
  return kExitOk;
}

}  // namespace

void AddArtifactCommands(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<Flags>();
  auto* artifact = app.add_subcommand("artifact", "Signing keys and detached Ed25519 signatures of artifacts");
  artifact->require_subcommand(1);

  auto* keygen = artifact->add_subcommand("keygen", "Create a signing key: PREFIX.key (0600) and PREFIX.pub");
  keygen->add_option("--out", f->out, "Path prefix of the key files")->required();
  keygen->callback([f, exit_code] { *exit_code = Keygen(*f); });

  auto* sign = artifact->add_subcommand("sign", "Sign FILE: writes FILE.sig");
  sign->add_option("--key", f->key, "Signer key file (PREFIX.key)")->required();
  sign->add_option("file", f->file, "Artifact to sign")->required();
  sign->callback([f, exit_code] { *exit_code = Sign(*f); });

  auto* verify = artifact->add_subcommand("verify", "Verify ARTIFACT.sig against a trusted-signers file");
  verify->add_option("--signers", f->signers, "Trusted signers: one '<name> <public key hex>' per line")->required();
  verify->add_option("--sha256", f->sha256, "Declared SHA-256 the artifact must have (64 hex digits)");
  verify->add_option("artifact", f->file, "Artifact to verify")->required();
  verify->callback([f, exit_code] { *exit_code = Verify(*f); });
}

}  // namespace noodle::tools
