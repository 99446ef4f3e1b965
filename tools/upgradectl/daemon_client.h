// How upgradectl's daemon commands talk to upgraded: send a command, read
// the reply, follow the pages of a listing, print replies as JSON.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon_commands.h"
#include "exit_codes.h"
#include "noodle/protocol/commands.h"
#include "noodle/protocol/query_result.h"
#include "noodle/protocol/reply.h"
#include "print.h"

namespace noodle::tools {

// The command's metadata: now, and the actor (--actor, else $USER).
engine::cmd::Meta MetaOf(const DaemonFlags& f);

// Checks that something accepts connections at endpoint within a second
// (less with a shorter --timeout): 0 when it does, else prints the failure
// with a hint ("is upgraded running at ...?") and returns kExitUnreachable
// (or kExitUsage for a malformed endpoint).
int Reach(const DaemonFlags& f, const std::string& endpoint);

// Sends a command; 0 when accepted, else the exit code (after printing why).
int Send(const DaemonFlags& f, const std::string& command, engine::Reply* reply);

// Sends a query and checks its answer is a T: 0 and *answer (pointing into
// *reply) when it is, else the exit code (a reply that is no T is corrupt).
template <typename T>
int Query(const DaemonFlags& f, const std::string& command, engine::Reply* reply, const T** answer) {
  if (int rc = Send(f, command, reply); rc != kExitOk) return rc;
  auto a = engine::AnswerOf<T>(*reply);
  if (!a.ok()) return Fail(Status::Corruption(a.status().message()), "reply");
  *answer = a.value();
  return kExitOk;
}

// Sends a paged query (page(after) builds it) page after page until the
// reply's next is empty; every page must answer with `kind`. 0 when every
// page was accepted.
int FetchPages(const DaemonFlags& f, const std::function<std::string(const std::string&)>& page,
               fb::QueryAnswer kind, std::vector<engine::Reply>* pages);

// The answers of pages fetched by FetchPages for T.
template <typename T>
std::vector<const T*> Answers(const std::vector<engine::Reply>& pages) {
  std::vector<const T*> out;
  for (const auto& p : pages) out.push_back(engine::AnswerOf<T>(p).value());
  return out;
}

// A query's answer as JSON (the answer table, converted by the schema).
nlohmann::json AnswerJson(const engine::Reply& r);
// The pages' answers as one: lists appended, the rest the last page's.
nlohmann::json PagesJson(const std::vector<engine::Reply>& pages);
// The whole reply: accepted with ids, seqs and result, or the rejection.
nlohmann::json ReplyJson(const engine::Reply& r);

// For commands whose answer is just "accepted": prints what (and the ids,
// seqs) or, with --json, the reply; the reply in *reply when given.
int Simple(const DaemonFlags& f, const std::string& command, const std::string& what, engine::Reply* reply = nullptr);

Result<proj::Id> ParseId(const std::string& text);

// The log's last seq, from a replay header (the replay endpoint's answer to
// a one-event request).
Result<uint64_t> LastSeq(const DaemonFlags& f);

}  // namespace noodle::tools
