#include "json_input.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace noodle::tools {
namespace {

// Edits (insert, delete, replace, swap two neighbours) from a to b: a
// swapped pair ("rnage") is one slip, not two.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// "timeout" for "timeout_ms", "sha" for "sha256": a cut-short key.
bool Truncated(std::string_view key, std::string_view valid) {
  return key.size() >= 3 && valid.size() > key.size() && valid.substr(0, key.size()) == key;
}

// nlohmann reports the byte count read so far; the offending character is
// the last one read. Lines and columns are counted in bytes, from 1.
std::string LineColumn(const std::string& text, size_t byte) {
  const size_t at = std::min(byte == 0 ? 0 : byte - 1, text.size());
  const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
  const size_t newline = at == 0 ? std::string::npos : text.rfind('\n', at - 1);
  const size_t column = newline == std::string::npos ? at + 1 : at - newline;
  return std::to_string(line) + ":" + std::to_string(column);
}

}  // namespace

Status ParseJsonText(const std::string& text, const std::string& source, nlohmann::json* out) {
  try {
    *out = nlohmann::json::parse(text);
    return Status::OK();
  } catch (const nlohmann::json::parse_error& e) {
    // what() is "[json.exception.parse_error.N] parse error at ...: DETAIL";
    // only DETAIL is kept, the place is ours.
    const std::string what = e.what();
    const size_t detail = what.find("syntax error");
    const std::string reason = detail == std::string::npos ? "invalid JSON" : what.substr(detail);
    return Status::InvalidArgument(source + ":" + LineColumn(text, e.byte) + ": " + reason);
  } catch (const nlohmann::json::exception&) {
    return Status::InvalidArgument(source + ": invalid JSON");
  }
}

Status ReadJsonFile(const std::string& path, nlohmann::json* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return ParseJsonText(text.str(), path, out);
}

std::string SuggestKey(std::string_view key, const std::vector<std::string_view>& valid) {
  std::string_view nearest;
  size_t best = SIZE_MAX;
  std::string all;
  for (std::string_view k : valid) {
    all += (all.empty() ? "" : ", ") + std::string(k);
    const size_t d = Truncated(key, k) ? 1 : EditDistance(key, k);
    if (d < best) best = d, nearest = k;
  }
  if (!nearest.empty() && best <= std::max<size_t>(2, key.size() / 3)) {
    return "did you mean '" + std::string(nearest) + "'?";
  }
  return "valid keys: " + all;
}

}  // namespace noodle::tools
