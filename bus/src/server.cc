#include "noodle/bus/server.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <new>
#include <optional>
#include <deque>
#include <mutex>
#include <thread>
#include <zmq_addon.hpp>

#include "noodle/envelope.h"
#include "noodle/fb/bus_generated.h"
#include "noodle/fb/commands_generated.h"
#include "frame_arena.h"
#include "peer_count.h"
#include "wire.h"

namespace noodle::bus {
namespace {

std::string ErrorReply(const std::string& message) {
  flatbuffers::FlatBufferBuilder fbb(128);
  const fb::Id128 zero(0, 0);
  auto body = fb::CreateRejectedDirect(fbb, fb::RejectCode::Invalid, message.c_str());
  fbb.Finish(fb::CreateReply(fbb, &zero, fb::ReplyBody::Rejected, body.Union()));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

std::string Header(uint64_t from, uint32_t count, uint64_t last, const std::string& error,
                   const std::string& head = "") {
  flatbuffers::FlatBufferBuilder fbb(128);
  flatbuffers::Offset<fb::SignedHead> head_offset;
  if (!head.empty()) {
    flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(head.data()), head.size());
    if (v.VerifyBuffer<fb::SignedHead>(nullptr)) {
      head_offset = wire::CopySignedHead(fbb, *flatbuffers::GetRoot<fb::SignedHead>(head.data()));
    }
  }
  fbb.Finish(fb::CreateReplayHeaderDirect(fbb, from, count, last, error.empty() ? nullptr : error.c_str(), head_offset));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

// The principal a frame came from: the ZAP handler set its User-Id to the
// client's Z85 public key. Looked up again per message, so a key removed from
// the ring is refused from the next message on.
std::optional<Principal> PrincipalOf(const ServerOptions& o, zmq::message_t& frame) {
  if (!o.keyring) return Principal::Local();
  const char* key = zmq_msg_gets(frame.handle(), "User-Id");
  if (key == nullptr) return std::nullopt;
  return o.keyring->Find(key);
}

// What a queued event costs besides its bytes: the topic frame (up to ~170
// bytes, allocated past 33), two msg_t slots in the pipe (64 bytes each),
// ZeroMQ's content_t and malloc's headers.
constexpr size_t kFramingBytes = 512;

// Reads through a plain ReplaySource in chunks, so a batch of large events
// is not read whole before it is trimmed to max_bytes: each chunk is sized
// from the largest event seen so far (at most 256 events).
BoundedReplaySource Chunked(ReplaySource source) {
  return [source = std::move(source)](uint64_t from, uint64_t until, uint32_t max, uint64_t max_bytes,
                                      std::vector<std::string>* events, uint64_t* last_seq) -> Status {
    uint64_t bytes = 0, largest = 1;
    uint32_t chunk = 8;
    while (events->size() < max) {
      const uint64_t at = from + events->size();
      if (until != 0 && at > until) break;
      std::vector<std::string> got;
      const uint32_t ask = std::min<uint32_t>(chunk, max - static_cast<uint32_t>(events->size()));
      if (Status s = source(at, until, ask, &got, last_seq); !s.ok()) return s;
      for (auto& e : got) {
        if (!events->empty() && bytes + e.size() > max_bytes) return Status::OK();
        bytes += e.size();
        largest = std::max<uint64_t>(largest, e.size());
        events->push_back(std::move(e));
      }
      if (got.size() < ask) break;  // the end of the log, or of `until`
      const uint64_t room = max_bytes > bytes ? (max_bytes - bytes) / largest : 0;
      if (room == 0) break;
      chunk = static_cast<uint32_t>(std::clamp<uint64_t>(room, 1, 256));
    }
    return Status::OK();
  };
}

// Replies produced on other threads, handed to the command thread, which
// owns the ROUTER socket. The eventfd wakes its poll.
struct ReplyQueue {
  struct Item {
    std::string identity, request_id, reply;
  };
  std::mutex mu;
  std::deque<Item> items;
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ~ReplyQueue() { close(efd); }
  void Push(Item item) {
    {
      std::lock_guard<std::mutex> lock(mu);
      items.push_back(std::move(item));
    }
    const uint64_t one = 1;
    (void)!write(efd, &one, sizeof one);
  }
};

class ServerImpl final : public Server {
 public:
  ServerImpl(ServerOptions o, CommandHandler h, BoundedReplaySource r)
      : options_(std::move(o)), handler_(std::move(h)), replay_(std::move(r)), ctx_(1),
        replies_(std::make_shared<ReplyQueue>()) {}
  ~ServerImpl() override { Stop(); }

  bool curve() const { return options_.keyring != nullptr; }

  // Options every server socket gets; CURVE ones when keys are configured.
  void Secure(zmq::socket_t& s) {
    s.set(zmq::sockopt::linger, 0);
    if (!curve()) return;
    s.set(zmq::sockopt::zap_domain, "noodle");
    s.set(zmq::sockopt::curve_server, true);
    s.set(zmq::sockopt::curve_secretkey, options_.curve.secret_key);
  }

  zmq::socket_t NewEventSocket() {
    zmq::socket_t s(ctx_, zmq::socket_type::pub);
    Secure(s);
    s.set(zmq::sockopt::sndhwm, EventQueueMessages(options_));
    if (options_.event_sndbuf > 0) s.set(zmq::sockopt::sndbuf, options_.event_sndbuf);
    return s;
  }

  Status Bind() {
    if (curve() != !options_.curve.secret_key.empty()) {
      return Status::InvalidArgument("CURVE needs both the server's key pair and a key ring");
    }
    if (curve() && !zmq_has("curve")) return Status::NotSupported("libzmq was built without CURVE");
    try {
      if (curve()) {
        // The ZAP handler must listen before any CURVE socket takes a peer.
        zap_ = zmq::socket_t(ctx_, zmq::socket_type::rep);
        zap_.set(zmq::sockopt::linger, 0);
        zap_.bind("inproc://zeromq.zap.01");
        zap_thread_ = std::thread([this] { ZapLoop(); });
      }
      commands_ = zmq::socket_t(ctx_, zmq::socket_type::router);
      events_ = NewEventSocket();
      event_peers_.Watch(ctx_, events_, "events");
      replay_sock_ = zmq::socket_t(ctx_, zmq::socket_type::router);
      Secure(commands_);
      Secure(replay_sock_);
      commands_.set(zmq::sockopt::maxmsgsize, options_.max_message_bytes);
      replay_sock_.set(zmq::sockopt::maxmsgsize, options_.max_message_bytes);
      // A ROUTER drops (silently) what it cannot queue to a peer, so the
      // reply queues have no high-water mark: they hold at most one reply
      // per request a client has in flight.
      commands_.set(zmq::sockopt::sndhwm, 0);
      replay_sock_.set(zmq::sockopt::sndhwm, 0);
      commands_.bind(options_.command_endpoint);
      command_ep_ = commands_.get(zmq::sockopt::last_endpoint);
      events_.bind(options_.event_endpoint);
      event_ep_ = events_.get(zmq::sockopt::last_endpoint);
      replay_sock_.bind(options_.replay_endpoint);
      replay_ep_ = replay_sock_.get(zmq::sockopt::last_endpoint);
    } catch (const zmq::error_t& e) {
      const std::string which = command_ep_.empty() ? "the command endpoint " + options_.command_endpoint
                                : event_ep_.empty() ? "the event endpoint " + options_.event_endpoint
                                                    : "the replay endpoint " + options_.replay_endpoint;
      return wire::FromZmq(e, "cannot bind " + which);
    }
    command_thread_ = std::thread([this] { CommandLoop(); });
    replay_thread_ = std::thread([this] { ReplayLoop(); });
    return Status::OK();
  }

  static constexpr size_t kCommandsEvery = 64;

  void Publish(const std::vector<std::string>& events) override {
    std::lock_guard<std::mutex> lock(publish_mu_);
    if (stopped_) return;
    try {
      size_t since_commands = 0;
      for (const auto& e : events) {
        // While sending, ZeroMQ looks at its commands (among them "this
        // subscriber's queue has drained") only about once a millisecond, and
        // drops for a queue it still believes full. Asking for the socket's
        // events makes it look now, so a burst larger than the queue reaches
        // a subscriber that keeps up.
        if (++since_commands == kCommandsEvery) {
          since_commands = 0;
          (void)events_.get(zmq::sockopt::events);
        }
        // Published events come from the log, verified, in std::string
        // (aligned) buffers: the topic is read without a second Verifier pass.
        const auto* env = fb::GetEventEnvelope(e.data());
        if (e.size() > options_.event_live_max_bytes) {
          // Too large to queue per subscriber: a notice instead, and the
          // subscriber fetches the event from the replay endpoint.
          std::array<unsigned char, 8> seq;
          for (size_t i = 0; i < seq.size(); ++i) seq[i] = static_cast<unsigned char>(env->seq() >> (8 * i));
          events_.send(zmq::str_buffer("$skipped"), zmq::send_flags::sndmore);
          events_.send(zmq::buffer(seq), zmq::send_flags::none);
          ++skipped_;
          ++published_;
          continue;
        }
        std::string topic = env->stream()->str();
        topic += '#';
        topic += fb::EnumNameEvent(env->event_type());
        events_.send(zmq::buffer(topic), zmq::send_flags::sndmore);
        zmq::message_t frame = event_frames_.Frame(e);
        events_.send(frame, zmq::send_flags::none);
        ++published_;
      }
    } catch (const zmq::error_t& e) {
      spdlog::error("bus: publish failed: {}", e.what());
    }
  }

  void PublishHead(const std::string& signed_head) override {
    std::lock_guard<std::mutex> lock(publish_mu_);
    if (stopped_) return;
    try {
      events_.send(zmq::str_buffer("$head"), zmq::send_flags::sndmore);
      events_.send(zmq::buffer(signed_head), zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
      spdlog::error("bus: publishing the signed head failed: {}", e.what());
    }
  }

  Status Reauthenticate() override {
    std::lock_guard<std::mutex> lock(publish_mu_);
    if (stopped_) return Status::Unavailable("server stopped");
    try {
      events_.unbind(event_ep_);
      events_.close();
      events_ = NewEventSocket();
      event_peers_.Watch(ctx_, events_, "events");
    } catch (const zmq::error_t& e) {
      return wire::FromZmq(e, "close event endpoint " + event_ep_);
    }
    // The old listener is torn down by ZeroMQ's I/O thread: the address may
    // be busy for a moment. Bounded: 100 tries, 10 ms apart.
    for (int attempt = 0;; ++attempt) {
      try {
        events_.bind(event_ep_);
        spdlog::info("bus: event endpoint {} bound again; subscribers authenticate anew", event_ep_);
        return Status::OK();
      } catch (const zmq::error_t& e) {
        if (e.num() != EADDRINUSE || attempt == 100) return wire::FromZmq(e, "bind event endpoint " + event_ep_);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }

  const std::string& command_endpoint() const override { return command_ep_; }
  const std::string& event_endpoint() const override { return event_ep_; }
  const std::string& replay_endpoint() const override { return replay_ep_; }
  ServerCounters counters() const override {
    return {commands_count_.load(), malformed_.load(), replay_requests_.load(), published_.load(),
            handshakes_refused_.load(), revoked_dropped_.load(), skipped_.load(),
            event_frames_.held() + replay_frames_.held(), event_frames_.peak() + replay_frames_.peak(),
            event_peers_.count()};
  }

  void Stop() override {
    if (stopping_.exchange(true)) return;
    const uint64_t one = 1;
    (void)!write(replies_->efd, &one, sizeof one);
    if (command_thread_.joinable()) command_thread_.join();
    if (replay_thread_.joinable()) replay_thread_.join();
    if (zap_thread_.joinable()) zap_thread_.join();
    std::lock_guard<std::mutex> lock(publish_mu_);
    stopped_ = true;
    commands_.close();
    events_.close();
    replay_sock_.close();
    zap_.close();
    event_peers_.Close();
    ctx_.close();
  }

 private:
  void Malformed(const char* why) {
    if (malformed_++ % 1000 == 0) spdlog::warn("bus: malformed frame ({}); {} so far", why, malformed_.load());
  }

  // ZAP (RFC 27): admits a CURVE client whose public key is in the ring;
  // its User-Id becomes the Z85 key, which each message then carries.
  void ZapLoop() {
    zmq::pollitem_t items[] = {{zap_.handle(), 0, ZMQ_POLLIN, 0}};
    while (!stopping_) {
      try {
        zmq::poll(items, 1, std::chrono::milliseconds(200));
        if (!(items[0].revents & ZMQ_POLLIN)) continue;
        std::vector<zmq::message_t> req;
        if (!zmq::recv_multipart(zap_, std::back_inserter(req))) continue;
        // version, request id, domain, address, identity, mechanism, credentials...
        std::string user, code = "400", text = "unknown key";
        if (req.size() >= 7 && req[5].to_string_view() == "CURVE" && req[6].size() == 32) {
          char z85[41];
          zmq_z85_encode(z85, static_cast<const uint8_t*>(req[6].data()), 32);
          if (options_.keyring->Find(z85)) {
            user = z85;
            code = "200";
            text = "OK";
          }
        } else {
          text = "CURVE required";
        }
        if (code != "200" && handshakes_refused_++ % 1000 == 0) {
          spdlog::warn("bus: refused a handshake from {} ({}); {} refused so far",
                       req.size() > 3 ? req[3].to_string() : "?", text, handshakes_refused_.load());
        }
        std::array<zmq::const_buffer, 6> reply = {zmq::str_buffer("1.0"),
                                                  zmq::buffer(req.size() > 1 ? req[1].data() : nullptr,
                                                              req.size() > 1 ? req[1].size() : 0),
                                                  zmq::buffer(code), zmq::buffer(text), zmq::buffer(user),
                                                  zmq::const_buffer()};
        zmq::send_multipart(zap_, reply);
      } catch (const zmq::error_t& e) {
        if (stopping_) break;
        spdlog::error("bus: ZAP handler: {}", e.what());
      }
    }
  }

  void CommandLoop() {
    zmq::pollitem_t items[] = {{commands_.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, replies_->efd, ZMQ_POLLIN, 0}};
    while (!stopping_) {
      try {
        zmq::poll(items, 2, std::chrono::milliseconds(200));
        if (items[1].revents & ZMQ_POLLIN) {
          uint64_t n;
          (void)!read(replies_->efd, &n, sizeof n);
          std::deque<ReplyQueue::Item> ready;
          {
            std::lock_guard<std::mutex> lock(replies_->mu);
            ready.swap(replies_->items);
          }
          for (auto& r : ready) {
            commands_.send(zmq::buffer(r.identity), zmq::send_flags::sndmore);
            commands_.send(zmq::buffer(r.request_id), zmq::send_flags::sndmore);
            commands_.send(zmq::buffer(r.reply), zmq::send_flags::none);
          }
        }
        if (items[0].revents & ZMQ_POLLIN) {
          // Bounded: at most a burst per wake-up, so replies are not starved.
          for (int k = 0; k < 256; ++k) {
            std::vector<zmq::message_t> parts;
            if (!zmq::recv_multipart(commands_, std::back_inserter(parts), zmq::recv_flags::dontwait)) break;
            HandleCommand(parts);
          }
        }
      } catch (const zmq::error_t& e) {
        if (stopping_) break;
        spdlog::error("bus: command endpoint: {}", e.what());
      }
    }
  }

  void HandleCommand(std::vector<zmq::message_t>& parts) {
    if (parts.size() != 3) {
      Malformed("command: expected [request id][command]");
      if (parts.size() >= 2) {
        replies_->Push({wire::Aligned(parts[0]), wire::Aligned(parts[1]),
                        ErrorReply("expected 2 frames: [request id][CommandEnvelope], got " +
                                   std::to_string(parts.size() - 1))});
      }
      return;
    }
    auto who = PrincipalOf(options_, parts[2]);
    if (!who) {
      ++revoked_dropped_;  // its key left the ring after the handshake: no reply at all
      return;
    }
    ++commands_count_;
    std::weak_ptr<ReplyQueue> queue = replies_;
    std::string identity = wire::Aligned(parts[0]), request_id = wire::Aligned(parts[1]);
    handler_(wire::Aligned(parts[2]), std::move(*who), [queue, identity, request_id](std::string reply) {
      if (auto q = queue.lock()) q->Push({identity, request_id, std::move(reply)});
    });
  }

  // Every kHousekeeping, on the replay thread: a subscriber that left is
  // freed only once the PUB socket handles ZeroMQ's pipe-termination
  // commands, which it otherwise does only when something is published.
  // Asking for its events makes it handle them.
  static constexpr auto kHousekeeping = std::chrono::milliseconds(200);

  void Housekeep() {
    std::lock_guard<std::mutex> lock(publish_mu_);
    if (stopped_) return;
    try {
      (void)events_.get(zmq::sockopt::events);
      event_peers_.Drain();
    } catch (const zmq::error_t& e) {
      spdlog::warn("bus: event endpoint housekeeping: {}", e.what());
    }
  }

  void ReplayLoop() {
    zmq::pollitem_t items[] = {{replay_sock_.handle(), 0, ZMQ_POLLIN, 0}};
    auto next_housekeeping = std::chrono::steady_clock::now() + kHousekeeping;
    while (!stopping_) {
      try {
        zmq::poll(items, 1, kHousekeeping);
        if (std::chrono::steady_clock::now() >= next_housekeeping) {
          Housekeep();
          next_housekeeping = std::chrono::steady_clock::now() + kHousekeeping;
        }
        if (!(items[0].revents & ZMQ_POLLIN)) continue;
        for (int k = 0; k < 64; ++k) {
          std::vector<zmq::message_t> parts;
          if (!zmq::recv_multipart(replay_sock_, std::back_inserter(parts), zmq::recv_flags::dontwait)) break;
          HandleReplay(parts);
        }
      } catch (const zmq::error_t& e) {
        if (stopping_) break;
        spdlog::error("bus: replay endpoint: {}", e.what());
      }
    }
  }

  void HandleReplay(std::vector<zmq::message_t>& parts) {
    if (parts.size() != 3) {
      Malformed("replay: expected [request id][ReplayRequest]");
      if (parts.size() >= 2) SendReplay(parts[0], parts[1], Header(0, 0, 0, "expected 2 frames: [request id][ReplayRequest]"), {});
      return;
    }
    if (!PrincipalOf(options_, parts[2])) {
      ++revoked_dropped_;
      return;
    }
    ++replay_requests_;
    const std::string bytes = wire::Aligned(parts[2]);
    flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (!fb::VerifyReplayRequestBuffer(v)) {
      Malformed("replay: not a ReplayRequest");
      SendReplay(parts[0], parts[1], Header(0, 0, 0, "not a ReplayRequest"), {});
      return;
    }
    const auto* req = fb::GetReplayRequest(bytes.data());
    const uint64_t from = std::max<uint64_t>(1, req->from_seq());
    const uint32_t max = std::min(std::max<uint32_t>(1, req->max_events()), options_.replay_max_batch);
    std::vector<std::string> events;
    uint64_t last = 0;
    Status s = replay_(from, req->until_seq(), max, options_.replay_max_batch_bytes, &events, &last);
    if (!s.ok()) {
      SendReplay(parts[0], parts[1], Header(from, 0, last, s.ToString()), {});
      return;
    }
    // Whatever the source read, the batch queued for this client stays
    // within the budget (one event always goes).
    uint64_t batch_bytes = 0;
    for (size_t i = 0; i < events.size(); ++i) {
      batch_bytes += events[i].size();
      if (i > 0 && batch_bytes > options_.replay_max_batch_bytes) {
        events.resize(i);
        break;
      }
    }
    const std::string head = req->head() && options_.head_source ? options_.head_source() : "";
    SendReplay(parts[0], parts[1], Header(from, static_cast<uint32_t>(events.size()), last, "", head), events);
  }

  void SendReplay(const zmq::message_t& identity, const zmq::message_t& request_id, const std::string& header,
                  const std::vector<std::string>& events) {
    replay_sock_.send(zmq::buffer(identity.data(), identity.size()), zmq::send_flags::sndmore);
    replay_sock_.send(zmq::buffer(request_id.data(), request_id.size()), zmq::send_flags::sndmore);
    replay_sock_.send(zmq::buffer(header), events.empty() ? zmq::send_flags::none : zmq::send_flags::sndmore);
    for (size_t i = 0; i < events.size(); ++i) {
      zmq::message_t frame = replay_frames_.Frame(events[i]);
      replay_sock_.send(frame, i + 1 < events.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }

  const ServerOptions options_;
  CommandHandler handler_;
  BoundedReplaySource replay_;
  // Before ctx_: frames still queued are freed when ctx_ closes.
  FrameArena event_frames_, replay_frames_;
  zmq::context_t ctx_;
  zmq::socket_t commands_, events_, replay_sock_, zap_;
  std::string command_ep_, event_ep_, replay_ep_;
  std::shared_ptr<ReplyQueue> replies_;
  std::thread command_thread_, replay_thread_, zap_thread_;
  std::atomic<bool> stopping_{false};
  std::mutex publish_mu_;
  bool stopped_ = false;
  std::atomic<uint64_t> commands_count_{0}, malformed_{0}, replay_requests_{0}, published_{0};
  std::atomic<uint64_t> handshakes_refused_{0}, revoked_dropped_{0}, skipped_{0};
  PeerCount event_peers_;  // publish_mu_ held, but for count()
};

}  // namespace

int EventQueueMessages(const ServerOptions& o) {
  if (o.event_sndhwm > 0) return o.event_sndhwm;
  // The byte budget over the largest message sent live.
  const size_t per_message = o.event_live_max_bytes + kFramingBytes;
  return static_cast<int>(std::clamp<size_t>(o.event_queue_bytes_per_subscriber / per_message, 16, 1u << 30));
}

bool IsLoopbackEndpoint(std::string_view endpoint) {
  if (endpoint.starts_with("ipc://") || endpoint.starts_with("inproc://")) return true;
  if (!endpoint.starts_with("tcp://")) return false;
  std::string_view host = endpoint.substr(6);
  // tcp://[source;]host:port: a source address binds nothing by itself.
  if (auto semi = host.find(';'); semi != std::string_view::npos) host = host.substr(semi + 1);
  const auto colon = host.rfind(':');
  if (colon == std::string_view::npos) return false;
  host = host.substr(0, colon);
  if (host == "localhost" || host == "[::1]" || host == "::1") return true;
  if (!host.starts_with("127.")) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots == 3;
}

std::string TopicOf(std::string_view event) {
  std::string aligned(event);
  const auto* env = VerifyEnvelope(aligned);
  if (env == nullptr) return "";
  return env->stream()->str() + "#" + fb::EnumNameEvent(env->event_type());
}

Status Server::Start(const ServerOptions& options, CommandHandler handler, ReplaySource replay,
                     std::unique_ptr<Server>* server) {
  return Start(options, std::move(handler), Chunked(std::move(replay)), server);
}

Status Server::Start(const ServerOptions& options, CommandHandler handler, BoundedReplaySource replay,
                     std::unique_ptr<Server>* server) {
  auto impl = std::make_unique<ServerImpl>(options, std::move(handler), std::move(replay));
  if (Status s = impl->Bind(); !s.ok()) return s;
  *server = std::move(impl);
  return Status::OK();
}

}  // namespace noodle::bus
