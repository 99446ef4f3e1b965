// The bus's server side: three ZeroMQ endpoints around the engine.
//   command  ROUTER  [request id][CommandEnvelope] -> [request id][Reply]
//   events   PUB     [topic][EventEnvelope], topic = "<stream>#<EventType>",
//                    sent only for durable events (the caller's promise)
//   replay   ROUTER  [request id][ReplayRequest] -> [request id][ReplayHeader][event]...
// PUB drops messages for slow or late subscribers by design; EventSubscriber
// (client.h) refills every gap from the replay endpoint.
//
// Knows ZeroMQ and the schemas only: the daemon hands in the command handler
// and the replay source. No exception leaves this module.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "noodle/status.h"

namespace noodle::bus {

struct ServerOptions {
  // "tcp://127.0.0.1:0" binds a free port; the bound endpoint is reported.
  std::string command_endpoint = "tcp://127.0.0.1:7601";
  std::string event_endpoint = "tcp://127.0.0.1:7602";
  std::string replay_endpoint = "tcp://127.0.0.1:7603";
  // Messages queued per subscriber before PUB drops. Memory: up to this many
  // events per slow subscriber.
  int event_sndhwm = 100'000;
  // Kernel send buffer per event connection (bytes); -1: the OS default.
  int event_sndbuf = -1;
  // Largest frame accepted on the command and replay endpoints; a peer that
  // sends more is disconnected by ZeroMQ.
  int64_t max_message_bytes = 4 << 20;
  // Events per replay batch at most, whatever the client asks.
  uint32_t replay_max_batch = 1000;
};

// Called on the server's command thread with a command buffer as received
// (not yet verified). respond must be called exactly once, from any thread.
using CommandHandler = std::function<void(std::string command, std::function<void(std::string reply)> respond)>;

// Reads up to max events from `from` (inclusive) to `until` (inclusive, 0:
// the end), in seq order, and the log's last seq. Called on the replay thread.
using ReplaySource = std::function<Status(uint64_t from, uint64_t until, uint32_t max, std::vector<std::string>* events,
                                          uint64_t* last_seq)>;

struct ServerCounters {
  uint64_t commands = 0;         // frames handed to the handler
  uint64_t malformed = 0;        // dropped or answered with an error frame
  uint64_t replay_requests = 0;
  uint64_t published = 0;
};

class Server {
 public:
  // Binds the three endpoints and starts the command and replay threads.
  // IOError when an endpoint cannot be bound (in use, bad address).
  static Status Start(const ServerOptions& options, CommandHandler handler, ReplaySource replay,
                      std::unique_ptr<Server>* server);
  virtual ~Server() = default;

  // Publishes durable events, in order. Thread-safe (serialized inside).
  virtual void Publish(const std::vector<std::string>& events) = 0;

  // Endpoints as bound (the real port when 0 was asked for).
  virtual const std::string& command_endpoint() const = 0;
  virtual const std::string& event_endpoint() const = 0;
  virtual const std::string& replay_endpoint() const = 0;
  virtual ServerCounters counters() const = 0;

  // Stops the threads and closes the sockets. Idempotent.
  virtual void Stop() = 0;
};

// "<stream>#<EventType>" for an EventEnvelope buffer; "" when it does not verify.
std::string TopicOf(std::string_view event);

}  // namespace noodle::bus
