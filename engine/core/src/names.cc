#include "noodle/engine/names.h"

#include <cstdio>

namespace noodle::engine::names {
namespace {

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

std::string Describe(char c) {
  switch (c) {
    case '\0': return "a NUL byte";
    case '/': return "'/'";
    case '\n': return "a newline";
    case ' ': return "a space";
  }
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u == 0x7f) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "control byte 0x%02x", u);
    return buf;
  }
  if (u >= 0x80) return "a non-ASCII byte";
  return std::string("'") + c + "'";
}

}  // namespace

std::string NameProblem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name.size() > kMaxNameBytes) {
    return "is " + std::to_string(name.size()) + " bytes, longer than " + std::to_string(kMaxNameBytes);
  }
  if (name == "." || name == "..") return "is '" + std::string(name) + "'";
  if (name.front() == '.' || name.front() == '-') return std::string("starts with '") + name.front() + "'";
  for (char c : name) {
    if (!NameChar(c)) return "contains " + Describe(c) + " (allowed: letters, digits, '.', '_', '-')";
  }
  return "";
}

std::string TextProblem(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    return "is " + std::to_string(text.size()) + " bytes, longer than " + std::to_string(max_bytes);
  }
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return "contains " + Describe(c);
  }
  return "";
}

std::string Printable(std::string_view s) {
  constexpr size_t kShown = 64;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kShown; ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u < 0x20 || u >= 0x7f) {  // also non-ASCII: replies are JSON, which wants valid UTF-8
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += s[i];
    }
  }
  if (s.size() > kShown) out += "...";
  return out;
}

std::string HookPathProblem(std::string_view path) {
  if (path.empty() || path.front() != '/') return "is not an absolute path";
  if (path.find('\0') != std::string_view::npos) return "contains a NUL byte";
  for (size_t start = 1; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part == "..") return "has a '..' component";
    if (part == ".") return "has a '.' component";
    start = end + 1;
  }
  return "";
}

bool UnderRoot(std::string_view path, std::string_view root) {
  while (root.size() > 1 && root.back() == '/') root.remove_suffix(1);
  if (root.empty() || root.front() != '/') return false;
  if (root == "/") return path.size() > 1 && path.front() == '/';
  return path.size() > root.size() + 1 && path.substr(0, root.size()) == root && path[root.size()] == '/';
}

bool UnderAnyRoot(std::string_view path, const std::vector<std::string>& roots) {
  for (const auto& r : roots) {
    if (UnderRoot(path, r)) return true;
  }
  return false;
}

}  // namespace noodle::engine::names
