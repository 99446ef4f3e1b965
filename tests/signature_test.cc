// Signed artifacts: a real engine on a real RocksDB log with the hook
// executor requiring Ed25519 signatures; unsigned, wrongly signed and
// untrusted artifacts fail their step before any hook runs, a correctly
// signed one completes and its StepSucceeded names the signer. And
// `upgradectl artifact keygen/sign/verify` with its exit codes.
#define BOOST_TEST_MODULE signatures
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "noodle/protocol/artifact_signature.h"
#include "noodle/protocol/commands.h"
#include "noodle/engine/engine.h"
#include "noodle/engine/hook_executor.h"
#include "noodle/store/event_log.h"
#include "support/test_support.h"

using namespace noodle;
namespace fs = std::filesystem;
namespace signing = engine::signing;

namespace {

void Write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string Sha256(const fs::path& p) {
  std::string out, err;
  BOOST_REQUIRE(test::RunProgram({"/usr/bin/sha256sum", p.string()}, "", &out, &err) == 0);
  return out.substr(0, 64);
}

struct Outcome {
  std::string phase;
  std::string failed_reason;   // first StepFailed
  std::string signer;          // StepSucceeded.signer
  bool succeeded_step = false;
};

// A daemon's worth of engine: the log, the hook executor with hooks/ as its
// root and the given signature policy, and a component whose forward swap
// creates a marker file (a revert does not, so the marker means "a hook ran
// for the new artifact").
struct Rig {
  test::TempDir dir;
  fs::path hooks = fs::path(dir.path()) / "hooks";
  fs::path artifact = fs::path(dir.path()) / "release" / "app-1.1.0.tar";
  std::string marker = (fs::path(dir.path()) / "swapped").string();
  signing::SignerKey trusted, stranger;
  std::unique_ptr<store::EventLog> log;
  std::unique_ptr<engine::Executor> executor;
  std::unique_ptr<engine::Engine> engine;

  explicit Rig(bool require_signatures_daemon_wide = false) {
    Write(hooks / "swap.sh", "#!/bin/sh\n[ \"$NOODLE_REVERT\" = 1 ] || touch '" + marker + "'\n");
    chmod((hooks / "swap.sh").c_str(), 0755);
    Write(artifact, "release 1.1.0 bytes\n");
    auto t = signing::GenerateSignerKey(dir.sub("release-team"));
    auto s = signing::GenerateSignerKey(dir.sub("stranger"));
    BOOST_REQUIRE(t.ok() && s.ok());
    trusted = t.value();
    stranger = s.value();
    auto signers = signing::LoadTrustedSigners(dir.sub("release-team.pub"));  // a .pub is a signers line
    BOOST_REQUIRE_MESSAGE(signers.ok(), signers.status().ToString());

    engine::HookExecutorOptions ho;
    ho.hook_roots = {hooks.string()};
    ho.require_signatures = require_signatures_daemon_wide;
    ho.trusted_signers = signers.value();
    BOOST_REQUIRE(store::EventLog::Open(dir.sub("log"), {}, &log).ok());
    executor = engine::NewHookExecutor(ho);
    Status st = engine::Engine::Open(log.get(), executor.get(), nullptr, {}, &engine);
    BOOST_REQUIRE_MESSAGE(st.ok(), st.ToString());
    proj::Component c;
    c.name = "app";
    c.version = "1.0.0";
    c.hooks["swap"] = proj::Hook{{(hooks / "swap.sh").string()}, false, 10000};
    auto reply = engine->Execute(engine::cmd::Register(c));
    BOOST_REQUIRE_MESSAGE(reply.accepted, reply.message);
  }
  ~Rig() {
    engine.reset();
    executor.reset();
  }

  // Upgrades app to 1.1.0 whose artifact is `artifact`; waits for the end.
  Outcome Upgrade(bool require_signature, const std::string& declared_sha256 = "") {
    proj::Component target = engine->Current().registry.find("app") ? *engine->Current().registry.find("app") : proj::Component{};
    target.version = "1.1.0";
    target.artifact_location = artifact.string();
    target.artifact_sha256 = declared_sha256;
    target.artifact_require_signature = require_signature;
    engine::cmd::UpgradeRequest r;
    r.component = "app";
    r.target_version = "1.1.0";
    r.target = target;
    proj::Id id;
    auto reply = engine->Execute(engine::cmd::Upgrade(r, {}, &id));
    BOOST_REQUIRE_MESSAGE(reply.accepted, reply.message);
    BOOST_REQUIRE(test::WaitFor([&] { return engine->Current().status.find(id) == nullptr; }));
    Outcome o;
    for (const auto& s : engine->Current().status.recent) {
      if (s.id == id) o.phase = proj::PhaseName(s.phase);
    }
    std::vector<store::StoredEvent> events;
    BOOST_REQUIRE(log->ReadStream(engine::UpgradeStream(id), 1, 1000, &events).ok());
    for (const auto& e : events) {
      if (const auto* f = e.envelope()->event_as_StepFailed(); f != nullptr && o.failed_reason.empty()) {
        o.failed_reason = f->reason() ? f->reason()->str() : "";
      }
      if (const auto* ok = e.envelope()->event_as_StepSucceeded()) {
        o.succeeded_step = true;
        o.signer = ok->signer() ? ok->signer()->str() : "";
      }
    }
    return o;
  }
};

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(engine_policy)

BOOST_AUTO_TEST_CASE(an_unsigned_artifact_is_refused_before_any_hook_runs) {
  Rig rig;
  const Outcome o = rig.Upgrade(/*require_signature=*/true);
  BOOST_TEST(o.phase != "completed");
  BOOST_TEST(Contains(o.failed_reason, "signature check: no signature file " + rig.artifact.string() + ".sig"),
             o.failed_reason);
  BOOST_TEST(!fs::exists(rig.marker));
  BOOST_TEST(rig.engine->Current().registry.find("app")->version == "1.0.0");
}

BOOST_AUTO_TEST_CASE(the_signature_of_another_file_does_not_verify) {
  Rig rig;
  const fs::path other = rig.artifact.parent_path() / "other.tar";
  Write(other, "some other release\n");
  BOOST_REQUIRE(signing::SignArtifact(other.string(), rig.trusted).ok());
  fs::copy_file(other.string() + ".sig", rig.artifact.string() + ".sig");
  const Outcome o = rig.Upgrade(true);
  BOOST_TEST(Contains(o.failed_reason, "signature check: signature does not verify"), o.failed_reason);
  BOOST_TEST(!fs::exists(rig.marker));
}

BOOST_AUTO_TEST_CASE(a_flipped_byte_in_the_signature_or_the_artifact_is_caught) {
  Rig rig;
  const std::string sha = Sha256(rig.artifact);
  BOOST_REQUIRE(signing::SignArtifact(rig.artifact.string(), rig.trusted).ok());
  // A flipped bit in the signature itself.
  const fs::path sig = rig.artifact.string() + ".sig";
  std::string text = Read(sig);
  const size_t at = text.find("\"signature\":\"") + 13;
  text[at] = text[at] == '0' ? '1' : '0';
  Write(sig, text);
  Outcome o = rig.Upgrade(true, sha);
  BOOST_TEST(Contains(o.failed_reason, "signature check: signature does not verify"), o.failed_reason);
  BOOST_TEST(!fs::exists(rig.marker));

  // A changed artifact under a good signature, with its SHA-256 declared...
  BOOST_REQUIRE(signing::SignArtifact(rig.artifact.string(), rig.trusted).ok());
  Write(rig.artifact, "release 1.1.0 bytes, altered\n");
  o = rig.Upgrade(true, sha);
  BOOST_TEST(Contains(o.failed_reason, "signature check: artifact hash differs from the declared sha256"), o.failed_reason);
  // ...and without: the signature no longer matches it.
  o = rig.Upgrade(true);
  BOOST_TEST(Contains(o.failed_reason, "signature check: signature does not verify"), o.failed_reason);
  BOOST_TEST(!fs::exists(rig.marker));
}

BOOST_AUTO_TEST_CASE(a_signer_that_is_not_trusted_is_refused) {
  Rig rig;
  BOOST_REQUIRE(signing::SignArtifact(rig.artifact.string(), rig.stranger).ok());
  const Outcome o = rig.Upgrade(true);
  BOOST_TEST(Contains(o.failed_reason, "signature check: signer " + rig.stranger.key_id + " is not trusted"),
             o.failed_reason);
  BOOST_TEST(!fs::exists(rig.marker));
}

BOOST_AUTO_TEST_CASE(a_correctly_signed_artifact_completes_and_names_its_signer) {
  Rig rig;
  BOOST_REQUIRE(signing::SignArtifact(rig.artifact.string(), rig.trusted).ok());
  const Outcome o = rig.Upgrade(true, Sha256(rig.artifact));
  BOOST_TEST(o.phase == "completed", o.failed_reason);
  BOOST_TEST(o.succeeded_step);
  BOOST_TEST(o.signer == rig.trusted.key_id);
  BOOST_TEST(rig.trusted.key_id.size() == 16u);
  BOOST_TEST(fs::exists(rig.marker));
}

BOOST_AUTO_TEST_CASE(the_daemon_wide_policy_covers_components_that_do_not_ask) {
  Rig strict(/*require_signatures_daemon_wide=*/true);
  Outcome o = strict.Upgrade(/*require_signature=*/false);
  BOOST_TEST(Contains(o.failed_reason, "signature check: no signature file"), o.failed_reason);
  BOOST_TEST(!fs::exists(strict.marker));

  Rig lax;  // no policy at all: the same unsigned artifact goes through, with no signer
  o = lax.Upgrade(false);
  BOOST_TEST(o.phase == "completed", o.failed_reason);
  BOOST_TEST(o.signer.empty());
  BOOST_TEST(fs::exists(lax.marker));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(files)

BOOST_AUTO_TEST_CASE(key_files_and_trusted_signers_parse_strictly) {
  test::TempDir dir;
  auto key = signing::GenerateSignerKey(dir.sub("k"));
  BOOST_REQUIRE(key.ok());
  struct stat st {};
  BOOST_REQUIRE(stat(dir.sub("k.key").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  BOOST_TEST(signing::GenerateSignerKey(dir.sub("k")).status().IsInvalidArgument());  // never overwritten
  auto loaded = signing::LoadSignerKey(dir.sub("k.key"));
  BOOST_REQUIRE(loaded.ok());
  BOOST_TEST(loaded->key_id == key->key_id);
  BOOST_TEST(loaded->secret_key == key->secret_key);

  auto ok = signing::ParseTrustedSigners("# release signers\n\n" + Read(dir.sub("k.pub")));
  BOOST_REQUIRE(ok.ok());
  BOOST_TEST(ok->size() == 1u);
  BOOST_TEST(ok->front().name == "k");
  BOOST_TEST(signing::ParseTrustedSigners("alice 1234\n").status().IsInvalidArgument());
  BOOST_TEST(Contains(signing::ParseTrustedSigners("# c\n../x " + std::string(64, 'a') + "\n").status().message(),
                      "line 2"));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- upgradectl artifact ----

namespace {

int Ctl(std::vector<std::string> args, std::string* out = nullptr, std::string* err = nullptr) {
  args.insert(args.begin(), UPGRADECTL_PATH);
  std::string o, e;
  const int rc = test::RunProgram(args, "", &o, &e);
  if (out) *out = o;
  if (err) *err = e;
  return rc;
}

}  // namespace

BOOST_AUTO_TEST_CASE(upgradectl_artifact_keygen_sign_verify_exit_codes) {
  test::TempDir dir;
  std::string out, err;
  const std::string prefix = dir.sub("ops"), other = dir.sub("other");
  BOOST_TEST(Ctl({"artifact", "keygen", "--out", prefix}, &out, &err) == 0, err);
  BOOST_TEST(Ctl({"artifact", "keygen", "--out", other}, &out, &err) == 0, err);
  BOOST_TEST(Ctl({"artifact", "keygen", "--out", prefix}, &out, &err) == 2);  // refuses to overwrite a key
  struct stat st {};
  BOOST_REQUIRE(stat((prefix + ".key").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);

  const std::string signers = dir.sub("trusted-signers");
  Write(signers, "# who may release\n" + Read(prefix + ".pub"));
  const std::string file = dir.sub("app.tar");
  Write(file, "an artifact\n");

  // Unsigned: 4.
  BOOST_TEST(Ctl({"artifact", "verify", "--signers", signers, file}, &out, &err) == 4);
  BOOST_TEST(Contains(err, "no signature file"), err);
  // Signed by the trusted key: 0, and it says by whom.
  BOOST_TEST(Ctl({"artifact", "sign", "--key", prefix + ".key", file}, &out, &err) == 0, err);
  BOOST_TEST(fs::exists(file + ".sig"));
  BOOST_TEST(Ctl({"artifact", "verify", "--signers", signers, file}, &out, &err) == 0, err);
  BOOST_TEST(Contains(out, "signed by ops"), out);
  // A declared hash that differs: 4.
  BOOST_TEST(Ctl({"artifact", "verify", "--signers", signers, "--sha256", std::string(64, 'a'), file}, &out, &err) == 4);
  BOOST_TEST(Contains(err, "artifact hash differs from the declared sha256"), err);
  // Altered after signing: 4.
  Write(file, "an artifact, altered\n");
  BOOST_TEST(Ctl({"artifact", "verify", "--signers", signers, file}, &out, &err) == 4);
  BOOST_TEST(Contains(err, "signature does not verify"), err);
  // Signed by a key that is not in the file: 4.
  BOOST_TEST(Ctl({"artifact", "sign", "--key", other + ".key", file}, &out, &err) == 0, err);
  BOOST_TEST(Ctl({"artifact", "verify", "--signers", signers, file}, &out, &err) == 4);
  BOOST_TEST(Contains(err, "is not trusted"), err);
  // Usage: 2.
  BOOST_TEST(Ctl({"artifact", "verify", file}, &out, &err) == 2);
  BOOST_TEST(Ctl({"artifact", "sign", "--key", dir.sub("missing.key"), file}, &out, &err) == 2);
  BOOST_TEST(Ctl({"artifact", "verify", "--signers", dir.sub("missing"), file}, &out, &err) == 2);
}
