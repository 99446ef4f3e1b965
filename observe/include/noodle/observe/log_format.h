// The daemon's log on stderr, in one of three forms, each line whole:
//   text    [2026-05-01 12:00:00.123] [upgraded] [info] upgrade.completed component=db ...
//   logfmt  ts=2026-05-01T12:00:00.123Z level=info msg=upgrade.completed component=db ...
//   json    {"ts":"2026-05-01T12:00:00.123Z","level":"info","msg":"upgrade.completed","component":"db",...}
// Structured lines (LogStructured: a dotted event name and fields) and plain
// lines (spdlog::info("...") anywhere in the process: the text is msg) take
// the same form, so a log shipper parses every line alike.
#pragma once

#include <spdlog/common.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace noodle::observe {

enum class LogFormat { kText, kLogfmt, kJson };

inline constexpr const char* kLogFormats = "text, logfmt, json";
inline constexpr const char* kLogLevels = "trace, debug, info, warn, error, off";

// "text", "logfmt", "json" in any case; nullopt for anything else.
std::optional<LogFormat> ParseLogFormat(std::string_view name);
// "trace", "debug", "info", "warn", "error", "off" in any case; nullopt for
// anything else (spdlog's own parser turns an unknown word into "off").
std::optional<spdlog::level::level_enum> ParseLogLevel(std::string_view name);

// The fields of one structured line, in the order they are added.
class LogFields {
 public:
  LogFields& Add(std::string_view key, std::string_view value);
  LogFields& Add(std::string_view key, const char* value) { return Add(key, std::string_view(value)); }
  LogFields& Add(std::string_view key, int64_t value);
  LogFields& Add(std::string_view key, uint64_t value) { return Add(key, static_cast<int64_t>(value)); }
  LogFields& Add(std::string_view key, uint32_t value) { return Add(key, static_cast<int64_t>(value)); }
  LogFields& Add(std::string_view key, int32_t value) { return Add(key, static_cast<int64_t>(value)); }
  LogFields& Add(std::string_view key, bool value);
  // A duration: "1.234s" in text and logfmt, a number of seconds in JSON.
  LogFields& Seconds(std::string_view key, double seconds);

  // The line after its time and level: "msg=... k=v ..." (logfmt), "msg k=v"
  // (text) or "\"msg\":\"...\",\"k\":v" (JSON, without the braces).
  std::string Render(LogFormat format, std::string_view msg) const;

 private:
  enum class Kind { kString, kNumber, kBool, kSeconds };
  struct Field {
    std::string key;
    Kind kind;
    std::string text;  // strings; numbers and booleans as rendered
    double seconds = 0;
  };
  std::vector<Field> fields_;
};

// Makes the process's default logger `name`, on stderr, in format, at level.
// Call once, before other threads log.
void InstallLogger(const std::string& name, LogFormat format, spdlog::level::level_enum level);

// True when a structured line at level would be written (build fields only then).
bool ShouldLog(spdlog::level::level_enum level);
// Writes one structured line through the installed logger.
void LogStructured(spdlog::level::level_enum level, std::string_view msg, const LogFields& fields);

}  // namespace noodle::observe
