#include "time_text.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <regex>

namespace noodle::tools {
namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;

bool InRange(int v, int lo, int hi) { return v >= lo && v <= hi; }

int DaysIn(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

Result<int64_t> ParseRfc3339(const std::string& text) {
  static const std::regex kForm(
      R"(^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$)");
  const auto refuse = [&] {
    return Status::InvalidArgument("'" + text + "' is not an RFC 3339 time with an offset, e.g. 2026-11-29T04:00:00Z or 2026-11-29T05:00:00+01:00");
  };
  std::smatch m;
  if (!std::regex_match(text, m, kForm)) return refuse();
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  if (!InRange(tm.tm_mon + 1, 1, 12) || !InRange(tm.tm_mday, 1, DaysIn(tm.tm_year + 1900, tm.tm_mon + 1)) ||
      !InRange(tm.tm_hour, 0, 23) || !InRange(tm.tm_min, 0, 59) || !InRange(tm.tm_sec, 0, 60)) {
    return refuse();
  }
  int64_t frac = 0;
  if (m[7].matched) {
    std::string digits = m[7].str().substr(1);
    digits.resize(9, '0');
    frac = std::stoll(digits);
  }
  int64_t offset_s = 0;
  const std::string off = m[8];
  if (off != "Z" && off != "z") {
    const int hours = std::stoi(off.substr(1, 2)), minutes = std::stoi(off.substr(4, 2));
    if (!InRange(hours, 0, 23) || !InRange(minutes, 0, 59)) return refuse();
    offset_s = (off[0] == '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
  }
  // Nanoseconds since the epoch in 64 bits end in April 2262.
  const int64_t seconds = static_cast<int64_t>(timegm(&tm)) - offset_s;
  if (seconds < 0 || seconds >= INT64_MAX / kNsPerSec) {
    return Status::InvalidArgument("'" + text + "' is outside the RFC 3339 times upgradectl takes (1970 to 2262)");
  }
  return seconds * kNsPerSec + frac;
}

Result<int64_t> ParseDurationNs(const std::string& text) {
  static const std::regex kForm(R"(^(\d+(\.\d+)?)(ms|s|m|h|d)$)");
  std::smatch m;
  if (!std::regex_match(text, m, kForm)) {
    return Status::InvalidArgument("'" + text + "' is not a duration: a number and ms, s, m, h or d (500ms, 30s, 10m)");
  }
  const std::string unit = m[3];
  const double per = unit == "ms" ? 1e6 : unit == "s" ? 1e9 : unit == "m" ? 60e9 : unit == "h" ? 3600e9 : 86400e9;
  const double ns = std::stod(m[1]) * per;
  if (ns > 9e18) return Status::InvalidArgument("'" + text + "' is too long a duration");
  return static_cast<int64_t>(ns);
}

Result<int64_t> ParseSince(const std::string& text, int64_t now_ns) {
  if (auto d = ParseDurationNs(text); d.ok()) return now_ns - d.value();
  if (auto t = ParseRfc3339(text); t.ok()) return t.value();
  return Status::InvalidArgument("--since '" + text + "': give a duration (30s, 10m, 2h) or an RFC 3339 time (2026-11-29T04:00:00Z)");
}

std::string HumanDuration(int64_t ns) {
  char buf[32];
  if (ns < 0) ns = 0;
  if (ns < kNsPerSec) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(std::llround(ns / 1e6)));
  } else if (ns < 60 * kNsPerSec) {
    std::snprintf(buf, sizeof buf, "%.1fs", ns / 1e9);
  } else if (ns < 3600 * kNsPerSec) {
    const long long s = ns / kNsPerSec;
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  } else {
    const long long m = ns / (60 * kNsPerSec);
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", m / 60, m % 60);
  }
  return buf;
}

}  // namespace noodle::tools
