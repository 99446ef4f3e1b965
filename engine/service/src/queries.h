// What the writer thread answers without deciding anything: queries, and
// the target of a rollback resolved against the durable log. Internal.
#pragma once

#include <string>

#include "noodle/engine/decider.h"
#include "noodle/protocol/reply.h"
#include "noodle/projections/statistics.h"
#include "noodle/store/event_log.h"

namespace noodle::engine {

inline Reply Rejected(fb::RejectCode code, std::string message) {
  Reply r;
  r.code = code;
  r.message = std::move(message);
  return r;
}

// The answer to a Query* command over the current state and the log: a
// typed QueryResult (schemas/queries.fbs) in Reply::result. Its encoded
// reply (EncodeReply) is at most max_reply_bytes (at least 4 KiB). Listings
// are built a page at a time, entry by entry, and stop before the budget;
// Reply::next says where the next page starts (commands.fbs). One entry that
// alone exceeds the budget is refused Unavailable. Reads its arguments only:
// callers may run it on several threads at once.
Reply AnswerQuery(const fb::CommandEnvelope& cmd, const State& state, const proj::Statistics& stats,
                  const store::EventLog& log, size_t max_reply_bytes);

// Fills target (seq, point, the registry then) for a RollBack; false with
// the rejection in error when it names nothing that exists.
bool ResolveRollback(const store::EventLog& log, const State& state, const fb::RollBack& rb, RollbackTarget* target,
                     Reply* error);

}  // namespace noodle::engine
