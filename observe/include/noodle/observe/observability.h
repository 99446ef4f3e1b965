// The daemon's logs and metrics (README "Observability"):
// - a log line per upgrade lifecycle transition (requested, rejected,
//   started, step failed, completed, failed, rolled back, ...), derived from
//   the durable events on the engine's projector thread, never the writer's;
// - the metrics of the engine (upgrades by outcome, in flight, step and
//   upgrade durations, append latency, refused commands), of the log (last
//   seq, writes and fsyncs, disk-full state) and of the bus (subscribers),
//   served as Prometheus text on GET /metrics.
// Updates are relaxed atomics; values that cost a call (the log's free
// space, the bus's counters) are read only when /metrics is scraped.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "noodle/bus/server.h"
#include "noodle/engine/engine.h"
#include "noodle/observe/metrics.h"
#include "noodle/protocol/reply.h"
#include "noodle/status.h"
#include "noodle/store/event_log.h"

namespace noodle::observe {

class Observability {
 public:
  // log: the daemon's event log; it outlives this object.
  explicit Observability(store::EventLog* log);
  ~Observability();
  Observability(const Observability&) = delete;
  Observability& operator=(const Observability&) = delete;

  // For EngineOptions::observer: lifecycle lines and engine metrics.
  engine::EngineObserver* engine_observer();
  // For daemon::EngineHandler: counts each rejected reply by its code.
  std::function<void(const engine::Reply&)> reply_observer();
  // Adds the bus server's counters; it must stay up while /metrics is
  // served (Stop this first).
  void WatchBus(const bus::Server* server);
  // Serves GET /metrics on listen ("host:port", port 0: a free one).
  // InvalidArgument: not host:port. IOError naming it when it cannot bind.
  Status ServeMetrics(const std::string& listen);
  // host:port being served, "" when none.
  std::string metrics_address() const;
  // Stops serving /metrics. Idempotent.
  void Stop();

  Registry& registry();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace noodle::observe
