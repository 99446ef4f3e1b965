#include "noodle/bus/server.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <thread>
#include <zmq_addon.hpp>

#include "noodle/envelope.h"
#include "noodle/fb/bus_generated.h"
#include "noodle/fb/commands_generated.h"
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

std::string Header(uint64_t from, uint32_t count, uint64_t last, const std::string& error) {
  flatbuffers::FlatBufferBuilder fbb(128);
  fbb.Finish(fb::CreateReplayHeaderDirect(fbb, from, count, last, error.empty() ? nullptr : error.c_str()));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
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
  ServerImpl(ServerOptions o, CommandHandler h, ReplaySource r)
      : options_(std::move(o)), handler_(std::move(h)), replay_(std::move(r)), ctx_(1),
        replies_(std::make_shared<ReplyQueue>()) {}
  ~ServerImpl() override { Stop(); }

  Status Bind() {
    try {
      commands_ = zmq::socket_t(ctx_, zmq::socket_type::router);
      events_ = zmq::socket_t(ctx_, zmq::socket_type::pub);
      replay_sock_ = zmq::socket_t(ctx_, zmq::socket_type::router);
      for (zmq::socket_t* s : {&commands_, &events_, &replay_sock_}) s->set(zmq::sockopt::linger, 0);
      commands_.set(zmq::sockopt::maxmsgsize, options_.max_message_bytes);
      replay_sock_.set(zmq::sockopt::maxmsgsize, options_.max_message_bytes);
      events_.set(zmq::sockopt::sndhwm, options_.event_sndhwm);
      if (options_.event_sndbuf > 0) events_.set(zmq::sockopt::sndbuf, options_.event_sndbuf);
      // A ROUTER drops (silently) what it cannot queue to a peer, so the
      // reply queues have no high-water mark: they hold at most one reply
      // per request a client has in flight.
      commands_.set(zmq::sockopt::sndhwm, 0);
      replay_sock_.set(zmq::sockopt::sndhwm, 0);
      commands_.bind(options_.command_endpoint);
      events_.bind(options_.event_endpoint);
      replay_sock_.bind(options_.replay_endpoint);
      command_ep_ = commands_.get(zmq::sockopt::last_endpoint);
      event_ep_ = events_.get(zmq::sockopt::last_endpoint);
      replay_ep_ = replay_sock_.get(zmq::sockopt::last_endpoint);
    } catch (const zmq::error_t& e) {
      return wire::FromZmq(e, "bind bus endpoints");
    }
    command_thread_ = std::thread([this] { CommandLoop(); });
    replay_thread_ = std::thread([this] { ReplayLoop(); });
    return Status::OK();
  }

  void Publish(const std::vector<std::string>& events) override {
    std::lock_guard<std::mutex> lock(publish_mu_);
    if (stopped_) return;
    try {
      for (const auto& e : events) {
        // Published events come from the log, verified, in std::string
        // (aligned) buffers: the topic is read without a second Verifier pass.
        const auto* env = fb::GetEventEnvelope(e.data());
        std::string topic = env->stream()->str();
        topic += '#';
        topic += fb::EnumNameEvent(env->event_type());
        events_.send(zmq::buffer(topic), zmq::send_flags::sndmore);
        events_.send(zmq::buffer(e), zmq::send_flags::none);
        ++published_;
      }
    } catch (const zmq::error_t& e) {
      spdlog::error("bus: publish failed: {}", e.what());
    }
  }

  const std::string& command_endpoint() const override { return command_ep_; }
  const std::string& event_endpoint() const override { return event_ep_; }
  const std::string& replay_endpoint() const override { return replay_ep_; }
  ServerCounters counters() const override {
    return {commands_count_.load(), malformed_.load(), replay_requests_.load(), published_.load()};
  }

  void Stop() override {
    if (stopping_.exchange(true)) return;
    const uint64_t one = 1;
    (void)!write(replies_->efd, &one, sizeof one);
    if (command_thread_.joinable()) command_thread_.join();
    if (replay_thread_.joinable()) replay_thread_.join();
    std::lock_guard<std::mutex> lock(publish_mu_);
    stopped_ = true;
    commands_.close();
    events_.close();
    replay_sock_.close();
    ctx_.close();
  }

 private:
  void Malformed(const char* why) {
    if (malformed_++ % 1000 == 0) spdlog::warn("bus: malformed frame ({}); {} so far", why, malformed_.load());
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
    ++commands_count_;
    std::weak_ptr<ReplyQueue> queue = replies_;
    std::string identity = wire::Aligned(parts[0]), request_id = wire::Aligned(parts[1]);
    handler_(wire::Aligned(parts[2]), [queue, identity, request_id](std::string reply) {
      if (auto q = queue.lock()) q->Push({identity, request_id, std::move(reply)});
    });
  }

  void ReplayLoop() {
    zmq::pollitem_t items[] = {{replay_sock_.handle(), 0, ZMQ_POLLIN, 0}};
    while (!stopping_) {
      try {
        zmq::poll(items, 1, std::chrono::milliseconds(200));
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
    Status s = replay_(from, req->until_seq(), max, &events, &last);
    if (!s.ok()) {
      SendReplay(parts[0], parts[1], Header(from, 0, last, s.ToString()), {});
      return;
    }
    SendReplay(parts[0], parts[1], Header(from, static_cast<uint32_t>(events.size()), last, ""), events);
  }

  void SendReplay(const zmq::message_t& identity, const zmq::message_t& request_id, const std::string& header,
                  const std::vector<std::string>& events) {
    replay_sock_.send(zmq::buffer(identity.data(), identity.size()), zmq::send_flags::sndmore);
    replay_sock_.send(zmq::buffer(request_id.data(), request_id.size()), zmq::send_flags::sndmore);
    replay_sock_.send(zmq::buffer(header), events.empty() ? zmq::send_flags::none : zmq::send_flags::sndmore);
    for (size_t i = 0; i < events.size(); ++i) {
      replay_sock_.send(zmq::buffer(events[i]), i + 1 < events.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }

  const ServerOptions options_;
  CommandHandler handler_;
  ReplaySource replay_;
  zmq::context_t ctx_;
  zmq::socket_t commands_, events_, replay_sock_;
  std::string command_ep_, event_ep_, replay_ep_;
  std::shared_ptr<ReplyQueue> replies_;
  std::thread command_thread_, replay_thread_;
  std::atomic<bool> stopping_{false};
  std::mutex publish_mu_;
  bool stopped_ = false;
  std::atomic<uint64_t> commands_count_{0}, malformed_{0}, replay_requests_{0}, published_{0};
};

}  // namespace

std::string TopicOf(std::string_view event) {
  std::string aligned(event);
  const auto* env = VerifyEnvelope(aligned);
  if (env == nullptr) return "";
  return env->stream()->str() + "#" + fb::EnumNameEvent(env->event_type());
}

Status Server::Start(const ServerOptions& options, CommandHandler handler, ReplaySource replay,
                     std::unique_ptr<Server>* server) {
  auto impl = std::make_unique<ServerImpl>(options, std::move(handler), std::move(replay));
  if (Status s = impl->Bind(); !s.ok()) return s;
  *server = std::move(impl);
  return Status::OK();
}

}  // namespace noodle::bus
