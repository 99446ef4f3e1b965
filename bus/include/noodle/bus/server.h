// The bus's server side: three ZeroMQ endpoints around the engine.
//   command  ROUTER  [request id][CommandEnvelope] -> [request id][Reply]
//   events   PUB     [topic][EventEnvelope], topic = "<stream>#<EventType>",
//                    sent only for durable events (the caller's promise);
//                    ["$skipped"][seq, 8 bytes little-endian] in place of an
//                    event larger than event_live_max_bytes;
//                    ["$head"][SignedHead]
//   replay   ROUTER  [request id][ReplayRequest] -> [request id][ReplayHeader][event]...
// PUB drops messages for slow or late subscribers by design, and sends large
// events only as a "$skipped" notice; EventSubscriber (client.h) refills every
// gap from the replay endpoint.
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
  // Memory the daemon spends on one subscriber that stops reading (a stuck
  // process, a dead link): ZeroMQ queues what the subscriber has not taken,
  // and its queue limit (sndhwm) counts messages, not bytes. So the byte
  // budget becomes a message count,
  //   sndhwm = max(16, event_queue_bytes_per_subscriber /
  //                    (event_live_max_bytes + 512 bytes of topic and framing))
  // (14,563 with the defaults), and no event larger than
  // event_live_max_bytes is queued: a 16-byte "$skipped" notice with its seq
  // goes out instead, and subscribers fetch the event from the replay
  // endpoint (EventSubscriber at once). So a stalled subscriber holds at most
  // event_queue_bytes_per_subscriber (64 MiB by default; 8-18 MiB with
  // typical events of 0.3-1 KB), plus the one message being written to it;
  // beyond that PUB drops and the subscriber refills the gap from the replay
  // endpoint. Freed when the subscriber leaves. The kernel's send buffer
  // (event_sndbuf) holds up to its size per connection too, outside the RSS.
  // Costs: sndhwm is also the largest burst a subscriber that keeps up takes
  // without a refill, since one ZeroMQ I/O thread writes every copy while the
  // engine publishes rounds (up to 4096 events each). tools/bench/
  // bus_budget_bench: 16 rounds back to back to 1 subscriber, none refilled;
  // 8 rounds back to back (32,768 events in ~30 ms) to 10 subscribers, a
  // third to a half refilled, and those subscribers 4-6x slower than with
  // 100,000 messages (no refill). A larger budget absorbs larger bursts and
  // costs that much more per stalled subscriber.
  size_t event_queue_bytes_per_subscriber = 64u << 20;
  // Events above this size are not sent live (see above). Typical events are
  // 0.3-1 KB; component specs with dozens of instances or long hooks, plans
  // of large rolling upgrades and rollbacks that restore several components
  // are larger. Costs: each subscriber fetches such an event from the replay
  // endpoint (a read of the log and one round trip, right after the notice);
  // raw subscribers that do not refill never see it. A larger limit means
  // fewer messages per subscriber for the same budget.
  size_t event_live_max_bytes = 4u << 10;
  // > 0: this many messages per subscriber instead of the count derived
  // above (tests, benchmarks); memory is then up to event_sndhwm x
  // (event_live_max_bytes + 512 bytes) per stalled subscriber.
  int event_sndhwm = 0;
  // Kernel send buffer per event connection (bytes); -1: the OS default
  // (TCP autotunes it up to net.ipv4.tcp_wmem's maximum, 4 MiB by default).
  // Kernel memory, not in the process's RSS.
  int event_sndbuf = -1;
  // Largest frame accepted on the command and replay endpoints; a peer that
  // sends more is disconnected by ZeroMQ.
  int64_t max_message_bytes = 4 << 20;
  // Events per replay batch at most, whatever the client asks.
  uint32_t replay_max_batch = 1000;
  // Bytes per replay batch at most (a batch always carries at least one
  // event, whatever its size). Memory per replay client: this much per
  // request it has in flight (EventSubscriber and ReplayReader keep one),
  // or the largest event when it is bigger. A client that sends requests
  // without reading the replies is not bounded yet. Costs: a smaller batch
  // means more round trips to catch up on large events.
  size_t replay_max_batch_bytes = 8u << 20;
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
// Like ReplaySource, and stops once the events read reach max_bytes (the
// first event is always read, whatever its size): what one batch costs is
// then bounded while it is read, not only once it is trimmed.
using BoundedReplaySource = std::function<Status(uint64_t from, uint64_t until, uint32_t max, uint64_t max_bytes,
                                                 std::vector<std::string>* events, uint64_t* last_seq)>;

struct ServerCounters {
  uint64_t commands = 0;         // frames handed to the handler
  uint64_t malformed = 0;        // dropped or answered with an error frame
  uint64_t replay_requests = 0;
  uint64_t published = 0;
  uint64_t handshakes_refused = 0;  // CURVE clients with no known key
  uint64_t revoked_dropped = 0;     // messages from keys no longer in the ring
  uint64_t skipped = 0;             // events over event_live_max_bytes, sent as "$skipped"
  // Bytes of event frames ZeroMQ holds now (queued for subscribers and
  // replay clients), and the most it held (live and replay peaks added).
  uint64_t held_bytes = 0;
  uint64_t held_bytes_peak = 0;
  // Connections to the event endpoint now (subscribers), as of the replay
  // thread's last housekeeping (every 200 ms); 0 again after Reauthenticate.
  uint64_t event_peers = 0;
};

class Server {
 public:
  // Binds the three endpoints and starts the command and replay threads.
  // IOError when an endpoint cannot be bound (in use, bad address): "cannot
  // bind the command endpoint tcp://127.0.0.1:7601: Address already in use".
  static Status Start(const ServerOptions& options, CommandHandler handler, ReplaySource replay,
                      std::unique_ptr<Server>* server);
  // With a source that honours the byte limit. A plain ReplaySource is read
  // in chunks sized from the largest event seen so far, so a batch may read
  // up to 256 events past the limit before it is trimmed.
  static Status Start(const ServerOptions& options, CommandHandler handler, BoundedReplaySource replay,
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

// The messages queued per subscriber (ZMQ_SNDHWM) with these options:
// event_sndhwm, or the count derived from the byte budget.
int EventQueueMessages(const ServerOptions& options);

// True for endpoints only this machine can reach: ipc://, inproc://, and tcp://
// on 127.0.0.0/8, localhost or [::1]. tcp://*, 0.0.0.0 and any other host or
// interface name are not.
bool IsLoopbackEndpoint(std::string_view endpoint);

// "<stream>#<EventType>" for an EventEnvelope buffer; "" when it does not verify.
std::string TopicOf(std::string_view event);

}  // namespace noodle::bus
