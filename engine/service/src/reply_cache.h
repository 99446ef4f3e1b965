// Replies of recent commands by command id, so that a retry gets the
// original reply and nothing is decided twice. Writer thread only. Internal.
#pragma once

#include <deque>
#include <map>

#include "noodle/projections/component.h"
#include "noodle/protocol/reply.h"

namespace noodle::engine {

class ReplyCache {
 public:
  // Each kept reply costs its size plus ~100 bytes; the oldest go first.
  explicit ReplyCache(size_t capacity) : capacity_(capacity) {}

  void Remember(const proj::Id& id, const Reply& reply) {
    if (capacity_ == 0 || !replies_.emplace(id, reply).second) return;
    order_.push_back(id);
    if (order_.size() > capacity_) {
      replies_.erase(order_.front());
      order_.pop_front();
    }
  }
  // Null when id is not (or no longer) kept.
  const Reply* Recall(const proj::Id& id) const {
    auto it = replies_.find(id);
    return it == replies_.end() ? nullptr : &it->second;
  }

 private:
  const size_t capacity_;
  std::map<proj::Id, Reply> replies_;
  std::deque<proj::Id> order_;  // oldest first
};

}  // namespace noodle::engine
