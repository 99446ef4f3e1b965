// FrameArena: memory for event frames handed to ZeroMQ, apart from malloc.
// Internal to bus/.
#pragma once

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <string_view>
#include <zmq.hpp>

namespace noodle::bus {

// Memory for the event frames handed to ZeroMQ (queued for subscribers and
// replay clients), apart from malloc's arenas, so that a freed queue goes
// back to the OS: malloc keeps every page where a long-lived allocation (the
// engine's, made meanwhile on the same thread) sits among the freed frames.
// Frames are carved in order from 1 MiB mappings; a mapping is unmapped as
// soon as the last frame in it is freed, by whichever thread frees it.
// Subscribers' queues take and release frames in publish order (the events
// have an arena of their own), so what a stalled subscriber pins is its
// queue plus at most two mappings. Frames from kOwnMappingBytes up get a
// mapping of their own. Counts the bytes held.
class FrameArena {
 public:
  ~FrameArena() {
    if (current_ != nullptr) Release(current_);
  }

  // A message holding a copy of bytes; ZeroMQ frees it through Free.
  // Falls back to ZeroMQ's own (uncounted) copy when no memory is mapped.
  zmq::message_t Frame(std::string_view bytes) {
    const size_t need = (kHeader + bytes.size() + 15) & ~size_t{15};
    Chunk* chunk = nullptr;
    char* base = nullptr;
    if (bytes.size() >= kOwnMappingBytes) {
      void* p = mmap(nullptr, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p != MAP_FAILED) base = static_cast<char*>(p);
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      if (current_ == nullptr || current_->used + need > kChunkBytes) {
        if (current_ != nullptr) Release(current_);
        current_ = NewChunk();
      }
      if (current_ != nullptr) {
        chunk = current_;
        base = reinterpret_cast<char*>(chunk) + chunk->used;
        chunk->used += need;
        chunk->refs.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (base == nullptr) return zmq::message_t(bytes.data(), bytes.size());
    Header h{bytes.size(), chunk, need};
    std::memcpy(base, &h, sizeof h);
    std::memcpy(base + kHeader, bytes.data(), bytes.size());
    const uint64_t held = now_.fetch_add(bytes.size()) + bytes.size();
    for (uint64_t p = peak_.load(); held > p && !peak_.compare_exchange_weak(p, held);) {
    }
    return zmq::message_t(base + kHeader, bytes.size(), &FrameArena::Free, this);
  }

  uint64_t held() const { return now_.load(); }
  uint64_t peak() const { return peak_.load(); }

 private:
  static constexpr size_t kChunkBytes = 1u << 20;
  static constexpr size_t kOwnMappingBytes = 64u << 10;
  struct Chunk {
    std::atomic<uint64_t> refs{1};  // one per live frame, and the arena's while it carves from it
    size_t used = 0;                // bytes from the mapping's start, header included
  };
  static constexpr size_t kChunkHeader = (sizeof(Chunk) + 63) & ~size_t{63};
  struct Header {
    uint64_t size;   // the frame's bytes
    Chunk* chunk;    // nullptr: a mapping of its own, of `mapped` bytes
    uint64_t mapped;
  };
  static constexpr size_t kHeader = (sizeof(Header) + 15) & ~size_t{15};  // keeps frames 16-byte aligned

  static Chunk* NewChunk() {
    void* p = mmap(nullptr, kChunkBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    auto* c = new (p) Chunk;
    c->used = kChunkHeader;
    return c;
  }
  static void Release(Chunk* c) {
    if (c->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      c->~Chunk();
      munmap(c, kChunkBytes);
    }
  }
  // Called by ZeroMQ (an I/O thread, or the socket's own) when the last
  // queue holding the frame lets go of it.
  static void Free(void* data, void* hint) {
    Header h;
    char* base = static_cast<char*>(data) - kHeader;
    std::memcpy(&h, base, sizeof h);
    static_cast<FrameArena*>(hint)->now_.fetch_sub(h.size);
    if (h.chunk != nullptr) {
      Release(h.chunk);
    } else {
      munmap(base, h.mapped);
    }
  }

  std::mutex mu_;
  Chunk* current_ = nullptr;
  std::atomic<uint64_t> now_{0}, peak_{0};
};

}  // namespace noodle::bus
