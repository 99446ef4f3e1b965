// Emitter: builds a decision's events and folds each into a scratch status as
// it goes, so the rest of the decision sees their effect. Internal to engine/.
#pragma once

#include <utility>

#include "noodle/engine/decider.h"
#include "noodle/envelope.h"

namespace noodle::engine {

class Emitter {
 public:
  Emitter(const Context& ctx, Decision* decision) : ctx_(ctx), decision_(decision) {}

  // Appends an event of `type` to stream; build(fbb) returns the payload's
  // offset (as Offset<void>, e.g. CreateX(...).Union()).
  template <typename Build>
  void Emit(const std::string& stream, const proj::Id& correlation, fb::Event type, Build&& build) {
    flatbuffers::FlatBufferBuilder fbb(256);
    const flatbuffers::Offset<void> payload = std::forward<Build>(build)(fbb);
    EventMeta meta;
    const uint64_t k = index_++;
    meta.event_id = fb::Id128(ctx_.command_id.hi ^ (k * 0x9E3779B97F4A7C15ull), ctx_.command_id.lo);
    meta.stream = stream;
    meta.time_ns = ctx_.now_ns;
    meta.actor = ctx_.actor;
    meta.correlation_id = (correlation.zero() ? ctx_.correlation_id : correlation).fb();
    meta.causation_id = ctx_.command_id.fb();
    std::string bytes = FinishEvent(fbb, meta, type, payload);
    proj::Evolve(scratch, *fb::GetEventEnvelope(bytes.data()));
    auto& appends = decision_->appends;
    if (appends.empty() || appends.back().stream != stream) appends.push_back({stream, false, {}});
    appends.back().events.push_back(std::move(bytes));
  }

  // Copies the upgrade into the scratch status (if it is not there yet).
  proj::Upgrade* Track(const proj::Upgrade& u) {
    auto [it, inserted] = scratch.upgrades.try_emplace(u.id, u);
    return &it->second;
  }
  // The scratch copy; nullptr once the upgrade has ended.
  proj::Upgrade* upgrade(const proj::Id& id) {
    auto it = scratch.upgrades.find(id);
    return it == scratch.upgrades.end() ? nullptr : &it->second;
  }

  const Context& ctx() const { return ctx_; }
  Decision& decision() { return *decision_; }

  // Events emitted so far fold into this (only the upgrades copied in by Track).
  proj::Status scratch;

 private:
  const Context& ctx_;
  Decision* decision_;
  uint64_t index_ = 0;
};

inline flatbuffers::Offset<flatbuffers::String> Str(flatbuffers::FlatBufferBuilder& fbb, const std::string& s) {
  return fbb.CreateString(s);
}

}  // namespace noodle::engine
