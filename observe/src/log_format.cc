#include "noodle/observe/log_format.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace noodle::observe {
namespace {

bool SameWord(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

// A logfmt value: bare when it is a plain word, else quoted with Go's escapes.
void AppendLogfmtValue(std::string_view v, std::string* out) {
  bool bare = !v.empty();
  for (unsigned char c : v) bare = bare && c > ' ' && c != '=' && c != '"' && c != '\\' && c != 0x7f;
  if (bare) {
    out->append(v);
    return;
  }
  out->push_back('"');
  for (unsigned char c : v) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < ' ' || c == 0x7f) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", c);
          out->append(esc);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

// A JSON string; bytes that are not UTF-8 become U+FFFD (hook output can be anything).
void AppendJsonString(std::string_view v, std::string* out) {
  out->append(nlohmann::json(std::string(v)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string SecondsText(double s) {
  char text[32];
  std::snprintf(text, sizeof text, s < 10 ? "%.3fs" : "%.1fs", s);
  return text;
}

const char* LevelName(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

// RFC 3339 in UTC with milliseconds.
std::string Timestamp(spdlog::log_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char text[80];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return text;
}

// Writes each line in the chosen form. `structured`: the payload is already
// the line's fields (LogFields::Render); else it is free text, which becomes msg.
class LineFormatter final : public spdlog::formatter {
 public:
  LineFormatter(LogFormat format, bool structured) : format_(format), structured_(structured) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    if (format_ == LogFormat::kText) return text_.format(msg, dest);
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    const bool json = format_ == LogFormat::kJson;
    const std::string ts = Timestamp(msg.time), level = LevelName(msg.level);
    std::string line = json ? "{\"ts\":\"" + ts + "\",\"level\":\"" + level + "\","
                            : "ts=" + ts + " level=" + level + " ";
    if (structured_) {
      line.append(payload);
    } else {
      line += json ? "\"msg\":" : "msg=";
      (json ? AppendJsonString : AppendLogfmtValue)(payload, &line);
    }
    if (json) line.push_back('}');
    line.push_back('\n');
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(format_, structured_);
  }

 private:
  const LogFormat format_;
  const bool structured_;
  spdlog::pattern_formatter text_;  // spdlog's default pattern, as before formats existed
};

// The logger for structured lines: its own sink and formatter, sharing the
// console's lock with the default logger's sink, so lines never interleave.
std::shared_ptr<spdlog::logger>& Structured() {
  static std::shared_ptr<spdlog::logger> logger;
  return logger;
}
LogFormat g_format = LogFormat::kText;

}  // namespace

std::optional<LogFormat> ParseLogFormat(std::string_view name) {
  if (SameWord(name, "text")) return LogFormat::kText;
  if (SameWord(name, "logfmt")) return LogFormat::kLogfmt;
  if (SameWord(name, "json")) return LogFormat::kJson;
  return std::nullopt;
}

std::optional<spdlog::level::level_enum> ParseLogLevel(std::string_view name) {
  using L = spdlog::level::level_enum;
  for (L l : {L::trace, L::debug, L::info, L::warn, L::err, L::off}) {
    if (SameWord(name, LevelName(l))) return l;
  }
  return std::nullopt;
}

LogFields& LogFields::Add(std::string_view key, std::string_view value) {
  fields_.push_back({std::string(key), Kind::kString, std::string(value)});
  return *this;
}

LogFields& LogFields::Add(std::string_view key, int64_t value) {
  fields_.push_back({std::string(key), Kind::kNumber, std::to_string(value)});
  return *this;
}

LogFields& LogFields::Add(std::string_view key, bool value) {
  fields_.push_back({std::string(key), Kind::kBool, value ? "true" : "false"});
  return *this;
}

LogFields& LogFields::Seconds(std::string_view key, double seconds) {
  fields_.push_back({std::string(key), Kind::kSeconds, SecondsText(seconds), seconds});
  return *this;
}

std::string LogFields::Render(LogFormat format, std::string_view msg) const {
  std::string out;
  if (format == LogFormat::kJson) {
    out = "\"msg\":";
    AppendJsonString(msg, &out);
    for (const auto& f : fields_) {
      out.push_back(',');
      AppendJsonString(f.key, &out);
      out.push_back(':');
      if (f.kind == Kind::kString) {
        AppendJsonString(f.text, &out);
      } else if (f.kind == Kind::kSeconds) {
        char text[32];
        auto [end, ec] = std::to_chars(text, text + sizeof text, f.seconds);
        out.append(text, end);
      } else {
        out += f.text;
      }
    }
    return out;
  }
  if (format == LogFormat::kLogfmt) out = "msg=";
  AppendLogfmtValue(msg, &out);
  for (const auto& f : fields_) {
    out.push_back(' ');
    out += f.key;
    out.push_back('=');
    AppendLogfmtValue(f.text, &out);
  }
  return out;
}

void InstallLogger(const std::string& name, LogFormat format, spdlog::level::level_enum level) {
  g_format = format;
  auto plain = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  plain->set_formatter(std::make_unique<LineFormatter>(format, false));
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(name, std::move(plain)));
  spdlog::set_level(level);
  auto structured = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  structured->set_formatter(std::make_unique<LineFormatter>(format, true));
  Structured() = std::make_shared<spdlog::logger>(name, std::move(structured));
  Structured()->set_level(level);
}

bool ShouldLog(spdlog::level::level_enum level) {
  return Structured() ? Structured()->should_log(level) : spdlog::should_log(level);
}

void LogStructured(spdlog::level::level_enum level, std::string_view msg, const LogFields& fields) {
  if (!Structured()) return spdlog::log(level, "{}", fields.Render(LogFormat::kText, msg));
  Structured()->log(level, "{}", fields.Render(g_format, msg));
}

}  // namespace noodle::observe
