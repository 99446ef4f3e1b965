// Typed query answers (schemas/queries.fbs): what a query Reply carries in
// Reply::result, how the engine builds it from the projections, how clients
// read it, and its JSON form, converted by the schema as flatc does.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "noodle/fb/queries_generated.h"
#include "noodle/projections/registry.h"
#include "noodle/projections/statistics.h"
#include "noodle/projections/status.h"
#include "noodle/protocol/reply.h"

namespace noodle {
// The binary schema (.bfbs) of queries.fbs, root QueryResult (built into noodle_schemas).
std::string_view QueriesSchemaBinary();
}  // namespace noodle

namespace noodle::engine {

// ---- reading (clients) -------------------------------------------------

// The answer a query reply carries, verified: InvalidArgument when the
// reply carries none (a command that is not a query, a rejection),
// Corruption when its bytes do not verify as a QueryResult.
Result<const fb::QueryResult*> QueryResultOf(const Reply& r);

// The answer as T (fb::RegistryResult, fb::UpgradeInfo, ...): as
// QueryResultOf, and InvalidArgument when it is another kind of answer.
template <typename T>
Result<const T*> AnswerOf(const Reply& r) {
  auto q = QueryResultOf(r);
  if (!q.ok()) return q.status();
  const T* answer = q.value()->template answer_as<T>();
  if (answer == nullptr) {
    return Status::InvalidArgument(std::string("the reply answers with ") +
                                   fb::EnumNameQueryAnswer(q.value()->answer_type()) + ", not " +
                                   fb::EnumNameQueryAnswer(fb::QueryAnswerTraits<T>::enum_value));
  }
  return answer;
}

// The reply's answer as JSON, written from the typed result by the embedded
// schema as `flatc --json --strict-json --defaults-json` writes it (every
// scalar present, enums by name, ids as {"hi","lo"}); for a dry run, its
// result_json. "" when there is neither, or the result does not verify.
std::string ResultJson(const Reply& r);

// The inverse: a QueryResult buffer from that JSON (checked against the
// schema: unknown fields, wrong types are InvalidArgument).
Result<std::string> ResultFromJson(std::string_view json);

// ---- building (the engine) ---------------------------------------------

namespace query {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

fb::Phase PhaseOf(proj::Phase p);
fb::StepState StepStateOf(proj::StepState s);
// The statistics' outcome names (proj::Tally::outcomes); nullopt for any other.
std::optional<fb::Outcome> OutcomeOf(std::string_view name);

Offset<fb::UpgradeInfo> BuildUpgrade(FlatBufferBuilder& fbb, const proj::Upgrade& u);
Offset<fb::UpgradeInfo> BuildUpgrade(FlatBufferBuilder& fbb, const proj::UpgradeSummary& u);
Offset<fb::RollbackInfo> BuildRollback(FlatBufferBuilder& fbb, const proj::Id& id, const proj::RollbackOp& op);
Offset<fb::PointInfo> BuildPoint(FlatBufferBuilder& fbb, const std::string& name, uint64_t seq);
Offset<fb::AgentInfo> BuildAgent(FlatBufferBuilder& fbb, const std::string& name,
                                 const std::vector<std::string>& instances);
Offset<fb::ComponentInfo> BuildComponent(FlatBufferBuilder& fbb, const proj::RegistryEntry& entry);
Offset<flatbuffers::Vector<Offset<fb::OutcomeCount>>> BuildOutcomes(FlatBufferBuilder& fbb, const proj::Tally& t);
Offset<fb::Durations> BuildDurations(FlatBufferBuilder& fbb, const proj::Tally& t);
Offset<fb::ComponentStatistics> BuildComponentStatistics(FlatBufferBuilder& fbb, const std::string& name,
                                                         const proj::Tally& t);

// Finishes fbb with a QueryResult holding answer; the buffer's bytes.
template <typename T>
std::string FinishResult(FlatBufferBuilder& fbb, Offset<T> answer) {
  fbb.Finish(fb::CreateQueryResult(fbb, fb::QueryAnswerTraits<T>::enum_value, answer.Union()));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

}  // namespace query

}  // namespace noodle::engine
