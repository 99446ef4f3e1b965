#include "event_json.h"

#include <flatbuffers/idl.h>
#include <flatbuffers/reflection.h>

#include <algorithm>

#include "noodle/engine/semver.h"
#include "noodle/store/event_log.h"

namespace noodle::tools {
namespace {

using nlohmann::json;
constexpr const char* kNamespace = "noodle.fb.";

// Ids and hashes are hex on the outside; the schema's structs inside.
json IdToJson(const fb::Id128* id) { return id == nullptr ? json() : json(IdToHex(*id)); }

// Rewrites hex-string ids in `in` into the struct form the parser reads,
// following the schema (tables, vectors of tables).
Status NormalizeIds(json& in, const flatbuffers::StructDef& def, const std::string& path) {
  if (!in.is_object()) return Status::OK();
  for (const auto* field : def.fields.vec) {
    auto it = in.find(field->name);
    if (it == in.end()) continue;
    const auto& type = field->value.type;
    const std::string at = path + "." + field->name;
    if (type.base_type == flatbuffers::BASE_TYPE_STRUCT && type.struct_def->fixed &&
        type.struct_def->name == "Id128" && it->is_string()) {
      auto id = IdFromHex(it->get<std::string>());
      if (!id) return Status::InvalidArgument(at + ": id must be 32 hex digits");
      *it = json{{"hi", id->hi()}, {"lo", id->lo()}};
    } else if (type.base_type == flatbuffers::BASE_TYPE_STRUCT && !type.struct_def->fixed) {
      if (Status s = NormalizeIds(*it, *type.struct_def, at); !s.ok()) return s;
    } else if (type.base_type == flatbuffers::BASE_TYPE_VECTOR && type.element == flatbuffers::BASE_TYPE_STRUCT &&
               !type.struct_def->fixed && it->is_array()) {
      for (auto& el : *it) {
        if (Status s = NormalizeIds(el, *type.struct_def, at + "[]"); !s.ok()) return s;
      }
    }
  }
  return Status::OK();
}

// Hash and id structs render as {"hi","lo"} / {"bytes":[...]}: show hex.
void HexifyStructs(json& j) {
  if (j.is_object()) {
    if (j.size() == 2 && j.contains("hi") && j.contains("lo") && j["hi"].is_number() && j["lo"].is_number()) {
      j = IdToHex(fb::Id128(j["hi"].get<uint64_t>(), j["lo"].get<uint64_t>()));
      return;
    }
    for (auto& [key, value] : j.items()) HexifyStructs(value);
  } else if (j.is_array()) {
    for (auto& el : j) HexifyStructs(el);
  }
}

std::optional<fb::Event> EventTypeByName(std::string_view name) {
  const char* const* names = fb::EnumNamesEvent();
  for (int i = 1; names[i] != nullptr; ++i) {
    if (name == names[i]) return static_cast<fb::Event>(i);
  }
  return std::nullopt;
}

Result<fb::Id128> OptionalId(const json& in, const char* key) {
  if (!in.contains(key) || in[key].is_null()) return fb::Id128();
  if (!in[key].is_string()) return Status::InvalidArgument(std::string(key) + ": expected 32 hex digits");
  auto id = IdFromHex(in[key].get<std::string>());
  if (!id) return Status::InvalidArgument(std::string(key) + ": expected 32 hex digits");
  return *id;
}

// The envelope's own fields: stream and type present, nothing unknown.
Status CheckEnvelopeKeys(const json& in) {
  if (!in.is_object()) return Status::InvalidArgument("an event must be a JSON object");
  for (const char* key : {"stream", "type"}) {
    if (!in.contains(key) || !in[key].is_string() || in[key].get<std::string>().empty()) {
      return Status::InvalidArgument(std::string("missing field '") + key + "' (a non-empty string)");
    }
  }
  static const char* const kKnown[] = {"stream", "type", "data", "actor", "event_id", "correlation_id",
                                       "causation_id", "time_ns", "expected_version"};
  for (const auto& item : in.items()) {
    const std::string& key = item.key();
    if (std::find_if(std::begin(kKnown), std::end(kKnown), [&key](const char* k) { return key == k; }) ==
        std::end(kKnown)) {
      return Status::InvalidArgument("unknown field '" + key + "'");
    }
  }
  return Status::OK();
}

Status ReadExpectedVersion(const json& in, DraftEvent* draft) {
  draft->expected_version = store::kAnyVersion;
  if (!in.contains("expected_version")) return Status::OK();
  const auto& ev = in["expected_version"];
  draft->has_expected_version = true;
  if (ev.is_number_unsigned()) draft->expected_version = ev.get<uint64_t>();
  else if (ev == "any") draft->expected_version = store::kAnyVersion;
  else if (ev == "none") draft->expected_version = store::kNoStream;
  else return Status::InvalidArgument("expected_version: a version number, \"any\" or \"none\"");
  return Status::OK();
}

// Ids, time and actor (held in *actor: meta only points at it); a fresh
// event id when the input names none.
Status ReadMeta(const json& in, int64_t now_ns, std::string_view default_actor, EventMeta* meta, std::string* actor) {
  auto event_id = OptionalId(in, "event_id");
  auto correlation = OptionalId(in, "correlation_id");
  auto causation = OptionalId(in, "causation_id");
  for (const auto* r : {&event_id, &correlation, &causation}) {
    if (!r->ok()) return r->status();
  }
  meta->event_id = IsZero(event_id.value()) ? NewId() : event_id.value();
  meta->correlation_id = correlation.value();
  meta->causation_id = causation.value();
  if (in.contains("time_ns") && !in["time_ns"].is_number_integer()) {
    return Status::InvalidArgument("time_ns: expected an integer");
  }
  if (in.contains("actor") && !in["actor"].is_string()) return Status::InvalidArgument("actor: expected a string");
  meta->time_ns = in.value("time_ns", now_ns);
  *actor = in.value("actor", std::string(default_actor));
  meta->actor = *actor;
  return Status::OK();
}

}  // namespace

EventJson::EventJson() : parser_(std::make_unique<flatbuffers::Parser>()) {
  const auto bfbs = EventsSchemaBinary();
  if (!parser_->Deserialize(reinterpret_cast<const uint8_t*>(bfbs.data()), bfbs.size())) {
    status_ = Status::Corruption("embedded event schema does not load");
  }
  parser_->opts.strict_json = true;
  parser_->opts.indent_step = -1;
}

EventJson::~EventJson() = default;

Status EventJson::CheckVersions(const flatbuffers::StructDef& def, const void* table_ptr,
                                const std::string& path) const {
  const auto* table = static_cast<const flatbuffers::Table*>(table_ptr);
  for (const auto* field : def.fields.vec) {
    const auto& type = field->value.type;
    const std::string at = path.empty() ? field->name : path + "." + field->name;
    if (type.base_type == flatbuffers::BASE_TYPE_STRING) {
      const auto* str = table->GetPointer<const flatbuffers::String*>(field->value.offset);
      if (str == nullptr) continue;
      if (field->attributes.Lookup("semver") != nullptr) {
        if (auto v = semver::Parse(str->string_view()); !v.ok()) {
          return Status::InvalidArgument(at + ": " + v.status().message());
        }
      }
      if (field->attributes.Lookup("semver_range") != nullptr) {
        if (auto r = semver::Range::Parse(str->string_view()); !r.ok()) {
          return Status::InvalidArgument(at + ": " + r.status().message());
        }
      }
    } else if (type.base_type == flatbuffers::BASE_TYPE_STRUCT && !type.struct_def->fixed) {
      const auto* sub = table->GetPointer<const flatbuffers::Table*>(field->value.offset);
      if (sub == nullptr) continue;
      if (Status s = CheckVersions(*type.struct_def, sub, at); !s.ok()) return s;
    } else if (type.base_type == flatbuffers::BASE_TYPE_VECTOR && type.element == flatbuffers::BASE_TYPE_STRUCT &&
               !type.struct_def->fixed) {
      const auto* vec = table->GetPointer<const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>*>(
          field->value.offset);
      if (vec == nullptr) continue;
      for (flatbuffers::uoffset_t i = 0; i < vec->size(); ++i) {
        if (Status s = CheckVersions(*type.struct_def, vec->Get(i), at + "[" + std::to_string(i) + "]"); !s.ok()) {
          return s;
        }
      }
    }
  }
  return Status::OK();
}

Result<DraftEvent> EventJson::FromJson(const json& in, int64_t now_ns, std::string_view default_actor) const {
  // nlohmann throws on type mismatches; input is checked field by field
  // below, and anything missed still becomes an error, never a crash.
  try {
    return FromJsonUnchecked(in, now_ns, default_actor);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("malformed event: ") + e.what());
  }
}

Status EventJson::ParsePayload(const json& in, const flatbuffers::StructDef& def, const std::string& type_name,
                               flatbuffers::Parser* parser) const {
  json data = in.value("data", json::object());
  if (!data.is_object()) return Status::InvalidArgument("data: expected a JSON object");
  if (Status s = NormalizeIds(data, def, "data"); !s.ok()) return s;
  const auto bfbs = EventsSchemaBinary();
  if (!parser->Deserialize(reinterpret_cast<const uint8_t*>(bfbs.data()), bfbs.size()) ||
      !parser->SetRootType((kNamespace + type_name).c_str())) {
    return Status::Corruption("embedded event schema does not load");
  }
  if (!parser->ParseJson(data.dump().c_str())) {
    std::string err = parser->error_;
    if (auto pos = err.find("error: "); pos != std::string::npos) err = err.substr(pos + 7);
    return Status::InvalidArgument("data of " + type_name + ": " + err);
  }
  return CheckVersions(def, flatbuffers::GetRoot<flatbuffers::Table>(parser->builder_.GetBufferPointer()), "data");
}

Result<DraftEvent> EventJson::FromJsonUnchecked(const json& in, int64_t now_ns, std::string_view default_actor) const {
  if (!status_.ok()) return status_;
  if (Status s = CheckEnvelopeKeys(in); !s.ok()) return s;
  const std::string type_name = in["type"].get<std::string>();
  const auto type = EventTypeByName(type_name);
  if (!type) return Status::InvalidArgument("unknown event type '" + type_name + "'");
  const auto* def = parser_->LookupStruct(kNamespace + type_name);
  if (def == nullptr) return Status::Corruption("schema has no table " + type_name);

  DraftEvent draft;
  draft.stream = in["stream"].get<std::string>();
  if (Status s = ReadExpectedVersion(in, &draft); !s.ok()) return s;
  // The parser holds per-parse state; a copy keeps this method const and
  // reentrant for callers that share one EventJson.
  flatbuffers::Parser parser(parser_->opts);
  if (Status s = ParsePayload(in, *def, type_name, &parser); !s.ok()) return s;
  EventMeta meta;
  std::string actor;
  if (Status s = ReadMeta(in, now_ns, default_actor, &meta, &actor); !s.ok()) return s;
  meta.stream = draft.stream;

  // Re-encode the payload into the envelope's builder via the reflection schema.
  const auto bfbs = EventsSchemaBinary();
  const auto bfbs_schema = reflection::GetSchema(bfbs.data());
  const auto* object = bfbs_schema->objects()->LookupByKey((kNamespace + type_name).c_str());
  if (object == nullptr) return Status::Corruption("schema has no object " + type_name);
  const auto* payload_root = flatbuffers::GetRoot<flatbuffers::Table>(parser.builder_.GetBufferPointer());
  flatbuffers::FlatBufferBuilder fbb(512);
  auto payload = flatbuffers::CopyTable(fbb, *bfbs_schema, *object, *payload_root);
  draft.bytes = FinishEvent(fbb, meta, *type, payload.Union());
  if (VerifyEnvelope(draft.bytes) == nullptr) return Status::Corruption("encoded event fails verification");
  return draft;
}

json EventJson::ToJson(const fb::EventEnvelope& env) const {
  json out;
  out["seq"] = env.seq();
  out["stream"] = env.stream()->str();
  out["stream_version"] = env.stream_version();
  out["event_id"] = IdToJson(env.event_id());
  out["time_ns"] = env.time_ns();
  out["actor"] = env.actor() ? env.actor()->str() : "";
  out["correlation_id"] = IdToJson(env.correlation_id());
  out["causation_id"] = IdToJson(env.causation_id());
  out["prev_hash"] = env.prev_hash() ? HashToHex(*env.prev_hash()) : "";
  out["hash"] = env.hash() ? HashToHex(*env.hash()) : "";
  const std::string type_name = fb::EnumNameEvent(env.event_type());
  out["type"] = type_name.empty() ? "unknown(" + std::to_string(static_cast<int>(env.event_type())) + ")" : type_name;
  std::string text;
  if (!type_name.empty() && env.event() != nullptr &&
      flatbuffers::GenerateTextFromTable(*parser_, env.event(), kNamespace + type_name, &text)) {
    json data = json::parse(text, nullptr, /*allow_exceptions=*/false);
    HexifyStructs(data);
    out["data"] = std::move(data);
  } else {
    out["data"] = nullptr;
  }
  return out;
}

}  // namespace noodle::tools
