// The daemon's live dashboard (README "Dashboard"): a read-only web page
// over the daemon's small HTTP server (observe/), on a port of its own. GET only:
//   /                 index.html, and its CSS and JS (embedded at build time)
//   /api/state        a JSON snapshot: components, upgrades in flight with
//                     their steps, recent history, rollback points, last seq
//                     and the audit status
//   /api/events       Server-Sent Events: one per durable log event, `id:`
//                     its seq, data a JSON object (seq, type, stream, upgrade,
//                     component, phase, weight)
// Events come from the engine's projector thread (observer()) into a
// bounded queue per client: a client that falls behind is disconnected, the
// engine never waits for one. The last Options::replay_events messages are
// kept: a page reconnecting with Last-Event-ID: N (EventSource sends it by
// itself) is sent the events after N before the live ones, gap-free, or an
// `event: reset` (id: the last seq) when they are no longer all kept; the
// page then re-reads /api/state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "noodle/engine/engine.h"
#include "noodle/status.h"

namespace noodle::dashboard {

struct Audit {
  bool verified_at_start = false;  // the start-up chain and signed-head check passed
  std::string detail;              // what was checked, in words
};

struct Options {
  size_t max_clients = 8;       // event streams at once; more get 503
  size_t queue_events = 4096;   // per client; past it the client is dropped
  size_t replay_events = 1024;  // kept for resuming clients (at most queue_events)
};

class Dashboard {
 public:
  // next: the observer to forward every call to (may be null); outlives this.
  explicit Dashboard(engine::EngineObserver* next, Options options = {});
  ~Dashboard();  // stops serving
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // For EngineOptions::observer: feeds the event streams, then `next`.
  engine::EngineObserver* observer();
  // Serves on listen ("host:port", port 0: a free one). state: a consistent
  // copy of the engine's state, called on the server's threads (thread-safe,
  // e.g. Engine::Current); it must stay callable until Stop.
  // InvalidArgument: not host:port. IOError naming it when it cannot bind.
  Status Serve(const std::string& listen, std::function<engine::State()> state, Audit audit);
  // host:port being served, "" when none.
  std::string address() const;
  // Ends the event streams and stops serving. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace noodle::dashboard
