#include "daemon_client.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "noodle/bus/client.h"
#include "noodle/envelope.h"

namespace noodle::tools {
namespace {

using nlohmann::json;

void PrintRejection(const engine::Reply& r) {
  std::cerr << "upgradectl: rejected (" << fb::EnumNameRejectCode(r.code) << "): " << r.message << "\n";
  for (const auto& e : r.errors) {
    std::cerr << "  - " << e.code << (e.field.empty() ? "" : " [" + e.field + "]") << ": " << e.message << "\n";
  }
}

// Adds one page of a listing to the whole: lists are appended, objects gain
// the page's members, and the rest (counters, totals, seq) is the newest
// page's.
void MergePage(json* whole, json page) {
  if (!whole->is_object() || !page.is_object()) {
    *whole = std::move(page);
    return;
  }
  for (auto& [key, value] : page.items()) {
    json& w = (*whole)[key];
    if (value.is_array() && w.is_array()) w.insert(w.end(), value.begin(), value.end());
    else if (value.is_object() && w.is_object()) w.update(value);
    else w = std::move(value);
  }
}

}  // namespace

engine::cmd::Meta MetaOf(const DaemonFlags& f) {
  const char* user = std::getenv("USER");
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {{}, std::chrono::duration_cast<std::chrono::nanoseconds>(now).count(),
          !f.actor.empty() ? f.actor : (user != nullptr && *user ? user : "upgradectl")};
}

int Reach(const DaemonFlags& f, const std::string& endpoint) {
  constexpr int kConnectMs = 1000;  // a local or LAN daemon connects in far less
  Status s = bus::Probe(endpoint, std::clamp(f.timeout_ms(), 1, kConnectMs));
  if (s.ok()) return kExitOk;
  std::cerr << "upgradectl: cannot connect: " << s.message() << "\n"
            << "  is upgraded running at " << endpoint << "? (--commands/--events/--replay, or the client config)\n";
  return s.code() == Status::Code::kIOError ? kExitUsage : kExitUnreachable;
}

int Send(const DaemonFlags& f, const std::string& command, engine::Reply* reply) {
  // One connection for the whole invocation (--wait polls through it too).
  static std::unique_ptr<bus::CommandClient> client;
  if (!client) {
    if (int rc = Reach(f, f.commands); rc != kExitOk) return rc;
    bus::CommandClientOptions o;
    o.timeout_ms = f.timeout_ms();
    auto curve = CurveOf(f);
    if (!curve.ok()) return Fail(curve.status());
    o.curve = *curve;
    bus::CommandClient::Connect(f.commands, o, &client);
  }
  auto bytes = client->Call(command);
  if (!bytes.ok()) return Fail(bytes.status(), "daemon at " + f.commands);
  if (Status s = engine::DecodeReply(bytes.value(), reply); !s.ok()) return Fail(s, "reply");
  if (!reply->accepted) {
    if (f.json) std::cout << ReplyJson(*reply).dump() << "\n";
    else PrintRejection(*reply);
    return kExitRejected;
  }
  return kExitOk;
}

int FetchPages(const DaemonFlags& f, const std::function<std::string(const std::string&)>& page,
               fb::QueryAnswer kind, std::vector<engine::Reply>* pages) {
  constexpr int kMaxPages = 1'000'000;  // each page holds an entry at least: only a broken daemon gets here
  pages->clear();
  std::string after;
  for (int n = 0; n < kMaxPages; ++n) {
    engine::Reply& r = pages->emplace_back();
    if (int rc = Send(f, page(after), &r); rc != kExitOk) return rc;
    auto q = engine::QueryResultOf(r);
    if (!q.ok()) return Fail(Status::Corruption(q.status().message()), "reply");
    if (q.value()->answer_type() != kind) {
      return Fail(Status::Corruption(std::string("expected ") + fb::EnumNameQueryAnswer(kind) + ", the daemon answered " +
                                     fb::EnumNameQueryAnswer(q.value()->answer_type())),
                  "reply");
    }
    if (r.next.empty()) return kExitOk;
    if (r.next == after) return Fail(Status::Corruption("the next page starts where this one did"), "reply");
    after = r.next;
  }
  return Fail(Status::Corruption("more pages than any listing has"), "reply");
}

json AnswerJson(const engine::Reply& r) {
  const json result = json::parse(engine::ResultJson(r), nullptr, false);
  return result.is_object() && result.contains("answer") ? result["answer"] : result;
}

json PagesJson(const std::vector<engine::Reply>& pages) {
  json whole;
  for (const auto& p : pages) MergePage(&whole, AnswerJson(p));
  return whole;
}

json ReplyJson(const engine::Reply& r) {
  json j{{"accepted", r.accepted}};
  if (r.accepted) {
    json ids = json::array();
    for (const auto& id : r.ids) ids.push_back(id.hex());
    j["ids"] = ids;
    j["seqs"] = r.seqs;
    // A query's answer, or a dry run's plan.
    const std::string result = engine::ResultJson(r);
    if (!result.empty()) j["result"] = json::parse(result, nullptr, false);
  } else {
    j["code"] = fb::EnumNameRejectCode(r.code);
    j["message"] = r.message;
    json errors = json::array();
    for (const auto& e : r.errors) errors.push_back({{"code", e.code}, {"field", e.field}, {"message", e.message}});
    j["errors"] = errors;
  }
  return j;
}

int Simple(const DaemonFlags& f, const std::string& command, const std::string& what, engine::Reply* reply) {
  engine::Reply own;
  engine::Reply& r = reply != nullptr ? *reply : own;
  if (int rc = Send(f, command, &r); rc != kExitOk) return rc;
  if (f.json) {
    std::cout << ReplyJson(r).dump() << std::endl;
    return kExitOk;
  }
  std::cout << what;
  if (!r.ids.empty()) std::cout << " " << r.ids.front().hex();
  if (!r.seqs.empty()) {
    std::cout << " (seq " << r.seqs.front() << (r.seqs.size() > 1 ? ".." + std::to_string(r.seqs.back()) : "") << ")";
  }
  std::cout << std::endl;
  return kExitOk;
}

Result<uint64_t> LastSeq(const DaemonFlags& f) {
  std::vector<std::string> events;
  uint64_t last = 0;
  auto curve = CurveOf(f);
  if (!curve.ok()) return curve.status();
  if (Status s = bus::FetchReplay(f.replay, 1, 1, 1, &events, &last, f.timeout_ms(), *curve); !s.ok()) return s;
  return last;
}

Result<proj::Id> ParseId(const std::string& text) {
  auto id = IdFromHex(text);
  if (!id) return Status::InvalidArgument("'" + text + "' is not an upgrade id (32 hex digits)");
  return proj::Id::From(&*id);
}

}  // namespace noodle::tools
