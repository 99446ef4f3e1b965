// The bus's client side: a command client and a gap-free event subscriber.
// Not thread-safe: one object per thread. No exception leaves this module.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "noodle/status.h"

namespace noodle::bus {

// A client's CURVE settings: the daemon's public key and the client's own
// pair, all Z85. All empty: plaintext (a daemon with a keys file then admits
// nothing from this client).
struct CurveClientKeys {
  std::string server_public;
  std::string public_key;
  std::string secret_key;
  bool enabled() const { return !server_public.empty(); }
};

struct CommandClientOptions {
  int timeout_ms = 5000;  // per attempt
  // Attempts after the first. Safe: a retry resends the same bytes, and the
  // engine answers a command id it has seen with the original reply.
  int retries = 2;
  CurveClientKeys curve;
};

class CommandClient {
 public:
  static Status Connect(const std::string& endpoint, const CommandClientOptions& options,
                        std::unique_ptr<CommandClient>* client);
  virtual ~CommandClient() = default;
  // Sends a CommandEnvelope buffer and returns the Reply buffer.
  // Unavailable: no reply within the attempts.
  virtual Result<std::string> Call(std::string_view command) = 0;
};

// Whether anything accepts a connection at endpoint (tcp://, ipc://) within
// timeout_ms: OK once one is made, Unavailable when none is (nothing
// listening, wrong port), IOError for a malformed endpoint. A quick answer
// before a command waits its full reply time for a daemon that is not there.
Status Probe(const std::string& endpoint, int timeout_ms);

// Reads the log through a replay endpoint, over one connection kept open
// for every batch.
class ReplayReader {
 public:
  static Status Open(const std::string& endpoint, std::unique_ptr<ReplayReader>* reader,
                     const CurveClientKeys& curve = {});
  virtual ~ReplayReader() = default;
  // Events [from, until] (until 0: to the end), at most max, appended to
  // events, each verified and in seq order; last_seq receives the log's last
  // seq. Unavailable: no answer in time (the next call reconnects).
  // Corruption: the batch does not verify.
  virtual Status Fetch(uint64_t from, uint64_t until, uint32_t max, std::vector<std::string>* events,
                       uint64_t* last_seq, int timeout_ms = 5000) = 0;
};

// One batch through a reader of its own, for a single question.
Status FetchReplay(const std::string& endpoint, uint64_t from, uint64_t until, uint32_t max,
                   std::vector<std::string>* events, uint64_t* last_seq, int timeout_ms = 5000,
                   const CurveClientKeys& curve = {});

// The daemon's newest signed chain head (a SignedHead buffer, verified as
// FlatBuffers but not its signature). NotFound when the daemon has none yet.
Status FetchHead(const std::string& replay_endpoint, std::string* signed_head, int timeout_ms = 5000,
                 const CurveClientKeys& curve = {});

struct SubscriberOptions {
  std::string event_endpoint;
  std::string replay_endpoint;
  // The first seq to deliver: 1 for everything, checkpoint + 1 to resume.
  uint64_t from_seq = 1;
  // Live messages queued before ZeroMQ drops them (gaps are refilled).
  int rcvhwm = 100'000;
  // Kernel receive buffer (bytes); -1: the OS default.
  int rcvbuf = -1;
  uint32_t replay_batch = 1000;
  // With no live event for this long, ask the replay endpoint whether the
  // log has moved on (events lost at the tail of a burst).
  int idle_check_ms = 200;
  // Live events kept while a gap is being filled.
  size_t max_buffered = 1'000'000;
  CurveClientKeys curve;  // for both endpoints
};

struct ReceivedEvent {
  uint64_t seq = 0;
  std::string bytes;  // a verified EventEnvelope buffer
};

// Delivers every event once, in seq order, from from_seq on: subscribes
// live first, fills from the replay endpoint up to the live stream, drops
// duplicates, and refills any gap (late join, PUB drops, events too large to
// be sent live, announced by "$skipped") from the log.
class EventSubscriber {
 public:
  static Status Open(const SubscriberOptions& options, std::unique_ptr<EventSubscriber>* subscriber);
  virtual ~EventSubscriber() = default;
  // The next event in order. Unavailable when none came within timeout_ms
  // (call again); Corruption when the replay endpoint sends damaged data.
  virtual Status Next(int timeout_ms, ReceivedEvent* out) = 0;
  // The seq the next delivered event will have (checkpoint = this - 1).
  virtual uint64_t next_seq() const = 0;
  // Live messages dropped as duplicates, and seqs refilled from the log.
  virtual uint64_t duplicates() const = 0;
  virtual uint64_t refilled() const = 0;
};

}  // namespace noodle::bus
