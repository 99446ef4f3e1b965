// Component specs as operators write them (upgradectl component register):
// any text is either refused with a message or read into a component.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "component_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  noodle::proj::Component c;
  const noodle::Status s = noodle::tools::ComponentFromJson(j, &c);
  if (!s.ok() && s.message().empty()) std::abort();  // every refusal says why
  return 0;
}
