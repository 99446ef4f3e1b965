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
//
// With a server key pair and a KeyRing, every endpoint speaks CURVE and a ZAP
// handler inside the server admits only keys in the ring: a client with no
// key or an unknown key gets nothing past the handshake. The ring is consulted
// again for every command and replay request, so a key removed from it (keys
// file reloaded) gets no further reply; Reauthenticate() makes subscribers
// hand-shake again so a removed key stops receiving events too.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "noodle/bus/keys.h"
#include "noodle/principal.h"
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
  // CURVE: the server's key pair and the keys it admits. Both set: every
  // endpoint is encrypted and authenticated (a handshake costs two public-key
  // operations; each message is encrypted, about 1 us per KB). Both empty:
  // plaintext, and every client is Principal::Local().
  CurveKeyPair curve;
  std::shared_ptr<KeyRing> keyring;
  // The newest signed chain head (a SignedHead buffer, "" when none), sent
  // with a replay batch when the request asks for it. May be empty.
  std::function<std::string()> head_source;
};

// Called on the server's command thread with a command buffer as received
// (not yet verified) and the principal the handshake authenticated. respond
// must be called exactly once, from any thread.
using CommandHandler =
    std::function<void(std::string command, Principal who, std::function<void(std::string reply)> respond)>;

// Reads up to max events from `from` (inclusive) to `until` (inclusive, 0:
// the end), in seq order, and the log's last seq. Called on the replay thread.
using ReplaySource = std::function<Status(uint64_t from, uint64_t until, uint32_t max, std::vector<std::string>* events,
                                          uint64_t* last_seq)>;

struct ServerCounters {
  uint64_t commands = 0;         // frames handed to the handler
  uint64_t malformed = 0;        // dropped or answered with an error frame
  uint64_t replay_requests = 0;
  uint64_t published = 0;
  uint64_t handshakes_refused = 0;  // CURVE clients with no known key
  uint64_t revoked_dropped = 0;     // messages from keys no longer in the ring
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
  // Publishes a SignedHead buffer with topic "$head" (EventSubscriber skips it).
  virtual void PublishHead(const std::string& signed_head) = 0;
  // Closes and binds the event endpoint again (same address), so every
  // subscriber reconnects through the ZAP handler: a key removed from the
  // ring stops receiving. Subscribers refill what they missed from replay.
  virtual Status Reauthenticate() = 0;

  // Endpoints as bound (the real port when 0 was asked for).
  virtual const std::string& command_endpoint() const = 0;
  virtual const std::string& event_endpoint() const = 0;
  virtual const std::string& replay_endpoint() const = 0;
  virtual ServerCounters counters() const = 0;

  // Stops the threads and closes the sockets. Idempotent.
  virtual void Stop() = 0;
};

// True for endpoints only this machine can reach: ipc://, inproc://, and tcp://
// on 127.0.0.0/8, localhost or [::1]. tcp://*, 0.0.0.0 and any other host or
// interface name are not.
bool IsLoopbackEndpoint(std::string_view endpoint);

// "<stream>#<EventType>" for an EventEnvelope buffer; "" when it does not verify.
std::string TopicOf(std::string_view event);

}  // namespace noodle::bus
