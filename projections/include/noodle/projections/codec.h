// Snapshot blobs of the projections.
//
// Snapshot blobs are stored in users' data directories and read by later
// builds, so their format evolves under rules. A blob is MessagePack of one
// map (any msgpack tool can read it):
//   "projection": "registry" | "status" | "statistics"   (every format)
//   "format":     the format version; absent means 1     (every format)
//   the projection's fields, by the names of the struct members; nested
//   structs are maps; std::map<std::string, T> a map; std::map<Id, T> an
//   array of [id, value] pairs; vectors, deques and sets arrays; Ids 32 hex
//   digits; enums (ComponentType, ExecutorKind, StrategyKind,
//   ValidationLevel, Phase, StepState) by name: "Service", "paused", ...
//
// Versions:
//   1  (0.1.0) enums as their numbers; no "format" key.
//   2  enums by name; "format": 2.
//   3  statistics keep durations as a histogram ("durations": {"count",
//      "min_ns", "max_ns", "buckets": [[bucket, n], ...]}) instead of every
//      one ("durations_ns"); formats 1 and 2's lists are read into it.
//
// Decode:
//   - reads formats 1 to 3; enums by name or (format 1) by number;
//   - a missing (or null) field, at any depth, keeps the struct's default;
//     a field it does not know is ignored. So adding a field, or dropping
//     one, needs no new version;
//   - NotSupported when the blob's format is newer than kSnapshotFormat
//     (the message names both): the caller skips the snapshot and replays
//     the log instead;
//   - Corruption for anything else it cannot take: not MessagePack, another
//     projection, a value of the wrong type, an enum name or number this
//     build does not know, parts that do not fit together (an upgrade whose
//     step states do not match its plan). The message names the path of the
//     bad value ("upgrades[0].phase: unknown value \"x\"").
//   - never throws, and leaves *out untouched unless it returns OK.
// Bump kSnapshotFormat when a change would make an older build misread a
// blob rather than skip a key: a key whose meaning or type changes, a new
// enum value older builds could not name.
//
// Encode/Decode round-trip exactly: Decode(Encode(x)) == x.
//
// Queries answer with typed replies (schemas/queries.fbs, built by
// noodle_protocol), never with this format.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "noodle/projections/registry.h"
#include "noodle/projections/statistics.h"
#include "noodle/projections/status.h"
#include "noodle/status.h"

namespace noodle::proj {

// The snapshot format Encode writes, and the newest Decode reads.
inline constexpr uint64_t kSnapshotFormat = 3;

std::string Encode(const Registry& r);
std::string Encode(const Status& s);
std::string Encode(const Statistics& s);
noodle::Status Decode(std::string_view blob, Registry* r);
noodle::Status Decode(std::string_view blob, Status* s);
noodle::Status Decode(std::string_view blob, Statistics* s);

}  // namespace noodle::proj
