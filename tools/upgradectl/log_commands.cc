#include "log_commands.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "event_json.h"
#include "exit_codes.h"
#include "print.h"
#include "noodle/store/event_log.h"

namespace noodle::tools {
namespace {

using nlohmann::json;

struct Flags {
  std::string dir;
  bool json = false;
  // append
  std::string file;
  std::string stream, type, data, actor;
  std::string expected_version;
  bool no_sync = false;
  // show / tail / verify
  uint64_t from = 1;
  uint64_t to = UINT64_MAX;
  std::string type_filter;
  size_t limit = SIZE_MAX;
  size_t count = 10;
  bool follow = false;
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string DefaultActor() {
  const char* user = std::getenv("USER");
  return user != nullptr && *user != '\0' ? user : "upgradectl";
}

Status OpenLog(const Flags& f, store::OpenMode mode, std::unique_ptr<store::EventLog>* log) {
  store::LogOptions o;
  o.mode = mode;
  o.durability = f.no_sync ? store::Durability::kNoSync : store::Durability::kSync;
  return store::EventLog::Open(f.dir + "/log", o, log);
}

// Input: one JSON object, a JSON array of objects, or JSON Lines.
Status ReadEvents(const std::string& text, std::vector<json>* out) {
  json whole = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!whole.is_discarded()) {
    if (whole.is_array()) {
      for (auto& el : whole) out->push_back(std::move(el));
    } else {
      out->push_back(std::move(whole));
    }
    return Status::OK();
  }
  std::istringstream lines(text);
  std::string line;
  for (int n = 1; std::getline(lines, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) return Status::InvalidArgument("line " + std::to_string(n) + ": invalid JSON");
    out->push_back(std::move(j));
  }
  if (out->empty()) return Status::InvalidArgument("no events in the input");
  return Status::OK();
}

int RunAppend(const Flags& f) {
  EventJson codec;
  if (!codec.status().ok()) return Fail(codec.status());
  std::vector<json> inputs;
  if (!f.file.empty()) {
    std::stringstream buf;
    if (f.file == "-") {
      buf << std::cin.rdbuf();
    } else {
      std::ifstream in(f.file);
      if (!in) return Fail(Status::InvalidArgument("cannot read " + f.file));
      buf << in.rdbuf();
    }
    if (Status s = ReadEvents(buf.str(), &inputs); !s.ok()) return Fail(s, "input");
  } else {
    if (f.stream.empty() || f.type.empty()) {
      return Fail(Status::InvalidArgument("give --file, or --stream and --type (and --data)"));
    }
    json ev{{"stream", f.stream}, {"type", f.type}};
    if (!f.data.empty()) {
      ev["data"] = json::parse(f.data, nullptr, false);
      if (ev["data"].is_discarded()) return Fail(Status::InvalidArgument("--data: invalid JSON"));
    }
    if (!f.actor.empty()) ev["actor"] = f.actor;
    if (!f.expected_version.empty()) {
      if (f.expected_version == "any" || f.expected_version == "none") {
        ev["expected_version"] = f.expected_version;
      } else {
        char* end = nullptr;
        const unsigned long long v = std::strtoull(f.expected_version.c_str(), &end, 10);
        if (end == f.expected_version.c_str() || *end != '\0') {
          return Fail(Status::InvalidArgument("--expected-version: a number, any or none"));
        }
        ev["expected_version"] = static_cast<uint64_t>(v);
      }
    }
    inputs.push_back(std::move(ev));
  }

  // Every event is checked before the log is opened: bad input changes nothing.
  std::vector<DraftEvent> drafts;
  const int64_t now = NowNs();
  const std::string actor = f.actor.empty() ? DefaultActor() : f.actor;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto d = codec.FromJson(inputs[i], now, actor);
    if (!d.ok()) return Fail(d.status(), "event " + std::to_string(i + 1));
    drafts.push_back(std::move(d.value()));
  }

  std::unique_ptr<store::EventLog> log;
  if (Status s = OpenLog(f, store::OpenMode::kReadWrite, &log); !s.ok()) return Fail(s, "open " + f.dir + "/log");
  // Consecutive events of one stream go in one atomic batch; an event that
  // names its own expected version starts a new batch.
  size_t i = 0;
  json results = json::array();
  while (i < drafts.size()) {
    size_t j = i + 1;
    while (j < drafts.size() && drafts[j].stream == drafts[i].stream && !drafts[j].has_expected_version) ++j;
    std::vector<std::string> batch;
    for (size_t k = i; k < j; ++k) batch.push_back(std::move(drafts[k].bytes));
    store::AppendResult r;
    Status s = log->Append(drafts[i].stream, drafts[i].expected_version, std::move(batch), &r);
    if (!s.ok()) {
      return Fail(s, "append of events " + std::to_string(i + 1) + ".." + std::to_string(j) +
                         (i > 0 ? " (earlier events were appended)" : ""));
    }
    json res{{"stream", drafts[i].stream}, {"seqs", r.seqs}, {"stream_version", r.stream_version},
             {"duplicate", r.duplicate}};
    if (f.json) {
      std::cout << res.dump() << "\n";
    } else {
      std::cout << (r.duplicate ? "already stored: " : "appended: ") << drafts[i].stream << " seq "
                << r.seqs.front() << (r.seqs.size() > 1 ? ".." + std::to_string(r.seqs.back()) : "")
                << " (stream version " << r.stream_version << ")\n";
    }
    i = j;
  }
  return kExitOk;
}

int RunShow(const Flags& f) {
  EventJson codec;
  std::unique_ptr<store::EventLog> log;
  if (Status s = OpenLog(f, store::OpenMode::kReadOnly, &log); !s.ok()) return Fail(s, "open " + f.dir + "/log");
  auto matches = [&](const fb::EventEnvelope& env) {
    return f.type_filter.empty() || f.type_filter == fb::EnumNameEvent(env.event_type());
  };
  size_t shown = 0;
  if (!f.stream.empty()) {
    std::vector<store::StoredEvent> events;
    if (Status s = log->ReadStream(f.stream, 1, f.limit, &events); !s.ok()) return Fail(s);
    for (const auto& ev : events) {
      if (matches(*ev.envelope())) PrintEvent(codec, *ev.envelope(), f.json);
    }
    return kExitOk;
  }
  auto it = log->Scan(f.from, f.to);
  for (; it->Valid() && shown < f.limit; it->Next()) {
    if (!matches(*it->envelope())) continue;
    PrintEvent(codec, *it->envelope(), f.json);
    ++shown;
  }
  return it->status().ok() ? kExitOk : Fail(it->status());
}

volatile std::sig_atomic_t g_stop = 0;

int RunTail(const Flags& f) {
  EventJson codec;
  std::unique_ptr<store::EventLog> log;
  const auto mode = f.follow ? store::OpenMode::kSecondary : store::OpenMode::kReadOnly;
  if (Status s = OpenLog(f, mode, &log); !s.ok()) return Fail(s, "open " + f.dir + "/log");
  const uint64_t last = log->LastSeq();
  uint64_t next = last >= f.count ? last - f.count + 1 : 1;
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  while (true) {
    auto it = log->Scan(next);
    for (; it->Valid(); it->Next()) {
      PrintEvent(codec, *it->envelope(), f.json);
      next = it->seq() + 1;
    }
    if (!it->status().ok()) return Fail(it->status());
    std::cout.flush();
    if (!f.follow || g_stop) return kExitOk;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // poll interval of --follow
    if (Status s = log->CatchUp(); !s.ok()) return Fail(s);
  }
}

int RunVerify(const Flags& f) {
  std::unique_ptr<store::EventLog> log;
  if (Status s = OpenLog(f, store::OpenMode::kReadOnly, &log); !s.ok()) return Fail(s, "open " + f.dir + "/log");
  uint64_t checked = 0;
  const Status s = log->Verify(f.from, f.to, &checked);
  if (f.json) {
    json j{{"ok", s.ok()}, {"checked", checked}, {"last_seq", log->LastSeq()}};
    if (!s.ok()) {
      j["first_bad_seq"] = s.seq() ? json(*s.seq()) : json();
      j["reason"] = s.message();
    }
    std::cout << j.dump() << "\n";
  } else if (s.ok()) {
    std::cout << "chain holds: " << checked << " events verified (last seq " << log->LastSeq() << ")\n";
  } else {
    std::cout << "CHAIN BROKEN at seq " << (s.seq() ? std::to_string(*s.seq()) : "?") << ": " << s.message()
              << " (" << checked << " events verified before it)\n";
  }
  return ExitCodeFor(s);
}

int RunStats(const Flags& f) {
  std::unique_ptr<store::EventLog> log;
  if (Status s = OpenLog(f, store::OpenMode::kReadOnly, &log); !s.ok()) return Fail(s, "open " + f.dir + "/log");
  auto st = log->Stats();
  if (!st.ok()) return Fail(st.status());
  if (f.json) {
    std::cout << json{{"event_count", st->event_count}, {"last_seq", st->last_seq},
                      {"bytes_on_disk", st->bytes_on_disk}}
                     .dump()
              << "\n";
  } else {
    std::cout << "events:        " << st->event_count << "\nlast seq:      " << st->last_seq
              << "\nbytes on disk: " << st->bytes_on_disk << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddLogCommands(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<Flags>();
  auto* log = app.add_subcommand("log", kLogCommandsHelp);
  log->require_subcommand(1);
  auto add_dir = [&](CLI::App* c) {
    c->add_option("--data-dir,-d", flags->dir, "Data directory (the event log is DIR/log), as upgraded's --data-dir")->required();
    c->add_option_function<std::string>(
         "-o,--output", [flags](const std::string& o) { flags->json = o == "json"; }, "table (default) or json (one object per line)")
        ->check(CLI::IsMember({"table", "json"}));
    c->add_flag("--json", flags->json, "Same as -o json");
  };

  auto* append = log->add_subcommand("append", "Append events given as JSON (file or stdin) or by flags");
  add_dir(append);
  append->add_option("--file,-f", flags->file, "JSON object, array or JSON Lines; - for stdin");
  append->add_option("--stream", flags->stream, "Stream, e.g. component/db");
  append->add_option("--type", flags->type, "Event type, e.g. ComponentRegistered");
  append->add_option("--data", flags->data, "Event fields as a JSON object");
  append->add_option("--actor", flags->actor, "Who appends (default: $USER)");
  append->add_option("--expected-version", flags->expected_version, "Stream version expected: N, any or none");
  append->add_flag("--no-sync", flags->no_sync, "Do not fsync (faster, not crash-safe for the machine)");
  append->callback([flags, exit_code] { *exit_code = RunAppend(*flags); });

  auto* show = log->add_subcommand("show", "Print events, decoded");
  add_dir(show);
  show->add_option("--from", flags->from, "First seq");
  show->add_option("--to", flags->to, "Last seq");
  show->add_option("--stream", flags->stream, "Only this stream");
  show->add_option("--type", flags->type_filter, "Only this event type");
  show->add_option("--limit", flags->limit, "At most this many events");
  show->callback([flags, exit_code] { *exit_code = RunShow(*flags); });

  auto* tail = log->add_subcommand("tail", "Print the newest events; --follow waits for more");
  add_dir(tail);
  tail->add_option("-n,--count", flags->count, "How many of the newest events");
  tail->add_flag("--follow", flags->follow, "Keep printing new events (works while a writer runs)");
  tail->callback([flags, exit_code] { *exit_code = RunTail(*flags); });

  auto* verify = log->add_subcommand("verify", "Recompute the hash chain; exit 4 at the first bad seq");
  add_dir(verify);
  verify->add_option("--from", flags->from, "First seq");
  verify->add_option("--to", flags->to, "Last seq");
  verify->callback([flags, exit_code] { *exit_code = RunVerify(*flags); });

  auto* stats = log->add_subcommand("stats", "Event count, last seq, bytes on disk");
  add_dir(stats);
  stats->callback([flags, exit_code] { *exit_code = RunStats(*flags); });
}

}  // namespace noodle::tools
