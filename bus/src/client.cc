#include "noodle/bus/client.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <zmq_addon.hpp>

#include "noodle/envelope.h"
#include "noodle/fb/bus_generated.h"
#include "wire.h"

namespace noodle::bus {
namespace {

using Clock = std::chrono::steady_clock;

int MsLeft(Clock::time_point deadline) {
  return static_cast<int>(std::max<int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
}

void Secure(zmq::socket_t& s, const CurveClientKeys& curve) {
  s.set(zmq::sockopt::linger, 0);
  if (!curve.enabled()) return;
  s.set(zmq::sockopt::curve_serverkey, curve.server_public);
  s.set(zmq::sockopt::curve_publickey, curve.public_key);
  s.set(zmq::sockopt::curve_secretkey, curve.secret_key);
}

zmq::socket_t Dealer(zmq::context_t& ctx, const std::string& endpoint, const CurveClientKeys& curve) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  Secure(s, curve);
  s.connect(endpoint);
  return s;
}

// Sends [request id][body] and waits for [request id][...] with that id.
// Stale replies (an earlier attempt's) are skipped.
Status RoundTrip(zmq::socket_t& s, const std::string& request_id, std::string_view body, int timeout_ms,
                 std::vector<zmq::message_t>* reply) {
  s.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
  s.send(zmq::buffer(body.data(), body.size()), zmq::send_flags::none);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(MsLeft(deadline))) == 0) {
      return Status::Unavailable("no reply within " + std::to_string(timeout_ms) + " ms");
    }
    reply->clear();
    if (!zmq::recv_multipart(s, std::back_inserter(*reply))) continue;
    if (!reply->empty() && reply->front().to_string_view() == request_id) return Status::OK();
  }
}

class CommandClientImpl final : public CommandClient {
 public:
  CommandClientImpl(std::string endpoint, CommandClientOptions o) : endpoint_(std::move(endpoint)), options_(o), ctx_(1) {}

  Result<std::string> Call(std::string_view command) override {
    try {
      Status last;
      for (int attempt = 0; attempt <= options_.retries; ++attempt) {
        if (!socket_) socket_ = Dealer(ctx_, endpoint_, options_.curve);
        std::vector<zmq::message_t> reply;
        last = RoundTrip(socket_, wire::RequestId(++next_id_), command, options_.timeout_ms, &reply);
        if (last.ok()) {
          if (reply.size() != 2) return Status::Corruption("reply has " + std::to_string(reply.size()) + " frames");
          return wire::Aligned(reply[1]);
        }
        socket_.close();  // lazy pirate: a fresh socket for the retry
      }
      return Status::Unavailable("command endpoint " + endpoint_ + ": " + last.message());
    } catch (const zmq::error_t& e) {
      return wire::FromZmq(e, "command endpoint " + endpoint_);
    }
  }

 private:
  const std::string endpoint_;
  const CommandClientOptions options_;
  zmq::context_t ctx_;
  zmq::socket_t socket_;
  uint64_t next_id_ = 0;
};

// Replays over an existing DEALER socket. head (optional) receives the
// signed chain head the server sent with the batch ("" when none).
Status Replay(zmq::socket_t& s, uint64_t& next_id, uint64_t from, uint64_t until, uint32_t max,
              std::vector<std::string>* events, uint64_t* last_seq, int timeout_ms, std::string* head = nullptr) {
  flatbuffers::FlatBufferBuilder fbb(64);
  fbb.Finish(fb::CreateReplayRequest(fbb, from, until, max, head != nullptr), fb::ReplayRequestIdentifier());
  std::vector<zmq::message_t> reply;
  const std::string_view body(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  if (Status st = RoundTrip(s, wire::RequestId(++next_id), body, timeout_ms, &reply); !st.ok()) return st;
  if (reply.size() < 2) return Status::Corruption("replay reply has no header");
  const std::string header = wire::Aligned(reply[1]);
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(header.data()), header.size());
  if (!v.VerifyBuffer<fb::ReplayHeader>(nullptr)) return Status::Corruption("replay header does not verify");
  const auto* h = flatbuffers::GetRoot<fb::ReplayHeader>(header.data());
  if (h->error() != nullptr) return Status::Unavailable("replay refused: " + h->error()->str());
  if (reply.size() != 2 + h->count()) return Status::Corruption("replay batch frame count differs from its header");
  *last_seq = h->log_last_seq();
  if (head != nullptr && h->head() != nullptr) {
    // Re-encoded on its own, so the caller holds a SignedHead buffer.
    flatbuffers::FlatBufferBuilder hb(256);
    hb.Finish(wire::CopySignedHead(hb, *h->head()));
    head->assign(reinterpret_cast<const char*>(hb.GetBufferPointer()), hb.GetSize());
  }
  for (size_t i = 2; i < reply.size(); ++i) {
    std::string bytes = wire::Aligned(reply[i]);
    const auto* env = VerifyEnvelope(bytes);
    if (env == nullptr || env->seq() != from + (i - 2)) {
      return Status::Corruption("replayed event does not verify or is out of order", from + (i - 2));
    }
    events->push_back(std::move(bytes));
  }
  return Status::OK();
}

class ReplayReaderImpl final : public ReplayReader {
 public:
  ReplayReaderImpl(std::string endpoint, CurveClientKeys curve)
      : endpoint_(std::move(endpoint)), curve_(std::move(curve)), ctx_(1) {}
  Status Fetch(uint64_t from, uint64_t until, uint32_t max, std::vector<std::string>* events, uint64_t* last_seq,
               int timeout_ms) override {
    return FetchWithHead(from, until, max, events, last_seq, timeout_ms, nullptr);
  }
  Status FetchWithHead(uint64_t from, uint64_t until, uint32_t max, std::vector<std::string>* events,
                       uint64_t* last_seq, int timeout_ms, std::string* head) {
    try {
      if (!socket_) socket_ = Dealer(ctx_, endpoint_, curve_);
      Status s = Replay(socket_, next_id_, from, until, max, events, last_seq, timeout_ms, head);
      if (!s.ok() && !s.IsCorruption()) socket_.close();  // a fresh socket for the next attempt
      return s;
    } catch (const zmq::error_t& e) {
      socket_.close();
      return wire::FromZmq(e, "replay endpoint " + endpoint_);
    }
  }

 private:
  const std::string endpoint_;
  const CurveClientKeys curve_;
  zmq::context_t ctx_;
  zmq::socket_t socket_;
  uint64_t next_id_ = 0;
};

class SubscriberImpl final : public EventSubscriber {
 public:
  explicit SubscriberImpl(SubscriberOptions o) : options_(std::move(o)), ctx_(1), next_(std::max<uint64_t>(1, options_.from_seq)) {}

  Status Open() {
    try {
      sub_ = zmq::socket_t(ctx_, zmq::socket_type::sub);
      Secure(sub_, options_.curve);
      sub_.set(zmq::sockopt::rcvhwm, options_.rcvhwm);
      if (options_.rcvbuf > 0) sub_.set(zmq::sockopt::rcvbuf, options_.rcvbuf);
      sub_.set(zmq::sockopt::subscribe, "");
      sub_.connect(options_.event_endpoint);
    } catch (const zmq::error_t& e) {
      return wire::FromZmq(e, "subscribe");
    }
    return Status::OK();
  }

  Status Next(int timeout_ms, ReceivedEvent* out) override {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    try {
      while (true) {
        if (Deliver(out)) return Status::OK();
        // Fast path, the common case: the next live message is the next seq.
        if (ready_.empty() && live_.empty() && caught_up_once_) {
          int got = ReceiveLive(out);
          if (got > 0) return Status::OK();
          if (got == 0) continue;  // received, kept for later or dropped
        }
        DrainLive();
        if (Deliver(out)) return Status::OK();
        const bool live_gap = !live_.empty() && live_.begin()->first > next_;
        const bool gap = live_gap || skipped_upto_ >= next_;
        const bool idle = Clock::now() - last_check_ > std::chrono::milliseconds(options_.idle_check_ms);
        if (gap || idle || !caught_up_once_) {
          // Fill from the log: up to the first live event, or to the end.
          const uint64_t until = live_gap ? live_.begin()->first - 1 : 0;
          std::vector<std::string> events;
          uint64_t last = 0;
          Status s = replay_.Fetch(next_, until, options_.replay_batch, &events, &last, 5000);
          last_check_ = Clock::now();
          if (s.IsCorruption()) return s;
          if (s.ok()) {
            caught_up_once_ = true;
            for (auto& e : events) {
              const uint64_t seq = next_ + ready_.size();
              ready_.push_back({seq, std::move(e)});
            }
            refilled_ += events.size();
            if (!events.empty()) continue;
          }  // otherwise the reader reconnects on its next fetch
        }
        const int left = MsLeft(deadline);
        if (left <= 0) return Status::Unavailable("no event within " + std::to_string(timeout_ms) + " ms");
        zmq::pollitem_t item{sub_.handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, std::chrono::milliseconds(std::min(left, options_.idle_check_ms)));
      }
    } catch (const zmq::error_t& e) {
      return wire::FromZmq(e, "subscriber");
    }
  }

  uint64_t next_seq() const override { return next_; }
  uint64_t duplicates() const override { return duplicates_; }
  uint64_t refilled() const override { return refilled_; }

 private:
  // Hands out the next event in order from the replayed or the live queue.
  bool Deliver(ReceivedEvent* out) {
    while (!ready_.empty() && ready_.front().seq < next_) ready_.pop_front();
    if (!ready_.empty() && ready_.front().seq == next_) {
      *out = std::move(ready_.front());
      ready_.pop_front();
      ++next_;
      live_.erase(live_.begin(), live_.lower_bound(next_));
      return true;
    }
    if (ready_.empty() && !live_.empty() && live_.begin()->first == next_) {
      out->seq = next_;
      out->bytes = std::move(live_.begin()->second);
      live_.erase(live_.begin());
      ++next_;
      return true;
    }
    return false;
  }

  // Receives one live message without waiting. 1: it was next_ and is in
  // *out; 0: received and buffered or dropped; -1: nothing there.
  int ReceiveLive(ReceivedEvent* out) {
    if (!sub_.recv(topic_, zmq::recv_flags::dontwait)) return -1;
    last_check_ = Clock::now();
    if (!topic_.more()) return 0;  // not [topic][event]
    (void)sub_.recv(body_);
    while (body_.more()) (void)sub_.recv(body_);  // extra frames: not ours to read
    if (topic_.size() > 0 && *static_cast<const char*>(topic_.data()) == '$') {
      // "$skipped": an event too large to be sent live, to fetch from the log
      // now rather than at the next idle check. "$head": not an event.
      if (topic_.to_string_view() == "$skipped" && body_.size() == 8) {
        const auto* b = static_cast<const unsigned char*>(body_.data());
        uint64_t seq = 0;
        for (int i = 7; i >= 0; --i) seq = (seq << 8) | b[i];
        skipped_upto_ = std::max(skipped_upto_, seq);
      }
      return 0;
    }
    std::string bytes = wire::Aligned(body_);
    const auto* env = VerifyEnvelope(bytes);
    if (env == nullptr) return 0;  // damaged on the wire: the replay will bring it
    const uint64_t seq = env->seq();
    if (seq < next_ || live_.count(seq)) {
      ++duplicates_;
      return 0;
    }
    if (seq == next_ && ready_.empty() && out != nullptr) {
      out->seq = seq;
      out->bytes = std::move(bytes);
      ++next_;
      return 1;
    }
    if (live_.size() >= options_.max_buffered) live_.erase(std::prev(live_.end()));
    live_.emplace(seq, std::move(bytes));
    return 0;
  }

  void DrainLive() {
    for (int k = 0; k < 10'000; ++k) {
      if (ReceiveLive(nullptr) < 0) return;
    }
  }

  const SubscriberOptions options_;
  zmq::context_t ctx_;
  zmq::socket_t sub_;
  ReplayReaderImpl replay_{options_.replay_endpoint, options_.curve};
  zmq::message_t topic_, body_;  // reused for every live message
  uint64_t next_;
  std::deque<ReceivedEvent> ready_;           // replayed, contiguous from next_
  std::map<uint64_t, std::string> live_;      // received live, by seq
  Clock::time_point last_check_ = Clock::now();
  uint64_t skipped_upto_ = 0;  // the newest seq announced as "$skipped"
  bool caught_up_once_ = false;
  uint64_t duplicates_ = 0, refilled_ = 0;
};

}  // namespace

Status CommandClient::Connect(const std::string& endpoint, const CommandClientOptions& options,
                              std::unique_ptr<CommandClient>* client) {
  *client = std::make_unique<CommandClientImpl>(endpoint, options);
  return Status::OK();
}

Status Probe(const std::string& endpoint, int timeout_ms) {
  try {
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    // The socket's monitor reports the TCP/IPC connection itself, before
    // (and without) any handshake or key exchange.
    const std::string monitor = "inproc://probe";
    if (zmq_socket_monitor(s.handle(), monitor.c_str(), ZMQ_EVENT_CONNECTED) != 0) {
      return Status::IOError("probe " + endpoint + ": " + zmq_strerror(zmq_errno()));
    }
    zmq::socket_t events(ctx, zmq::socket_type::pair);
    events.set(zmq::sockopt::linger, 0);
    events.connect(monitor);
    s.connect(endpoint);
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (MsLeft(deadline) > 0) {
      zmq::pollitem_t item{events.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(MsLeft(deadline))) == 0) break;
      std::vector<zmq::message_t> event;
      if (!zmq::recv_multipart(events, std::back_inserter(event)) || event.empty() || event[0].size() < 2) continue;
      uint16_t id = 0;
      std::memcpy(&id, event[0].data(), sizeof id);
      if (id == ZMQ_EVENT_CONNECTED) return Status::OK();
    }
    return Status::Unavailable("no connection to " + endpoint + " within " + std::to_string(timeout_ms) + " ms");
  } catch (const zmq::error_t& e) {
    return wire::FromZmq(e, endpoint);
  }
}

Status ReplayReader::Open(const std::string& endpoint, std::unique_ptr<ReplayReader>* reader,
                          const CurveClientKeys& curve) {
  *reader = std::make_unique<ReplayReaderImpl>(endpoint, curve);
  return Status::OK();
}

Status FetchReplay(const std::string& endpoint, uint64_t from, uint64_t until, uint32_t max,
                   std::vector<std::string>* events, uint64_t* last_seq, int timeout_ms,
                   const CurveClientKeys& curve) {
  return ReplayReaderImpl(endpoint, curve).Fetch(from, until, max, events, last_seq, timeout_ms);
}

Status FetchHead(const std::string& replay_endpoint, std::string* signed_head, int timeout_ms,
                 const CurveClientKeys& curve) {
  std::vector<std::string> events;
  uint64_t last = 0;
  signed_head->clear();
  // One event is asked for with it; the head is what is wanted.
  Status s = ReplayReaderImpl(replay_endpoint, curve).FetchWithHead(1, 1, 1, &events, &last, timeout_ms, signed_head);
  if (!s.ok()) return s;
  if (signed_head->empty()) return Status::NotFound("the daemon has no signed chain head yet");
  return Status::OK();
}

Status EventSubscriber::Open(const SubscriberOptions& options, std::unique_ptr<EventSubscriber>* subscriber) {
  auto impl = std::make_unique<SubscriberImpl>(options);
  if (Status s = impl->Open(); !s.ok()) return s;
  *subscriber = std::move(impl);
  return Status::OK();
}

}  // namespace noodle::bus
