#include "print.h"

#include <ctime>
#include <iostream>

#include "exit_codes.h"

namespace noodle::tools {

using nlohmann::json;

std::string FormatTime(int64_t ns) {
  const std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>((ns / 1000000) % 1000));
  return std::string(buf) + ms;
}

void PrintEvent(const EventJson& codec, const fb::EventEnvelope& env, bool as_json) {
  json j = codec.ToJson(env);
  if (as_json) {
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << "#" << env.seq() << "  " << FormatTime(env.time_ns()) << "  " << env.stream()->str() << "@"
            << env.stream_version() << "  " << j["type"].get<std::string>() << "  by "
            << (j["actor"].get<std::string>().empty() ? "-" : j["actor"].get<std::string>()) << "  "
            << j["data"].dump() << "\n";
}

int Fail(const Status& s, std::string_view context) {
  std::cerr << "upgradectl: " << context << (context.empty() ? "" : ": ") << s.ToString() << "\n";
  return ExitCodeFor(s);
}

}  // namespace noodle::tools
