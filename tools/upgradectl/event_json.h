// Events as JSON, both ways, driven by the real schema (embedded .bfbs):
// unknown types or fields, wrong types and missing required fields are
// refused by the FlatBuffers parser; SemVer fields and ranges (schema
// attributes "semver" and "semver_range") are checked here.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "noodle/envelope.h"
#include "noodle/status.h"

namespace flatbuffers {
class Parser;
struct StructDef;
}  // namespace flatbuffers

namespace noodle::tools {

// An event ready to append.
struct DraftEvent {
  std::string stream;
  uint64_t expected_version;  // store::kAnyVersion unless the input names one
  bool has_expected_version = false;
  std::string bytes;
};

class EventJson {
 public:
  EventJson();
  ~EventJson();
  // OK once the embedded schema is loaded; checked by every tool at start.
  Status status() const { return status_; }

  // {"stream","type","data", optional "actor","event_id","correlation_id",
  //  "causation_id","time_ns","expected_version"}. Ids are 32 hex digits.
  // InvalidArgument names the field at fault.
  Result<DraftEvent> FromJson(const nlohmann::json& in, int64_t now_ns, std::string_view default_actor) const;

  // The envelope and its decoded payload; ids and hashes as hex.
  nlohmann::json ToJson(const fb::EventEnvelope& env) const;

 private:
  Result<DraftEvent> FromJsonUnchecked(const nlohmann::json& in, int64_t now_ns, std::string_view default_actor) const;
  Status CheckVersions(const flatbuffers::StructDef& def, const void* table, const std::string& path) const;
  // in["data"] parsed by *parser as the table def (type_name), versions checked.
  Status ParsePayload(const nlohmann::json& in, const flatbuffers::StructDef& def, const std::string& type_name,
                      flatbuffers::Parser* parser) const;
  std::unique_ptr<flatbuffers::Parser> parser_;
  Status status_;
};

}  // namespace noodle::tools
