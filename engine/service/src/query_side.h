// The query side: threads that answer queries and plan rollbacks from the
// newest published version (ReadSide::Latest) and the log, so reads never
// wait for the writer thread or an fsync. What needs the writer goes to it:
// a query its principal may not send (the refusal is recorded as an event)
// and a RollBack, once planned. Internal.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "inbox.h"
#include "read_side.h"
#include "noodle/store/event_log.h"

namespace noodle::engine {

class QuerySide {
 public:
  // to_writer: queues an item for the writer thread (Inbox::Push).
  QuerySide(const ReadSide* read, const store::EventLog* log, size_t max_reply_bytes, size_t threads,
            std::function<void(InboxItem)> to_writer);
  // Answers what is queued (from the newest version), then stops.
  ~QuerySide();
  QuerySide(const QuerySide&) = delete;
  QuerySide& operator=(const QuerySide&) = delete;

  // A query or a RollBack (already verified as a CommandEnvelope), queued
  // for the query threads. Thread-safe.
  void Push(InboxItem item);
  // The same, answered on the caller's thread before it returns (for
  // queries that read only the newest version). Thread-safe.
  void AnswerNow(InboxItem& item);
  // From now on items are answered Unavailable ("engine stopped").
  void Close();

 private:
  void Loop();
  void Serve(InboxItem& item);

  const ReadSide* const read_;
  const store::EventLog* const log_;
  const size_t max_reply_bytes_;
  const std::function<void(InboxItem)> to_writer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<InboxItem> items_;
  bool closed_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace noodle::engine
