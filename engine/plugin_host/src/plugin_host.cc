#include <dlfcn.h>
#include <poll.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <spawn.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "digest_cache.h"
#include "noodle/protocol/file_hash.h"
#include "noodle/engine/names.h"
#include "noodle/engine/semver.h"
#include "noodle/plugin/host.h"
#include "noodle/engine/trusted_path.h"

extern char** environ;

namespace noodle::plugin {

struct Loaded {
  void* dl = nullptr;
  const noodle_plugin_v1* api = nullptr;
  void* instance = nullptr;
  std::string version;
  ~Loaded() {
    if (instance != nullptr) api->destroy(instance);
    if (dl != nullptr) dlclose(dl);
  }
};

namespace {

// Spins briefly, then yields: waits here are short (a call in flight, a
// state moving across) but must not starve the thread being waited for.
class Backoff {
 public:
  void Pause() {
    if (++spins_ < 1000) __builtin_ia32_pause();
    else std::this_thread::yield();
  }

 private:
  int spins_ = 0;
};

constexpr const char* kBeforeDlopen = "; refused before dlopen";

uint64_t NextRandom() {
  thread_local uint64_t x = 0x9E3779B97F4A7C15ull ^ reinterpret_cast<uintptr_t>(&x);
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

// Tries a version in the trial program, fed the state on stdin, so a crash
// costs that process, not the host. Exit codes: see tools/plugin_trial.
Status Trial(const std::string& program, const std::string& path, const std::string& state, int timeout_ms,
             bool* unhealthy = nullptr) {
  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Status::IOError(std::string("pipe for the trial: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::string prog = program, lib = path;
  char* argv[] = {prog.data(), lib.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, prog.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  if (rc != 0) {
    close(in[1]);
    return Status::IOError("cannot start the trial program " + program + ": " + std::strerror(rc));
  }
  // The state goes in whole; the program reads all of it before anything
  // else. If it dies first, the SIGPIPE of this thread's write is taken
  // back here, not delivered to the process.
  sigset_t pipe_signal, old_mask;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, &old_mask);
  for (size_t off = 0; off < state.size();) {
    const ssize_t n = write(in[1], state.data() + off, state.size() - off);
    if (n <= 0 && errno != EINTR) break;
    if (n > 0) off += static_cast<size_t>(n);
  }
  close(in[1]);
  const timespec no_wait{0, 0};
  while (sigtimedwait(&pipe_signal, nullptr, &no_wait) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  // Wait for its exit, bounded: a pidfd becomes readable when it ends.
  int status = 0;
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    auto left_ms = [&end] {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      return static_cast<int>(std::max<int64_t>(0, left.count()));
    };
    int ready;
    do {
      ready = poll(&p, 1, left_ms());
    } while (ready < 0 && errno == EINTR);
    close(pidfd);
    if (ready == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return Status::InvalidArgument("trial of the new version did not finish within " + std::to_string(timeout_ms) + " ms");
    }
  }
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    return Status::InvalidArgument(std::string("crashed in create/health during the trial (signal ") +
                                   std::to_string(WTERMSIG(status)) + ": " + strsignal(WTERMSIG(status)) + ")");
  }
  switch (WEXITSTATUS(status)) {
    case 0: return Status::OK();
    case 2: return Status::InvalidArgument("cannot be loaded (dlopen or entry point failed) in the trial");
    case 3: return Status::InvalidArgument("refused the migrated state (create returned NULL) in the trial");
    case 4:
      if (unhealthy != nullptr) *unhealthy = true;
      return Status::InvalidArgument("health check failed in the trial");
    case 5: return Status::InvalidArgument("failed export_state in the trial");
    default: return Status::InvalidArgument("trial program failed (exit " + std::to_string(WEXITSTATUS(status)) + ")");
  }
}

}  // namespace

// ---- Router ----

Router::Router() : route_(new Route) {}
Router::~Router() { delete route_.load(); }

Result<std::string> Router::Call(std::string_view request) {
  while (true) {
    for (Backoff b; gate_.load(std::memory_order_acquire) != 0;) b.Pause();
    const uint32_t e = epoch_.load() & 1;
    readers_[e].n.fetch_add(1);
    if (gate_.load() != 0 || (epoch_.load() & 1) != e) {
      readers_[e].n.fetch_sub(1);  // a swap started meanwhile: wait at the gate
      continue;
    }
    const Route* r = route_.load();
    Loaded* v = r->serving;
    if (r->staged != nullptr && (r->weight >= 100 || NextRandom() % 100 < r->weight)) v = r->staged;
    if (v == nullptr) {
      readers_[e].n.fetch_sub(1);
      return Status::Unavailable("no version is loaded");
    }
    noodle_buffer out{nullptr, 0};
    const int rc = v->api->call(v->instance, reinterpret_cast<const uint8_t*>(request.data()), request.size(), &out);
    std::string response;
    if (out.data != nullptr) {
      response.assign(reinterpret_cast<const char*>(out.data), out.size);
      v->api->free_buffer(&out);
    }
    readers_[e].n.fetch_sub(1, std::memory_order_release);
    if (rc != 0) return Status::Unavailable("plugin " + v->version + " failed the call (" + std::to_string(rc) + ")");
    return response;
  }
}

void Router::Synchronize() {
  const uint32_t old = epoch_.fetch_add(1) & 1;
  for (Backoff b; readers_[old].n.load() != 0;) b.Pause();
}

void Router::Publish(Route* next) {
  Route* old = route_.exchange(next);
  Synchronize();
  delete old;
}

void Router::CloseGate() {
  gate_.store(1);
  for (Backoff b; readers_[0].n.load() != 0 || readers_[1].n.load() != 0;) b.Pause();
}

void Router::OpenGate() { gate_.store(0, std::memory_order_release); }

// ---- Host ----

struct Host::Component {
  std::string plugin;  // the library's name
  std::mutex mu;       // one swap at a time
  Router router;
  std::unique_ptr<Loaded> serving, staged;
  uint32_t weight = 0;
};

Host::Host(HostOptions options) : options_(std::move(options)), digests_(std::make_unique<DigestCache>()) {}
Host::~Host() = default;

std::string Host::LibraryPath(const std::string& plugin, const std::string& version) const {
  return options_.plugin_dir + "/" + plugin + "/" + version + "/lib" + plugin + ".so";
}

Result<std::string> Host::CheckLibrary(const std::string& plugin, const Release& release, std::string* signer) const {
  const std::string& version = release.version;
  const std::string& sha256_hex = release.sha256_hex;
  // Names: each is exactly one path component.
  if (const std::string why = engine::names::NameProblem(plugin); !why.empty()) {
    return Status::InvalidArgument("name check: plugin '" + engine::names::Printable(plugin) + "' " + why + kBeforeDlopen);
  }
  if (version.size() > engine::names::kMaxNameBytes || !semver::Parse(version).ok()) {
    return Status::InvalidArgument("name check: version '" + engine::names::Printable(version) +
                                   "' is not a SemVer version" + kBeforeDlopen);
  }
  // Confinement: what is opened is the resolved path, below the plugin dir.
  const std::string path = LibraryPath(plugin, version);
  const std::string root = engine::RealPath(options_.plugin_dir);
  if (root.empty()) return Status::NotFound("plugin dir " + options_.plugin_dir + " cannot be resolved" + kBeforeDlopen);
  const std::string real = engine::RealPath(path);
  if (real.empty()) return Status::NotFound("no plugin at " + path);
  if (!engine::names::UnderRoot(real, root)) {
    return Status::InvalidArgument("plugin dir check: " + path + " resolves to " + real + ", outside the plugin dir (" +
                                   root + ")" + kBeforeDlopen);
  }
  if (std::string why = engine::SwappableByOthers(real, root, false); !why.empty()) {
    return Status::InvalidArgument("plugin dir check: " + why + kBeforeDlopen);
  }
  // Hash: declared, and equal.
  if (sha256_hex.empty()) {
    if (options_.require_sha256) {
      return Status::InvalidArgument("sha256 check: " + plugin + " " + version +
                                     " declares no artifact SHA-256, which the plugin host requires" + kBeforeDlopen);
    }
  } else if (const std::string actual = digests_->Sha256(real); actual != sha256_hex) {
    return Status::Corruption("artifact hash mismatch: " + path + " has SHA-256 " + actual + ", declared " + sha256_hex +
                              kBeforeDlopen);
  }
  // Signature: lib<plugin>.so.sig beside the library.
  if (options_.require_signatures || release.require_signature) {
    auto verified = engine::signing::VerifyArtifact(real, options_.trusted_signers, sha256_hex);
    if (!verified.ok()) {
      const Status& v = verified.status();
      const std::string m = "signature check: " + v.message() + kBeforeDlopen;
      switch (v.code()) {
        case Status::Code::kNotFound: return Status::NotFound(m);
        case Status::Code::kNotSupported: return Status::NotSupported(m);
        default: return Status::Corruption(m);
      }
    }
    if (signer != nullptr) *signer = verified.value();
  }
  return real;
}

Host::Component* Host::Get(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = components_.find(name);
  return it == components_.end() ? nullptr : it->second.get();
}

Router* Host::Find(const std::string& name) {
  Component* c = Get(name);
  return c == nullptr ? nullptr : &c->router;
}

namespace {

Result<std::unique_ptr<Loaded>> Open(const std::string& path, const std::string& name, const std::string& version) {
  auto l = std::make_unique<Loaded>();
  l->version = version;
  l->dl = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (l->dl == nullptr) return Status::InvalidArgument(std::string("dlopen: ") + dlerror());
  auto entry = reinterpret_cast<noodle_plugin_entry_fn>(dlsym(l->dl, NOODLE_PLUGIN_ENTRY));
  l->api = entry != nullptr ? entry() : nullptr;
  if (l->api == nullptr) return Status::InvalidArgument(path + " has no " NOODLE_PLUGIN_ENTRY);
  if (l->api->abi_version < 1 || std::string(l->api->name) != name || std::string(l->api->version) != version) {
    return Status::InvalidArgument(path + " says it is " + l->api->name + " " + l->api->version + " (ABI " +
                                   std::to_string(l->api->abi_version) + "), not " + name + " " + version);
  }
  return l;
}

Result<std::string> Export(const Loaded& l, size_t max_bytes) {
  noodle_buffer out{nullptr, 0};
  if (l.api->export_state(l.instance, &out) != 0) return Status::InvalidArgument(l.version + ": export_state failed");
  std::string state;
  if (out.data != nullptr) state.assign(reinterpret_cast<const char*>(out.data), out.size);
  l.api->free_buffer(&out);
  if (state.size() > max_bytes) return Status::InvalidArgument(l.version + ": exported state is over the size limit");
  return state;
}

}  // namespace

Status Host::Start(const std::string& name, const Release& release, std::string_view state, const std::string& plugin,
                   ReleaseCheck* check) {
  const std::string& version = release.version;
  Component* c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = components_[name];
    if (!slot) slot = std::make_unique<Component>();
    c = slot.get();
  }
  std::lock_guard<std::mutex> lock(c->mu);
  if (c->serving) return Status::Conflict(name + " is already served (version " + c->serving->version + ")");
  c->plugin = plugin.empty() ? name : plugin;
  auto checked = CheckLibrary(c->plugin, release, check == nullptr ? nullptr : &check->signer);
  if (!checked.ok()) return checked.status();
  const std::string path = checked.value();
  if (!options_.trial_program.empty()) {
    if (Status s = Trial(options_.trial_program, path, std::string(state), options_.trial_timeout_ms); !s.ok()) {
      return Status::InvalidArgument(name + " " + version + " " + s.message());
    }
  }
  auto loaded = Open(path, c->plugin, version);
  if (!loaded.ok()) return loaded.status();
  auto& l = loaded.value();
  l->instance = l->api->create(reinterpret_cast<const uint8_t*>(state.data()), state.size());
  if (l->instance == nullptr) return Status::InvalidArgument(name + " " + version + " refused its state");
  c->serving = std::move(l);
  c->router.Publish(new Router::Route{c->serving.get(), nullptr, 0});
  return Status::OK();
}

Status Host::Stage(const std::string& name, const Release& release, uint32_t weight, ReleaseCheck* check) {
  const std::string& version = release.version;
  bool* unhealthy = check == nullptr ? nullptr : &check->unhealthy;
  if (unhealthy != nullptr) *unhealthy = false;
  Component* c = Get(name);
  if (c == nullptr) return Status::NotFound("component " + name + " is not loaded in the plugin host");
  std::lock_guard<std::mutex> lock(c->mu);
  if (!c->serving) return Status::NotFound("component " + name + " has no serving version");
  if (c->staged) {
    return Status::Conflict(name + ": " + c->staged->version + " is already staged beside " + c->serving->version);
  }
  auto checked = CheckLibrary(c->plugin, release, check == nullptr ? nullptr : &check->signer);
  if (!checked.ok()) return checked.status();
  const std::string path = checked.value();
  if (!options_.trial_program.empty()) {
    c->router.CloseGate();
    auto sample = Export(*c->serving, options_.max_state_bytes);
    c->router.OpenGate();
    if (!sample.ok()) return sample.status();
    if (Status s = Trial(options_.trial_program, path, sample.value(), options_.trial_timeout_ms, unhealthy); !s.ok()) {
      return Status::InvalidArgument(name + " " + version + " " + s.message() + "; " + c->serving->version +
                                     " keeps serving");
    }
  }
  auto loaded = Open(path, c->plugin, version);
  if (!loaded.ok()) return loaded.status();
  auto& l = loaded.value();

  // Calls wait at the gate from here to the new route: the state moves
  // across with nothing in flight, so no call's effect is lost.
  c->router.CloseGate();
  auto state = Export(*c->serving, options_.max_state_bytes);
  Status failed;
  if (!state.ok()) {
    failed = state.status();
  } else {
    l->instance = l->api->create(reinterpret_cast<const uint8_t*>(state->data()), state->size());
    if (l->instance == nullptr) {
      failed = Status::InvalidArgument(name + " " + version + " refused the state of " + c->serving->version +
                                       " (create returned NULL)");
    } else if (l->api->health(l->instance) != 0) {
      failed = Status::InvalidArgument(name + " " + version + ": health check failed");
      if (unhealthy != nullptr) *unhealthy = true;
    }
  }
  if (failed.ok()) {
    c->staged = std::move(l);
    c->weight = std::min<uint32_t>(weight, 100);
    c->router.Publish(new Router::Route{c->serving.get(), c->staged.get(), c->weight});
  }
  c->router.OpenGate();
  return failed.ok() ? Status::OK() : Status::InvalidArgument(failed.message() + "; " + c->serving->version + " keeps serving");
}

Status Host::SetWeight(const std::string& name, uint32_t weight) {
  Component* c = Get(name);
  if (c == nullptr) return Status::NotFound("component " + name + " is not loaded in the plugin host");
  std::lock_guard<std::mutex> lock(c->mu);
  if (!c->staged) return weight == 0 ? Status::OK() : Status::Conflict(name + ": nothing staged to send traffic to");
  c->weight = std::min<uint32_t>(weight, 100);
  c->router.Publish(new Router::Route{c->serving.get(), c->staged.get(), c->weight});
  return Status::OK();
}

Status Host::Commit(const std::string& name) {
  Component* c = Get(name);
  if (c == nullptr) return Status::NotFound("component " + name + " is not loaded in the plugin host");
  std::lock_guard<std::mutex> lock(c->mu);
  if (!c->staged) return Status::OK();
  c->router.Publish(new Router::Route{c->staged.get(), nullptr, 0});  // returns once no call uses the old route
  c->serving = std::move(c->staged);  // the old version is destroyed and unloaded here
  c->weight = 0;
  return Status::OK();
}

Status Host::Revert(const std::string& name) {
  Component* c = Get(name);
  if (c == nullptr) return Status::NotFound("component " + name + " is not loaded in the plugin host");
  std::lock_guard<std::mutex> lock(c->mu);
  if (!c->staged) return Status::OK();
  c->router.Publish(new Router::Route{c->serving.get(), nullptr, 0});
  c->staged.reset();
  c->weight = 0;
  return Status::OK();
}

std::vector<SwapInfo> Host::ActiveSwaps() const {
  std::vector<SwapInfo> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, c] : components_) {
    std::lock_guard<std::mutex> clock(c->mu);
    out.push_back({name, c->serving ? c->serving->version : "", c->staged ? c->staged->version : "", c->weight});
  }
  return out;
}

Result<SwapInfo> Host::SwapOf(const std::string& name) {
  Component* c = Get(name);
  if (c == nullptr) return Status::NotFound("component " + name + " is not loaded in the plugin host");
  std::lock_guard<std::mutex> lock(c->mu);
  return SwapInfo{name, c->serving ? c->serving->version : "", c->staged ? c->staged->version : "", c->weight};
}

Result<StateSnapshot> Host::CreateSnapshot(const std::string& name) {
  Component* c = Get(name);
  if (c == nullptr) return Status::NotFound("component " + name + " is not loaded in the plugin host");
  std::lock_guard<std::mutex> lock(c->mu);
  if (!c->serving) return Status::NotFound("component " + name + " has no serving version");
  c->router.CloseGate();
  auto state = Export(*c->serving, options_.max_state_bytes);
  c->router.OpenGate();
  if (!state.ok()) return state.status();
  return StateSnapshot{name, c->serving->version, std::move(state.value())};
}

Status Host::ValidateSwapIntegrity(const std::string& name, const Release& release, ReleaseCheck* check) {
  const std::string& version = release.version;
  bool* unhealthy = check == nullptr ? nullptr : &check->unhealthy;
  if (unhealthy != nullptr) *unhealthy = false;
  Component* c = Get(name);
  if (c == nullptr) return Status::NotFound("component " + name + " is not loaded in the plugin host");
  if (auto checked = CheckLibrary(c->plugin, release, check == nullptr ? nullptr : &check->signer); !checked.ok()) {
    return checked.status();
  }
  std::lock_guard<std::mutex> lock(c->mu);
  Loaded* l = c->staged && c->staged->version == version ? c->staged.get()
              : c->serving && c->serving->version == version ? c->serving.get()
                                                              : nullptr;
  if (l == nullptr) return Status::NotFound(name + " " + version + " is not loaded");
  if (l->api->health(l->instance) != 0) {
    if (unhealthy != nullptr) *unhealthy = true;
    return Status::InvalidArgument(name + " " + version + ": health check failed");
  }
  return Status::OK();
}

}  // namespace noodle::plugin
