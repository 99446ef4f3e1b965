#include "noodle/protocol/reply.h"

namespace noodle::engine {

std::string EncodeReply(const proj::Id& command_id, const Reply& r) {
  flatbuffers::FlatBufferBuilder fbb(256);
  const fb::Id128 cid = command_id.fb();
  flatbuffers::Offset<void> body;
  fb::ReplyBody type;
  if (r.accepted) {
    flatbuffers::Offset<flatbuffers::Vector<uint8_t>> result;
    if (!r.result.empty()) {
      // A nested buffer keeps its own alignment only if it starts on its
      // largest scalar's (8: the int64 times).
      fbb.ForceVectorAlignment(r.result.size(), 1, 8);
      result = fbb.CreateVector(reinterpret_cast<const uint8_t*>(r.result.data()), r.result.size());
    }
    std::vector<fb::Id128> ids;
    for (const auto& id : r.ids) ids.push_back(id.fb());
    const auto id_vector = fbb.CreateVectorOfStructs(ids);
    const auto seq_vector = fbb.CreateVector(r.seqs);
    const auto result_json = r.result_json.empty() ? 0 : fbb.CreateString(r.result_json);
    const auto next = r.next.empty() ? 0 : fbb.CreateString(r.next);
    body = fb::CreateAccepted(fbb, id_vector, seq_vector, result_json, next, result).Union();
    type = fb::ReplyBody::Accepted;
  } else {
    std::vector<flatbuffers::Offset<fb::ValidationError>> errors;
    for (const auto& e : r.errors) {
      errors.push_back(fb::CreateValidationErrorDirect(fbb, e.code.c_str(), e.field.c_str(), e.message.c_str(), e.kind));
    }
    body = fb::CreateRejectedDirect(fbb, r.code, r.message.c_str(), &errors).Union();
    type = fb::ReplyBody::Rejected;
  }
  fbb.Finish(fb::CreateReply(fbb, &cid, type, body));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

Status DecodeReply(std::string_view bytes, Reply* out, proj::Id* command_id) {
  // Copy into aligned memory: wire buffers carry no alignment promise. The
  // Verifier checks the nested query answer too (Accepted.result).
  std::string aligned(bytes);
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(aligned.data()), aligned.size());
  if (!v.VerifyBuffer<fb::Reply>(nullptr)) return Status::Corruption("reply does not verify as a Reply");
  const auto* reply = flatbuffers::GetRoot<fb::Reply>(aligned.data());
  *out = Reply{};
  if (command_id != nullptr) *command_id = proj::Id::From(reply->command_id());
  if (const auto* a = reply->body_as_Accepted()) {
    out->accepted = true;
    if (a->ids() != nullptr) {
      for (const auto* id : *a->ids()) out->ids.push_back(proj::Id::From(id));
    }
    if (a->seqs() != nullptr) out->seqs.assign(a->seqs()->begin(), a->seqs()->end());
    if (a->result_json() != nullptr) out->result_json = a->result_json()->str();
    if (a->next() != nullptr) out->next = a->next()->str();
    if (a->result() != nullptr) out->result.assign(reinterpret_cast<const char*>(a->result()->data()), a->result()->size());
  } else if (const auto* rj = reply->body_as_Rejected()) {
    out->code = rj->code();
    out->message = rj->message()->str();
    if (rj->errors() != nullptr) {
      for (const auto* e : *rj->errors()) {
        out->errors.push_back({e->code()->str(), e->field() ? e->field()->str() : "", e->message()->str()});
      }
    }
  } else {
    return Status::Corruption("reply has an unknown body");
  }
  return Status::OK();
}

}  // namespace noodle::engine
