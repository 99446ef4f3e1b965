// How upgraded joins the engine to the bus: the command handler, the replay
// source and the publisher. Shared by the daemon and the bus tests.
#pragma once

#include <atomic>
#include <functional>

#include "noodle/bus/server.h"
#include "noodle/engine/engine.h"
#include "noodle/store/event_log.h"

namespace noodle::daemon {

// Hands each command to the engine; the encoded Reply goes back through
// respond. on_reply (may be empty) sees each reply first, on the thread that
// answers it: it must be cheap (metrics).
bus::CommandHandler EngineHandler(engine::Engine* engine,
                                  std::function<void(const engine::Reply&)> on_reply = {});

// Serves replay requests from the log (thread-safe reads).
bus::BoundedReplaySource LogReplay(store::EventLog* log);

// Forwards the engine's durable events to the bus once the server is up.
class BusPublisher final : public engine::EventPublisher {
 public:
  void Publish(const std::vector<std::string>& events) override {
    if (bus::Server* s = server.load()) s->Publish(events);
  }
  std::atomic<bus::Server*> server{nullptr};
};

}  // namespace noodle::daemon
