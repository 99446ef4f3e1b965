// The plugin host: components that are shared libraries (plugin_abi.h),
// swapped while they serve.
//
// Each component has a Router. Router::Call takes no lock on its hot path
// (an atomic route pointer read under a two-counter epoch, RCU-style); the
// only time a call waits is while a version's state is moved across, which
// lasts one export_state + create + health. A swap:
//   Stage:  confine and check the library (below), try create on a
//           copy of the state in a separate process (a plugin that crashes
//           there fails the swap, not the host), dlopen, then with calls held at
//           the gate: export the serving version's state, create the new
//           version from it, check its health, publish the route
//           {serving, staged, weight}.
//   SetWeight: the share of calls the staged version gets; instant.
//   Commit: the staged version serves alone; the old one is drained (no
//           call in flight) and unloaded.
//   Revert: weight 0; the staged version is drained and unloaded.
// Before any dlopen (and before the trial), the library is checked; each
// refusal names its check and ends "refused before dlopen":
//   names:      the plugin (a name, names.h) and the version (SemVer) are
//               single path components: no "/", no "." or ".."
//   confinement: the library's realpath lies below the realpath of
//               plugin_dir (a symlink leading out is refused); the resolved
//               path is what is opened
//   sha256:     a declared SHA-256 is required (unless !require_sha256) and
//               must match the library's
//   signature:  with require_signatures or require_signature for the call,
//               lib<plugin>.so.sig must verify against trusted_signers
// Thread safety: Router::Call from any number of threads; the other methods
// are serialized per component by the host.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "noodle/protocol/artifact_signature.h"
#include "noodle/plugin/plugin_abi.h"
#include "noodle/status.h"

namespace noodle::plugin {

struct HostOptions {
  // Root of <name>/<version>/lib<name>.so.
  std::string plugin_dir;
  // The noodle-plugin-trial program (tools/plugin_trial): each new version
  // is first tried there, in a process of its own, on a copy of the state.
  // Costs one process per swap (~1-2 ms). Empty: no trial, and a plugin that
  // crashes in create takes the host down with it.
  std::string trial_program;
  int trial_timeout_ms = 5000;
  // Largest state blob accepted from export_state.
  size_t max_state_bytes = 64u << 20;
  // Refuse a library whose SHA-256 is not declared.
  bool require_sha256 = true;
  // Every library must be signed by one of trusted_signers (per call:
  // the require_signature arguments below).
  bool require_signatures = false;
  engine::signing::TrustedSigners trusted_signers;
};

class Router;
class DigestCache;

// What a component runs now (the seed's active_swaps).
struct SwapInfo {
  std::string component;
  std::string serving;  // version
  std::string staged;   // empty when no swap is in progress
  uint32_t weight = 0;  // share of calls to staged, percent
};

// A component's exported state and version (the seed's create_snapshot).
struct StateSnapshot {
  std::string component, version, state;
};

// A version of a plugin as a component's spec declares it.
struct Release {
  std::string version;
  std::string sha256_hex;          // "": none declared
  bool require_signature = false;  // the component's policy: the library must be signed
};

// What checking a release found, for the step's outcome.
struct ReleaseCheck {
  bool unhealthy = false;  // the refusal was the version's health check
  std::string signer;      // key id of a verified signature; "" when none was checked
};

class Host {
 public:
  explicit Host(HostOptions options);
  ~Host();  // drains and unloads every version
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // Loads version of the component `name` with a fresh (or given) state as
  // its serving version. plugin names the library (<plugin>/<version>/
  // lib<plugin>.so; empty: the component's name), so many components can
  // run one plugin. Conflict when the component is already served.
  // check (optional) receives the key id of a verified signature.
  Status Start(const std::string& name, const Release& release, std::string_view state, const std::string& plugin,
               ReleaseCheck* check);
  Status Start(const std::string& name, const std::string& version, const std::string& sha256_hex = "",
               std::string_view state = {}, const std::string& plugin = "") {
    return Start(name, Release{version, sha256_hex}, state, plugin, nullptr);
  }
  // The component's router; stable for the host's lifetime. Null if unknown.
  Router* Find(const std::string& name);

  // check (optional) says whether a refusal was the version's health check,
  // and the signer of a verified signature.
  Status Stage(const std::string& name, const Release& release, uint32_t weight, ReleaseCheck* check = nullptr);
  Status Stage(const std::string& name, const std::string& version, const std::string& sha256_hex, uint32_t weight) {
    return Stage(name, Release{version, sha256_hex}, weight);
  }
  Status SetWeight(const std::string& name, uint32_t weight);
  Status Commit(const std::string& name);
  Status Revert(const std::string& name);

  std::vector<SwapInfo> ActiveSwaps() const;
  // One component's; NotFound when it is not loaded.
  Result<SwapInfo> SwapOf(const std::string& name);
  Result<StateSnapshot> CreateSnapshot(const std::string& name);
  // The seed's validate_swap_integrity: the artifact's SHA-256 matches and
  // the staged version (or the serving one, if none) is healthy.
  Status ValidateSwapIntegrity(const std::string& name, const Release& release, ReleaseCheck* check = nullptr);
  Status ValidateSwapIntegrity(const std::string& name, const std::string& version, const std::string& sha256_hex) {
    return ValidateSwapIntegrity(name, Release{version, sha256_hex});
  }

  // <plugin_dir>/<plugin>/<version>/lib<plugin>.so, as written (unchecked).
  std::string LibraryPath(const std::string& plugin, const std::string& version) const;
  // The checks above, without loading: the resolved path to open, or the
  // refusal (InvalidArgument for names/confinement/missing hash, NotFound
  // for a missing library, Corruption for a hash or signature mismatch,
  // NotSupported for an untrusted signer).
  Result<std::string> CheckLibrary(const std::string& plugin, const Release& release, std::string* signer = nullptr) const;

 private:
  struct Component;
  Component* Get(const std::string& name);
  const HostOptions options_;
  const std::unique_ptr<DigestCache> digests_;  // each library hashed once per version of the file
  mutable std::mutex mu_;  // guards components_ (the map, not the routers)
  std::map<std::string, std::unique_ptr<Component>> components_;
};

// One loaded version of a plugin with its instance.
struct Loaded;

class Router {
 public:
  // Calls the component: the staged version gets `weight` percent of calls.
  // Never fails because of a swap; Unavailable only when the plugin's call
  // itself fails.
  Result<std::string> Call(std::string_view request);

 private:
  friend class Host;
  struct Route {
    Loaded* serving = nullptr;
    Loaded* staged = nullptr;
    uint32_t weight = 0;
  };
  Router();
  ~Router();
  // Writer side (the host, one at a time).
  void Publish(Route* next);   // swaps the route in and frees the old one once no call holds it
  void Synchronize();          // waits until no call started before it is still running
  void CloseGate();            // holds new calls and waits for running ones to finish
  void OpenGate();

  std::atomic<Route*> route_;
  std::atomic<uint32_t> gate_{0};
  std::atomic<uint32_t> epoch_{0};
  struct alignas(64) Counter {
    std::atomic<int64_t> n{0};
  };
  Counter readers_[2];
};

}  // namespace noodle::plugin
