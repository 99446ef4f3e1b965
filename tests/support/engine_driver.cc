#include "support/engine_driver.h"

#include <boost/test/unit_test.hpp>

#include <cctype>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "noodle/engine/authorize.h"
#include "noodle/protocol/query_result.h"
#include "support/world.h"

namespace noodle::test {
namespace {

using engine::cmd::UpgradeRequest;

const char* const kNames[] = {"db", "cache", "api", "auth", "web", "edge"};

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "\n  " + l;
  return out;
}

std::string Bump(std::mt19937_64& rng, const std::string& v) {
  int a = 0, b = 0, c = 0;
  std::sscanf(v.c_str(), "%d.%d.%d", &a, &b, &c);
  switch (rng() % 4) {
    case 0: return std::to_string(a + 1) + ".0.0";
    case 1: return std::to_string(a) + "." + std::to_string(b + 1) + ".0";
    case 2: return std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c + 1);
    default: return std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c > 0 ? c - 1 : c);
  }
}

}  // namespace

void Driver::Note(std::string what) {
  trail_.push_back(std::to_string(actions_) + ":" + std::move(what));
  if (trail_.size() > 10) trail_.pop_front();
}

std::string Driver::Where() const {
  std::string s = "seed " + std::to_string(seed_) + " (rerun with NOODLE_PROPERTY_SEED=" + std::to_string(seed_) +
                  "), after action " + std::to_string(actions_) + "; last actions:";
  for (const auto& t : trail_) s += " " + t;
  return s + "\n";
}

std::string Driver::LogTail(uint64_t n) const {
  std::vector<std::string> lines;
  const uint64_t last = rig_.log().LastSeq();
  for (auto it = rig_.log().Scan(last > n ? last - n + 1 : 1); it->Valid(); it->Next()) {
    const auto* e = it->envelope();
    std::string detail;
    if (const auto* r = e->event_as_UpgradeRequested()) detail = " (" + r->component()->str() + ")";
    if (const auto* c = e->event_as_ComponentRegistered()) detail = " (" + c->component()->name()->str() + ")";
    lines.push_back(std::to_string(it->seq()) + " " + fb::EnumNameEvent(e->event_type()) + detail + " on " +
                    e->stream()->str() + ", caused by " + proj::Id::From(e->causation_id()).hex());
  }
  return Join(lines);
}

void Driver::CatchUp() {
  auto it = rig_.log().Scan(model_.seq() + 1);
  for (; it->Valid(); it->Next()) {
    const fb::EventEnvelope& e = *it->envelope();
    model_.Apply(e);
    engine::Evolve(fold_, e);
    proj::Evolve(fold_stats_, e);
    ++caused_[proj::Id::From(e.causation_id())];
  }
  BOOST_REQUIRE_MESSAGE(it->status().ok(), it->status().ToString());
}

engine::Reply Driver::Send(const std::string& bytes, const Principal& who) {
  const uint64_t before = rig_.log().LastSeq();
  engine::Reply r = rig_.Send(bytes, who);
  const auto* cmd = engine::cmd::VerifyCommand(bytes);
  if (cmd == nullptr) {
    BOOST_REQUIRE_MESSAGE(!r.accepted && r.code == fb::RejectCode::Invalid,
                          Where() << "unverifiable bytes: " << r.message);
    BOOST_REQUIRE_MESSAGE(rig_.log().LastSeq() == before, Where() << "unverifiable bytes wrote events");
    return r;
  }
  const proj::Id id = proj::Id::From(cmd->command_id());
  // The seqs a reply names are the command's own events (or the record of its refusal).
  for (uint64_t seq : r.seqs) {
    auto e = rig_.log().Read(seq);
    BOOST_REQUIRE_MESSAGE(e.ok(), Where() << "reply names seq " << seq << ": " << e.status().ToString());
    const bool refusal = e->envelope()->event_type() == fb::Event::CommandRefused;
    BOOST_REQUIRE_MESSAGE(refusal ? r.code == fb::RejectCode::Unauthorized
                                  : proj::Id::From(e->envelope()->causation_id()) == id,
                          Where() << "reply names seq " << seq << ", an event of another command");
  }
  // Refused for any reason but a recorded validation or authorization: nothing written.
  if (!r.accepted && r.code != fb::RejectCode::ValidationFailed && r.code != fb::RejectCode::Unauthorized) {
    BOOST_REQUIRE_MESSAGE(r.seqs.empty() && rig_.log().LastSeq() == before,
                          Where() << "rejected " << fb::EnumNameCommand(cmd->command_type()) << " (" << r.message
                                  << ") wrote events");
  }
  CatchUp();
  if (who.unauthenticated && !engine::IsQuery(cmd->command_type())) {
    // Replies the engine keeps are those of decided commands whose events
    // were stored: not a refusal (authorization comes first), a rollback
    // whose target did not resolve, or events the log would not take.
    const bool resolve_refused = cmd->command_type() == fb::Command::RollBack && !r.accepted &&
                                 (r.code == fb::RejectCode::NotFound || r.code == fb::RejectCode::Invalid);
    const bool cached = !resolve_refused && r.code != fb::RejectCode::Unauthorized &&
                        !r.message.starts_with("events not stored");
    sent_.push_back({bytes, id, r, session_, cached, Caused(id) > 0,
                     cmd->command_type() == fb::Command::RollBack});
    if (sent_.size() > 64) sent_.erase(sent_.begin());
  }
  return r;
}

void Driver::Act() {
  ++actions_;
  const uint64_t k = Pick(100);
  if (k < 8 || model_.components().size() < 2) Register();
  else if (k < 10) Deregister();
  else if (k < 28) RequestUpgrade();
  else if (k < 50) FinishSteps();
  else if (k < 55) ReportAsClient();
  else if (k < 59) StopUpgrade();
  else if (k < 62) Promote();
  else if (k < 65) Health();
  else if (k < 69) PassTime();
  else if (k < 71) Point();
  else if (k < 74) RollBack();
  else if (k < 79) Query();
  else if (k < 84) Retry();
  else if (k < 89) Malformed();
  else if (k < 92) Unauthorized();
  else if (k < 94) Restart();
  else ProbeStateAt();
  Check();
}

void Driver::Check() {
  CatchUp();
  const engine::State live = rig_.engine().Current();
  const proj::Statistics stats = rig_.engine().Statistics();
  // The live state (folded before the append) equals the fold of the stored events.
  BOOST_REQUIRE_MESSAGE(live.registry == fold_.registry, Where() << "live registry differs from the log's fold");
  BOOST_REQUIRE_MESSAGE(live.status == fold_.status, Where() << "live status differs from the log's fold");
  BOOST_REQUIRE_MESSAGE(stats == fold_stats_, Where() << "live statistics differ from the log's fold");
  // Both equal the oracle (which a dropped event would set apart from them).
  std::vector<std::string> diffs = model_.problems();
  for (auto& d : model_.Diff(live)) diffs.push_back(std::move(d));
  for (auto& d : model_.Diff(stats)) diffs.push_back(std::move(d));
  const uint64_t tail = std::getenv("NOODLE_PROPERTY_TAIL") != nullptr ? 400 : 12;
  BOOST_REQUIRE_MESSAGE(diffs.empty(), Where() << "projections differ from the model:" << Join(diffs)
                                               << "\nlog tail:" << LogTail(tail));
  // Every step shown running has reached the executor; the executor runs no
  // other step but those of upgrades that ended without waiting for them (no
  // rollback), whose results the engine then ignores (FinishSteps).
  std::set<std::pair<proj::Id, uint32_t>> handed, orphans;
  for (const auto& r : rig_.executor().Running()) {
    handed.insert({r.upgrade_id, r.step});
    const auto* u = model_.upgrade(r.upgrade_id);
    if (u != nullptr && (u->phase == "failed" || u->phase == "cancelled" || u->phase == "aborted")) {
      orphans.insert({r.upgrade_id, r.step});
    }
  }
  std::set<std::pair<proj::Id, uint32_t>> running = model_.RunningSteps();
  running.insert(orphans.begin(), orphans.end());
  auto show = [](const std::set<std::pair<proj::Id, uint32_t>>& steps) {
    std::vector<std::string> out;
    for (const auto& [id, step] : steps) out.push_back(id.hex() + " step " + std::to_string(step));
    return Join(out);
  };
  BOOST_REQUIRE_MESSAGE(handed == running, Where() << "the executor runs:" << show(handed)
                                                   << "\nthe log shows running (or left running):" << show(running)
                                                   << "\nlog tail:" << LogTail(12));
}

std::string Driver::Version(const std::string& name) const {
  auto it = model_.components().find(name);
  return it == model_.components().end() ? "1.0.0" : it->second.version;
}

std::optional<proj::Id> Driver::SomeUpgrade(bool live_only, const char* phase) {
  std::vector<proj::Id> ids;
  for (const auto& id : model_.order()) {
    const auto* u = model_.upgrade(id);
    if ((!live_only || !u->ended) && (phase == nullptr || u->phase == phase)) ids.push_back(id);
  }
  if (ids.empty()) return std::nullopt;
  return ids[Pick(ids.size())];
}

engine::StepOutcome Driver::RandomOutcome() {
  engine::StepOutcome o;
  o.succeeded = Chance(80);
  o.timed_out = !o.succeeded && Chance(30);
  o.exit_code = o.succeeded ? 0 : 1;
  o.reason = o.succeeded ? "" : "scripted failure";
  o.duration_ns = static_cast<int64_t>(Pick(1000)) * 1'000'000;
  o.health_checked = Chance(25);
  o.healthy = o.health_checked && Chance(80);
  return o;
}

void Driver::Register() {
  const std::string name = kNames[Pick(6)];
  const auto live = rig_.engine().Current();
  const proj::Component* now = live.registry.find(name);
  if (now != nullptr && Chance(40)) {
    Note("register " + name + " again, same spec");  // a no-op, accepted
    Send(engine::cmd::Register(*now, Meta()));
    return;
  }
  std::vector<proj::Dependency> deps;
  for (const auto& [n, c] : model_.components()) {
    if (n != name && Chance(30)) deps.push_back({n, Chance(50) ? "^" + c.version : "*"});
  }
  auto c = MakeComponent(name, std::to_string(1 + Pick(3)) + "." + std::to_string(Pick(5)) + ".0", deps);
  if (Chance(30)) c.instances = {"i1", "i2", "i3"};
  c.hot_swappable = !Chance(15);
  Note("register " + name + "@" + c.version);
  Send(engine::cmd::Register(c, Meta()));
}

void Driver::Deregister() {
  const std::string name = kNames[Pick(6)];
  Note("deregister " + name);
  Send(engine::cmd::Deregister(name, "prop", Meta()));
}

void Driver::RequestUpgrade() {
  UpgradeRequest r;
  const auto reuse = Chance(4) ? SomeUpgrade(false) : std::nullopt;  // an id already used: refused
  r.upgrade_id = reuse ? *reuse : proj::Id{0xAB, next_id_};
  r.component = Chance(5) ? "ghost" : kNames[Pick(6)];
  const std::string from = Version(r.component);
  r.target_version = Bump(rng_, from);
  r.expected_version = Chance(10) ? "9.9.9" : Chance(30) ? from : "";
  r.strategy.kind = static_cast<fb::StrategyKind>(Pick(5));
  r.strategy.steps = 1 + static_cast<uint32_t>(Pick(3));
  r.strategy.weights = Chance(50) ? std::vector<uint8_t>{10, 50, 100} : std::vector<uint8_t>{25, 100};
  r.strategy.pause_ms = Chance(50) ? 0 : 1000 + static_cast<uint32_t>(Pick(3000));
  r.strategy.max_unavailable = 1 + static_cast<uint32_t>(Pick(2));
  r.priority = static_cast<int32_t>(Pick(5));
  r.timeout_ms = 2000 + static_cast<uint32_t>(Pick(8000));
  r.rollback_enabled = !Chance(10);
  r.level = static_cast<fb::ValidationLevel>(Pick(2));
  r.allow_breaking = Chance(50);
  r.dry_run = Chance(5);
  if (Chance(20)) {
    r.target = MakeComponent(r.component, r.target_version);
    if (Chance(50)) r.target->instances = {"i1", "i2"};
  }
  Note("upgrade " + r.component + " to " + r.target_version + " " + fb::EnumNameStrategyKind(r.strategy.kind) +
       (r.dry_run ? " (dry run)" : ""));
  const engine::Reply reply = Send(engine::cmd::Upgrade(r, Meta()));
  // An accepted request names its upgrade, which the log then holds.
  if (reply.accepted && !r.dry_run) {
    BOOST_REQUIRE_MESSAGE(reply.ids.size() == 1 && reply.ids[0] == r.upgrade_id && model_.upgrade(r.upgrade_id),
                          Where() << "accepted upgrade not in the log");
  }
}

void Driver::FinishSteps() {
  const auto running = rig_.executor().Running();
  if (running.empty()) return Note("finish: nothing runs");
  // Several results may land in one round; which ones is up to the RNG.
  const size_t n = 1 + Pick(std::min<size_t>(3, running.size()));
  std::set<size_t> picked;
  while (picked.size() < n) picked.insert(Pick(running.size()));
  const uint64_t before = rig_.log().LastSeq();
  bool orphans_only = true;
  for (size_t i : picked) {
    const auto& step = running[i];
    const auto o = RandomOutcome();
    const bool orphan = model_.upgrade(step.upgrade_id)->ended;
    orphans_only = orphans_only && orphan;
    Note("finish " + step.upgrade_id.hex().substr(24) + "/" + std::to_string(step.step) +
         (o.succeeded ? " ok" : " failed") + (o.health_checked ? o.healthy ? " healthy" : " unhealthy" : "") +
         (orphan ? " (ended)" : ""));
    BOOST_REQUIRE(rig_.executor().Finish(step.upgrade_id, step.step, o));
  }
  rig_.Settle();
  // Results of steps whose upgrade has ended change nothing.
  if (orphans_only) {
    BOOST_REQUIRE_MESSAGE(rig_.log().LastSeq() == before, Where() << "an ended upgrade's step result was recorded");
  }
}

void Driver::ReportAsClient() {
  const auto running = rig_.executor().Running();
  if (running.empty()) return Note("report: nothing runs");
  const auto& step = running[Pick(running.size())];
  engine::cmd::StepReport rep;
  rep.upgrade_id = step.upgrade_id;
  rep.step = step.step;
  rep.succeeded = Chance(75);
  rep.exit_code = rep.succeeded ? 0 : 2;
  Note("client reports " + step.upgrade_id.hex().substr(24) + "/" + std::to_string(step.step));
  const engine::Reply r = Send(engine::cmd::StepResult(rep, Meta()));
  if (!model_.upgrade(step.upgrade_id)->ended) {
    BOOST_REQUIRE_MESSAGE(r.accepted, Where() << "report of a running step refused: " << r.message);
  }
  // The executor's own result for the same step comes second: it must change nothing.
  const uint64_t before = rig_.log().LastSeq();
  engine::StepOutcome late;
  late.succeeded = !rep.succeeded;
  BOOST_REQUIRE(rig_.executor().Finish(step.upgrade_id, step.step, late));
  rig_.Settle();
  BOOST_REQUIRE_MESSAGE(rig_.log().LastSeq() == before, Where() << "a second result for one step was recorded");
}

void Driver::StopUpgrade() {
  auto id = Chance(85) ? SomeUpgrade(Chance(75)) : std::nullopt;
  const proj::Id target = id ? *id : proj::Id{0xDEAD, next_id_};
  const bool cancel = Chance(50);
  Note(std::string(cancel ? "cancel " : "abort ") + target.hex().substr(24));
  Send(cancel ? engine::cmd::Cancel(target, "prop", Meta()) : engine::cmd::Abort(target, "", Meta()));
}

void Driver::Promote() {
  auto id = SomeUpgrade(true, Chance(80) ? "paused" : nullptr);
  if (!id) return Note("promote: none");
  Note("promote " + id->hex().substr(24));
  Send(engine::cmd::Promote(*id, Meta()));
}

void Driver::Health() {
  auto id = SomeUpgrade(Chance(90));
  if (!id) return Note("health: none");
  const bool healthy = Chance(60);
  Note(std::string(healthy ? "healthy " : "unhealthy ") + id->hex().substr(24));
  Send(engine::cmd::Health(*id, Chance(50) ? "i1" : "", healthy, "prop", Meta()));
}

void Driver::PassTime() {
  const int64_t ms = static_cast<int64_t>(Pick(5000));
  Note("time +" + std::to_string(ms) + "ms");
  rig_.Advance(ms * 1'000'000);
}

void Driver::Point() {
  std::string name = "p" + std::to_string(next_id_);
  if (Chance(15) && !model_.points().empty()) name = model_.points().begin()->first;  // taken: Conflict
  if (Chance(5)) name = "no spaces allowed";                                             // Invalid
  Note("point " + name);
  Send(engine::cmd::Point(name, Meta()));
}

void Driver::RollBack() {
  const uint64_t last = rig_.log().LastSeq();
  const uint64_t how = Pick(3);
  std::string point;
  uint64_t seq = 0;
  int64_t time = 0;
  if (how == 0) {
    const auto& points = model_.points();
    point = points.empty() || Chance(20) ? "nowhere" : std::next(points.begin(), Pick(points.size()))->first;
  } else if (how == 1) {
    seq = 1 + Pick(last + 2);  // sometimes beyond the end: Invalid
  } else {
    time = rig_.now() - static_cast<int64_t>(Pick(20'000)) * 1'000'000;
  }
  Note("rollback to " + (how == 0 ? "point " + point : how == 1 ? "seq " + std::to_string(seq) : "a time"));
  Send(engine::cmd::RollBack(point, seq, time, "prop", Meta()));
}


namespace {

// "RolledBack" -> "rolled_back": the schema's enum name as the model spells it.
std::string Snake(const char* pascal) {
  std::string out;
  for (const char* c = pascal; *c != '\0'; ++c) {
    if (std::isupper(static_cast<unsigned char>(*c)) && c != pascal) out += '_';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
  }
  return out;
}

}  // namespace

void Driver::Query() {
  switch (Pick(4)) {
    case 0: {  // one upgrade: its phase as the model has it, while status keeps it
      auto id = SomeUpgrade(false);
      if (!id) return Note("query: no upgrade");
      Note("query upgrade " + id->hex().substr(24));
      const engine::Reply r = Send(engine::cmd::QueryStatus(*id));
      if (!r.accepted) break;  // ended and gone from the recent list
      auto u = engine::AnswerOf<fb::UpgradeInfo>(r);
      BOOST_REQUIRE_MESSAGE(u.ok(), Where() << u.status().ToString());
      const std::string phase = Snake(fb::EnumNamePhase(u.value()->phase()));
      BOOST_REQUIRE_MESSAGE(phase == model_.upgrade(*id)->phase, Where() << "queried phase " << phase);
      break;
    }
    case 1: {
      const std::string name = kNames[Pick(6)];
      Note("query registry " + name);
      const engine::Reply r = Send(engine::cmd::QueryRegistry(name));
      const auto it = model_.components().find(name);
      BOOST_REQUIRE_MESSAGE(r.accepted == (it != model_.components().end()), Where() << "registry query " << r.message);
      if (!r.accepted) break;
      auto c = engine::AnswerOf<fb::ComponentInfo>(r);
      BOOST_REQUIRE_MESSAGE(c.ok(), Where() << c.status().ToString());
      BOOST_REQUIRE(c.value()->spec()->version()->str() == it->second.version);
      break;
    }
    case 2: {
      Note("query statistics");
      const engine::Reply sr = Send(engine::cmd::QueryStatistics());
      auto st = engine::AnswerOf<fb::StatisticsResult>(sr);
      BOOST_REQUIRE_MESSAGE(st.ok(), Where() << st.status().ToString());
      BOOST_REQUIRE_MESSAGE(st.value()->in_flight() == model_.order().size() - model_.ended(),
                            Where() << "in flight: engine " << st.value()->in_flight() << " (seq " << st.value()->seq()
                                    << ")"
                                    << ", model "
                                    << model_.order().size() - model_.ended());
      uint64_t completed = 0;
      if (const auto* outcomes = st.value()->outcomes()) {
        for (const auto* o : *outcomes) completed += o->outcome() == fb::Outcome::Completed ? o->count() : 0;
      }
      BOOST_REQUIRE_MESSAGE(completed == model_.count(fb::Event::UpgradeCompleted), Where() << "completed " << completed);
      break;
    }
    default: {  // a stream's events: as many as the model counted for it
      auto id = SomeUpgrade(false);
      if (!id) return Note("query: no stream");
      const std::string stream = engine::UpgradeStream(*id);
      Note("query events of " + id->hex().substr(24));
      const engine::Reply r = Send(engine::cmd::QueryEvents(stream));
      auto ev = engine::AnswerOf<fb::EventsResult>(r);
      BOOST_REQUIRE_MESSAGE(ev.ok(), Where() << r.message << " " << ev.status().ToString());
      const size_t n = ev.value()->events() == nullptr ? 0 : ev.value()->events()->size();
      BOOST_REQUIRE_MESSAGE(n == model_.stream_events(stream), Where() << r.message);
    }
  }
}

void Driver::Retry() {
  std::vector<const Sent*> eligible;
  for (const auto& s : sent_) eligible.push_back(&s);
  if (eligible.empty()) return Note("retry: nothing sent");
  const Sent s = *eligible[Pick(eligible.size())];
  const uint64_t before = rig_.log().LastSeq();
  const uint64_t caused = Caused(s.command_id);
  Note("retry " + s.command_id.hex().substr(24) + (s.session == session_ ? "" : " from before a restart"));
  const engine::Reply r = Send(s.bytes);
  if (s.session == session_ && s.cached) {
    // The engine remembers the reply: the same answer, nothing decided again.
    BOOST_REQUIRE_MESSAGE(r.accepted == s.reply.accepted && r.code == s.reply.code && r.message == s.reply.message &&
                              r.ids == s.reply.ids && r.seqs == s.reply.seqs,
                          Where() << "retry answered \"" << r.message << "\", first \"" << s.reply.message << "\"");
    BOOST_REQUIRE_MESSAGE(rig_.log().LastSeq() == before, Where() << "a retry wrote events");
  } else if (s.wrote) {
    // A restart forgot the reply; the log still refuses the command's events twice.
    BOOST_REQUIRE_MESSAGE(Caused(s.command_id) == caused,
                          Where() << "a retried "
                                  << fb::EnumNameCommand(engine::cmd::VerifyCommand(s.bytes)->command_type())
                                  << " wrote its events again after a restart; log tail:" << LogTail(8));
  }
}

void Driver::Malformed() {
  UpgradeRequest r;
  r.component = kNames[Pick(6)];
  r.target_version = "7.0.0";
  std::string bytes = engine::cmd::Upgrade(r, Meta());
  switch (Pick(5)) {
    case 0:  // not FlatBuffers at all
      bytes.assign(Pick(64), '\0');
      for (auto& b : bytes) b = static_cast<char>(Pick(256));
      Note("garbage");
      break;
    case 1:
      bytes.resize(Pick(bytes.size()));
      Note("truncated command");
      break;
    case 2:  // may still verify: then it is some command, and the checks hold all the same
      for (int i = 0; i < 3; ++i) bytes[Pick(bytes.size())] ^= static_cast<char>(1 + Pick(255));
      Note("flipped bytes");
      break;
    case 3:
      bytes = engine::cmd::Register(MakeComponent("Not A Name", "1.0.0"), Meta());
      Note("register a bad name");
      break;
    default:
      r.target_version = "not-semver";
      bytes = engine::cmd::Upgrade(r, Meta());
      Note("upgrade to a bad version");
  }
  Send(bytes);
}

void Driver::Unauthorized() {
  const Principal observer{"watcher", kRoleObserver, "", false, false};
  auto id = SomeUpgrade(true);
  switch (Pick(4)) {
    case 0:
      Note("observer registers");
      Send(engine::cmd::Register(MakeComponent("intruder", "1.0.0"), Meta()), observer);
      break;
    case 1:
      Note("observer cancels");
      Send(engine::cmd::Cancel(id ? *id : proj::Id{1, 1}, "", Meta()), observer);
      break;
    case 2:
      Note("observer creates a point");
      Send(engine::cmd::Point("sneaky", Meta()), observer);
      break;
    default:  // timers are the engine's alone, even for a local client
      Note("client fires a timer");
      Send(engine::cmd::Timer(id ? *id : proj::Id{1, 1}, "deadline", Meta()));
  }
}

void Driver::Restart() {
  const bool quiet = rig_.executor().Running().empty();
  const engine::State before = rig_.engine().Current();
  const proj::Statistics stats = rig_.engine().Statistics();
  const uint64_t last = rig_.log().LastSeq();
  const int grace = Chance(30) ? static_cast<int>(Pick(20)) : -1;
  const bool late = Chance(50);
  Note(std::string("restart") + (quiet ? "" : " with steps running") + (grace >= 0 ? " (graceful)" : "") +
       (late ? ", late results" : ""));
  rig_.Close(grace, late);
  ++session_;
  rig_.Open();
  if (quiet) {
    // Nothing to recover: the rebuilt projections are the ones the first engine had.
    BOOST_REQUIRE_MESSAGE(rig_.log().LastSeq() == last, Where() << "a quiet restart wrote events");
    BOOST_REQUIRE_MESSAGE(rig_.engine().Current() == before, Where() << "the rebuilt state differs from the live one");
    BOOST_REQUIRE_MESSAGE(rig_.engine().Statistics() == stats, Where() << "rebuilt statistics differ");
  }
}

void Driver::ProbeStateAt() {
  const uint64_t last = rig_.log().LastSeq();
  if (last == 0) return Note("state_at: empty log");
  const uint64_t seq = 1 + Pick(last);
  Note("state_at " + std::to_string(seq));
  auto at = rig_.engine().StateAt(seq);
  BOOST_REQUIRE_MESSAGE(at.ok(), Where() << at.status().ToString());
  engine::State fold;
  Model model;
  for (auto it = rig_.log().Scan(1, seq); it->Valid(); it->Next()) {
    engine::Evolve(fold, *it->envelope());
    model.Apply(*it->envelope());
  }
  BOOST_REQUIRE_MESSAGE(at.value() == fold, Where() << "state_at(" << seq << ") differs from the fold up to it");
  const auto diffs = model.Diff(at.value());
  BOOST_REQUIRE_MESSAGE(diffs.empty(), Where() << "state_at(" << seq << ") differs from the model:" << Join(diffs));
}

void Driver::Finale() {
  Note("finale");
  engine::State fold;
  proj::Statistics stats;
  for (auto it = rig_.log().Scan(1); it->Valid(); it->Next()) {
    engine::Evolve(fold, *it->envelope());
    proj::Evolve(stats, *it->envelope());
  }
  BOOST_REQUIRE_MESSAGE(rig_.engine().Current() == fold, Where() << "live state differs from a fold from seq 1");
  BOOST_REQUIRE_MESSAGE(rig_.engine().Statistics() == stats,
                        Where() << "live statistics differ from a fold from seq 1");
  // Let what runs finish (bounded: plans are short), then restart with nothing running.
  for (int round = 0; round < 50; ++round) {
    const auto running = rig_.executor().Running();
    if (running.empty()) break;
    for (const auto& s : running) rig_.executor().Finish(s.upgrade_id, s.step, Ok());
    rig_.Settle();
    Check();
  }
  BOOST_REQUIRE_MESSAGE(rig_.executor().Running().empty(), Where() << "steps still run after 50 rounds");
  Restart();
  Check();
}

}  // namespace noodle::test
