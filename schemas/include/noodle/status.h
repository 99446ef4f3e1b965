// Status and Result: how every module reports failure. No exception crosses a
// module boundary; callers branch on the code, humans read the message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace noodle {

class Status {
 public:
  enum class Code : uint8_t {
    kOk = 0,
    kNotFound,          // the thing asked for does not exist
    kInvalidArgument,   // the caller's input is malformed; nothing was written
    kConflict,          // an expected version did not match; nothing was written
    kCorruption,        // stored or received bytes fail verification; seq() tells where
    kIOError,           // the storage or the OS failed
    kBusy,              // another process holds the resource (e.g. the log's lock)
    kUnavailable,       // a peer cannot be reached
    kNotSupported,      // the operation is not allowed in this mode (e.g. read-only)
  };

  Status() = default;
  static Status OK() { return {}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status Corruption(std::string m, std::optional<uint64_t> seq = std::nullopt) {
    Status s{Code::kCorruption, std::move(m)};
    s.seq_ = seq;
    return s;
  }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status Busy(std::string m) { return {Code::kBusy, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status NotSupported(std::string m) { return {Code::kNotSupported, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsConflict() const { return code_ == Code::kConflict; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsBusy() const { return code_ == Code::kBusy; }
  bool IsNotSupported() const { return code_ == Code::kNotSupported; }
  const std::string& message() const { return message_; }
  // The log position a Corruption refers to, when known.
  std::optional<uint64_t> seq() const { return seq_; }

  // "Corruption: seq 42: hash mismatch"
  std::string ToString() const;

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
  std::optional<uint64_t> seq_;
};

const char* CodeName(Status::Code code);

inline std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = CodeName(code_);
  s += ": ";
  if (seq_) s += "seq " + std::to_string(*seq_) + ": ";
  return s + message_;
}

inline const char* CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "OK";
    case Status::Code::kNotFound: return "NotFound";
    case Status::Code::kInvalidArgument: return "InvalidArgument";
    case Status::Code::kConflict: return "Conflict";
    case Status::Code::kCorruption: return "Corruption";
    case Status::Code::kIOError: return "IOError";
    case Status::Code::kBusy: return "Busy";
    case Status::Code::kUnavailable: return "Unavailable";
    case Status::Code::kNotSupported: return "NotSupported";
  }
  return "Unknown";
}

// A value or the Status saying why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status s) : v_(std::move(s)) {}     // NOLINT: must not be OK
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace noodle
