// A command's reply, and its wire form (the FlatBuffers Reply of commands.fbs).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "noodle/engine/decider.h"
#include "noodle/fb/commands_generated.h"
#include "noodle/projections/component.h"
#include "noodle/status.h"

namespace noodle::engine {

struct Reply {
  bool accepted = false;
  fb::RejectCode code = fb::RejectCode::Invalid;
  std::string message;
  std::vector<Issue> errors;
  std::vector<proj::Id> ids;
  std::vector<uint64_t> seqs;  // the command's events, durable
  std::string result_json;     // dry runs: the validation result and the plan
  // Paged queries: where the next page starts (the query's `after`, or
  // QueryEvents' from_version in decimal); empty: this was the last page.
  std::string next;
  // Queries: the answer, a QueryResult buffer (schemas/queries.fbs); read
  // it with QueryResultOf / AnswerOf, as JSON with ResultJson (query_result.h).
  std::string result;
};

// The Reply buffer (no file identifier; root table Reply) for command_id.
std::string EncodeReply(const proj::Id& command_id, const Reply& reply);

// Decodes a Reply buffer after verifying it, the query answer it carries
// included. Corruption when it does not verify.
Status DecodeReply(std::string_view bytes, Reply* reply, proj::Id* command_id = nullptr);

}  // namespace noodle::engine
