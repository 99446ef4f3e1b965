// Commands on their way to the engine's writer thread. Executors' callbacks
// hold the inbox too, so a late step result after Stop finds a closed inbox,
// not a dead engine. Internal.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>

#include "noodle/engine/decider.h"
#include "noodle/principal.h"
#include "noodle/protocol/reply.h"
#include "queries.h"

namespace noodle::engine {

// One command and where its reply goes.
struct InboxItem {
  std::string bytes;
  Principal who;
  std::promise<Reply> reply;
  std::function<void(Reply)> done;  // set: answer through it instead of the promise
  // A RollBack planned by the query side against the newest durable state.
  std::optional<RollbackTarget> rollback;

  void Answer(Reply r) {
    if (done) done(std::move(r));
    else reply.set_value(std::move(r));
  }
};

struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<InboxItem> items;
  bool closed = false;
  bool stopping = false;  // a graceful stop: only the engine's own items get in
  bool in_round = false;  // the writer is deciding or recording a round
  size_t steps_out = 0;   // steps handed to the executor whose results are not in yet
  std::condition_variable settled;  // a round ended or a step's results came in

  // Nothing waits, the writer is between rounds and no step is out. mu held.
  bool Settled() const { return items.empty() && !in_round && steps_out == 0; }

  // Queues item, or answers it Unavailable once the inbox is closed (or
  // stopping, for anything but the engine's own items).
  void Push(InboxItem item) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!closed && (!stopping || item.who.engine)) {
        items.push_back(std::move(item));
        cv.notify_one();
        return;
      }
    }
    item.Answer(Rejected(fb::RejectCode::Unavailable, closed ? "engine stopped" : "engine stopping"));
  }
};

}  // namespace noodle::engine
