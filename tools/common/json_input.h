// Strict reading of JSON input written by people (component specs, config
// files): syntax errors located by line and column, unknown keys answered
// with the nearest valid one. No nlohmann exception leaves these functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "noodle/status.h"

namespace noodle::tools {

// Parses text as one JSON value. On a syntax error: InvalidArgument
// "SOURCE:LINE:COLUMN: syntax error ..." (1-based, counted over text).
Status ParseJsonText(const std::string& text, const std::string& source, nlohmann::json* out);

// Reads the file and parses it as ParseJsonText does; InvalidArgument when
// it cannot be read.
Status ReadJsonFile(const std::string& path, nlohmann::json* out);

// For a key that is none of `valid`: "did you mean 'NEAREST'?" when one is
// within a few edits, else "valid keys: A, B, ...".
std::string SuggestKey(std::string_view key, const std::vector<std::string_view>& valid);

}  // namespace noodle::tools
