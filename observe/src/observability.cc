#include "noodle/observe/observability.h"

#include <cmath>
#include <mutex>

#include "engine_metrics.h"
#include "lifecycle_log.h"
#include "noodle/observe/http_server.h"

namespace noodle::observe {
namespace {

// The engine's side: append latency on the writer thread, lifecycle lines
// and upgrade metrics on the projector thread.
class EngineWatch final : public engine::EngineObserver {
 public:
  explicit EngineWatch(EngineMetrics* metrics) : metrics_(metrics), lifecycle_(metrics) {}

  void Appended(std::chrono::nanoseconds took, size_t /*events*/, bool stored) override {
    metrics_->append_seconds.Observe(std::chrono::duration<double>(took).count());
    if (!stored) metrics_->append_failures.Add();
  }

  void Durable(const std::vector<std::string>& events, const engine::State& state) override {
    if (!seeded_) {
      lifecycle_.Seed(state);
      seeded_ = true;
    }
    for (const auto& bytes : events) lifecycle_.Fold(*fb::GetEventEnvelope(bytes.data()));
    metrics_->in_flight.Set(static_cast<double>(state.status.upgrades.size()));
  }

 private:
  EngineMetrics* const metrics_;
  LifecycleLog lifecycle_;
  bool seeded_ = false;
};

// The log's state, read at each scrape.
void AddLogMetrics(Registry& r, store::EventLog* log) {
  using Fault = store::WriteCounters::Fault;
  r.gauge_fn("noodle_log_last_seq", "The seq of the newest durable event.",
             [log] { return static_cast<double>(log->LastSeq()); });
  r.counter_fn("noodle_log_writes_total", "Writes of appended events (one per group commit).",
               [log] { return log->Counters().group_writes; });
  r.counter_fn("noodle_log_synced_writes_total",
               "Writes fsynced before they returned (group commits with --sync on, snapshots, checkpoints); "
               "rate() is the fsync rate.",
               [log] { return log->Counters().synced_writes; });
  r.counter_fn("noodle_log_appended_events_total", "Events appended since the daemon started.",
               [log] { return log->Counters().appended_events; });
  r.gauge_fn("noodle_log_disk_full", "1 while appends are refused because the log's filesystem is full.",
             [log] { return log->Counters().fault == Fault::kDiskFull ? 1.0 : 0.0; });
  r.gauge_fn("noodle_log_appends_refused",
             "1 while appends are refused for any cause (disk full, I/O error); reads go on.",
             [log] { return log->Counters().fault != Fault::kNone ? 1.0 : 0.0; });
  r.gauge_fn("noodle_log_free_bytes", "Bytes free to the daemon on the log's filesystem.", [log] {
    auto free = log->FreeBytes();
    return free.ok() ? static_cast<double>(free.value()) : std::nan("");
  });
}

void AddBusMetrics(Registry& r, const bus::Server* s) {
  r.gauge_fn("noodle_bus_subscribers",
             "Connections to the event endpoint (subscribers), as of the bus's last look (every 200 ms).",
             [s] { return static_cast<double>(s->counters().event_peers); });
  r.counter_fn("noodle_bus_commands_total", "Command frames received.", [s] { return s->counters().commands; });
  r.counter_fn("noodle_bus_malformed_total", "Frames dropped or answered with an error as malformed.",
               [s] { return s->counters().malformed; });
  r.counter_fn("noodle_bus_published_total", "Events published on the event endpoint.",
               [s] { return s->counters().published; });
  r.counter_fn("noodle_bus_handshakes_refused_total", "CURVE handshakes refused (no known key).",
               [s] { return s->counters().handshakes_refused; });
  r.gauge_fn("noodle_bus_queued_bytes", "Bytes of event frames queued for subscribers and replay clients.",
             [s] { return static_cast<double>(s->counters().held_bytes); });
}

}  // namespace

struct Observability::Impl {
  explicit Impl(store::EventLog* log) : metrics(registry), watch(&metrics) { AddLogMetrics(registry, log); }
  Registry registry;
  EngineMetrics metrics;
  EngineWatch watch;
  mutable std::mutex mu;  // http
  std::unique_ptr<HttpServer> http;
};

Observability::Observability(store::EventLog* log) : impl_(std::make_unique<Impl>(log)) {}
Observability::~Observability() { Stop(); }

engine::EngineObserver* Observability::engine_observer() { return &impl_->watch; }

std::function<void(const engine::Reply&)> Observability::reply_observer() {
  EngineMetrics* m = &impl_->metrics;
  return [m](const engine::Reply& r) {
    if (!r.accepted && size_t(r.code) < m->refused.size() && m->refused[size_t(r.code)] != nullptr) {
      m->refused[size_t(r.code)]->Add();
    }
  };
}

void Observability::WatchBus(const bus::Server* server) { AddBusMetrics(impl_->registry, server); }

Status Observability::ServeMetrics(const std::string& listen) {
  Registry* r = &impl_->registry;
  std::map<std::string, HttpHandler> routes;
  routes["/metrics"] = [r] { return HttpResponse{200, Registry::kContentType, r->Render(), ""}; };
  std::unique_ptr<HttpServer> http;
  if (Status s = HttpServer::Start(listen, "metrics endpoint", std::move(routes), &http); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->http = std::move(http);
  return Status::OK();
}

std::string Observability::metrics_address() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->http ? impl_->http->address() : "";
}

void Observability::Stop() {
  std::unique_ptr<HttpServer> http;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    http = std::move(impl_->http);
  }
  if (http) http->Stop();
}

Registry& Observability::registry() { return impl_->registry; }

}  // namespace noodle::observe
