// The dashboard's files (web/), embedded by embed.cmake at build time so the
// daemon serves them without reading anything from disk. Internal.
#pragma once

#include <string_view>
#include <vector>

namespace noodle::dashboard {

struct Asset {
  std::string_view name;  // file name: "index.html", "app.js", ...
  std::string_view content_type;
  std::string_view data;
};
const std::vector<Asset>& Assets();

}  // namespace noodle::dashboard
