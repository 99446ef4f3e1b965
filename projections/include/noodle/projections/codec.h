// Snapshot blobs and JSON views of the projections.
// Encode/Decode round-trip exactly (Decode(Encode(x)) == x); blobs are
// MessagePack of the JSON view, so any msgpack tool can read a snapshot.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "noodle/projections/registry.h"
#include "noodle/projections/statistics.h"
#include "noodle/projections/status.h"
#include "noodle/status.h"

namespace noodle::proj {

std::string Encode(const Registry& r);
std::string Encode(const Status& s);
std::string Encode(const Statistics& s);
// Corruption when the blob is not a snapshot of that projection.
noodle::Status Decode(std::string_view blob, Registry* r);
noodle::Status Decode(std::string_view blob, Status* s);
noodle::Status Decode(std::string_view blob, Statistics* s);

nlohmann::json ToJson(const Component& c);
nlohmann::json ToJson(const Registry& r);
nlohmann::json ToJson(const Upgrade& u);
nlohmann::json ToJson(const UpgradeSummary& u);
nlohmann::json ToJson(const Status& s);
nlohmann::json ToJson(const Statistics& s);

}  // namespace noodle::proj
