// How many peers a listening socket has, from ZeroMQ's socket monitor
// (accepted and disconnected connections): a PUB socket cannot say how many
// subscribers it has, its monitor can. A peer that fails the CURVE handshake
// is counted until ZeroMQ drops it. Watch and Drain are not thread-safe (the
// server calls them under its publish lock); count() is. Internal.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <zmq.hpp>

namespace noodle::bus {

class PeerCount {
 public:
  // Watches s from now on; the socket watched before (closed or replaced)
  // is forgotten with its peers. name: unique within ctx.
  void Watch(zmq::context_t& ctx, zmq::socket_t& s, const std::string& name) {
    Close();
    const std::string address = "inproc://noodle.monitor." + name + "." + std::to_string(++generation_);
    if (zmq_socket_monitor(s.handle(), address.c_str(), ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0) return;
    monitor_ = zmq::socket_t(ctx, zmq::socket_type::pair);
    monitor_.set(zmq::sockopt::linger, 0);
    monitor_.connect(address);
  }

  // Takes in the monitor's events so far, without waiting.
  void Drain() {
    if (!monitor_) return;
    zmq::message_t event, address;
    while (monitor_.recv(event, zmq::recv_flags::dontwait)) {
      if (event.more()) (void)monitor_.recv(address, zmq::recv_flags::dontwait);
      if (event.size() < 6) continue;
      uint16_t what = 0;
      int32_t fd = 0;
      std::memcpy(&what, event.data(), 2);
      std::memcpy(&fd, static_cast<const char*>(event.data()) + 2, 4);
      if (what == ZMQ_EVENT_ACCEPTED) peers_.insert(fd);
      if (what == ZMQ_EVENT_DISCONNECTED) peers_.erase(fd);
    }
    count_.store(peers_.size(), std::memory_order_relaxed);
  }

  // Before the context closes.
  void Close() {
    if (monitor_) monitor_.close();
    peers_.clear();
    count_.store(0, std::memory_order_relaxed);
  }

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  zmq::socket_t monitor_;
  std::set<int32_t> peers_;  // by file descriptor: what the monitor's events name
  uint64_t generation_ = 0;
  std::atomic<uint64_t> count_{0};
};

}  // namespace noodle::bus
