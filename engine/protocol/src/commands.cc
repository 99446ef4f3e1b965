#include "noodle/protocol/commands.h"

#include "noodle/envelope.h"

namespace noodle::engine::cmd {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

proj::Id Fresh(const proj::Id& id) {
  if (!id.zero()) return id;
  const fb::Id128 fresh = NewId();
  return proj::Id::From(&fresh);
}

std::string Finish(FlatBufferBuilder& fbb, const Meta& m, fb::Command type, Offset<void> body) {
  const fb::Id128 cid = Fresh(m.command_id).fb();
  auto env = fb::CreateCommandEnvelope(fbb, &cid, m.time_ns, fbb.CreateString(m.actor), nullptr, type, body);
  fbb.Finish(env, fb::CommandEnvelopeIdentifier());
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

}  // namespace

std::string Register(const proj::Component& c, const Meta& m) {
  FlatBufferBuilder fbb;
  return Finish(fbb, m, fb::Command::RegisterComponent, fb::CreateRegisterComponent(fbb, proj::ToSpec(fbb, c)).Union());
}

std::string Deregister(const std::string& name, const std::string& reason, const Meta& m) {
  FlatBufferBuilder fbb;
  return Finish(fbb, m, fb::Command::DeregisterComponent,
                fb::CreateDeregisterComponentDirect(fbb, name.c_str(), reason.c_str()).Union());
}

std::string Upgrade(const UpgradeRequest& r, const Meta& m, proj::Id* id) {
  FlatBufferBuilder fbb;
  const proj::Id uid = Fresh(r.upgrade_id);
  if (id != nullptr) *id = uid;
  const fb::Id128 fid = uid.fb();
  auto strategy = proj::ToStrategy(fbb, r.strategy);
  Offset<fb::ComponentSpec> target;
  if (r.target) target = proj::ToSpec(fbb, *r.target);
  auto body = fb::CreateRequestUpgrade(
      fbb, &fid, fbb.CreateString(r.component), r.expected_version.empty() ? 0 : fbb.CreateString(r.expected_version),
      fbb.CreateString(r.target_version), target, strategy, r.priority, r.timeout_ms, r.rollback_enabled, r.level,
      r.allow_breaking, fbb.CreateString(r.requested_by), 0, r.dry_run);
  return Finish(fbb, m, fb::Command::RequestUpgrade, body.Union());
}

std::string Cancel(const proj::Id& upgrade, const std::string& reason, const Meta& m) {
  FlatBufferBuilder fbb;
  const fb::Id128 fid = upgrade.fb();
  return Finish(fbb, m, fb::Command::CancelUpgrade, fb::CreateCancelUpgradeDirect(fbb, &fid, reason.c_str()).Union());
}

std::string Abort(const proj::Id& upgrade, const std::string& reason, const Meta& m) {
  FlatBufferBuilder fbb;
  const fb::Id128 fid = upgrade.fb();
  return Finish(fbb, m, fb::Command::AbortUpgrade, fb::CreateAbortUpgradeDirect(fbb, &fid, reason.c_str()).Union());
}

std::string Promote(const proj::Id& upgrade, const Meta& m) {
  FlatBufferBuilder fbb;
  const fb::Id128 fid = upgrade.fb();
  return Finish(fbb, m, fb::Command::PromoteUpgrade, fb::CreatePromoteUpgrade(fbb, &fid).Union());
}

std::string Pause(const proj::Id& upgrade, const std::string& reason, const Meta& m) {
  FlatBufferBuilder fbb;
  const fb::Id128 fid = upgrade.fb();
  return Finish(fbb, m, fb::Command::PauseUpgrade, fb::CreatePauseUpgradeDirect(fbb, &fid, reason.c_str()).Union());
}

std::string Resume(const proj::Id& upgrade, const Meta& m) {
  FlatBufferBuilder fbb;
  const fb::Id128 fid = upgrade.fb();
  return Finish(fbb, m, fb::Command::ResumeUpgrade, fb::CreateResumeUpgrade(fbb, &fid).Union());
}

std::string Point(const std::string& name, const Meta& m) {
  FlatBufferBuilder fbb;
  return Finish(fbb, m, fb::Command::CreateRollbackPoint, fb::CreateCreateRollbackPointDirect(fbb, name.c_str()).Union());
}

std::string RollBack(const std::string& point, uint64_t to_seq, int64_t to_time_ns, const std::string& reason,
                     const Meta& m, bool dry_run) {
  FlatBufferBuilder fbb;
  auto body = fb::CreateRollBackDirect(fbb, point.empty() ? nullptr : point.c_str(), to_seq, to_time_ns, reason.c_str(),
                                       dry_run);
  return Finish(fbb, m, fb::Command::RollBack, body.Union());
}

std::string StepResult(const StepReport& r, const Meta& m) {
  FlatBufferBuilder fbb;
  const fb::Id128 fid = r.upgrade_id.fb();
  const auto tail = fbb.CreateString(r.output_tail), reason = fbb.CreateString(r.reason);
  const auto signer = r.signer.empty() ? 0 : fbb.CreateString(r.signer);
  fb::ReportStepResultBuilder b(fbb);
  b.add_upgrade_id(&fid);
  b.add_step(r.step);
  b.add_succeeded(r.succeeded);
  b.add_timed_out(r.timed_out);
  b.add_exit_code(r.exit_code);
  b.add_output_tail(tail);
  b.add_duration_ns(r.duration_ns);
  b.add_reason(reason);
  if (!signer.IsNull()) b.add_signer(signer);
  return Finish(fbb, m, fb::Command::ReportStepResult, b.Finish().Union());
}

std::string Health(const proj::Id& upgrade, const std::string& instance, bool healthy, const std::string& detail,
                   const Meta& m) {
  FlatBufferBuilder fbb;
  const fb::Id128 fid = upgrade.fb();
  return Finish(fbb, m, fb::Command::ReportHealth,
                fb::CreateReportHealthDirect(fbb, &fid, instance.c_str(), healthy, detail.c_str()).Union());
}

std::string Timer(const proj::Id& upgrade, fb::TimerKind timer, const Meta& m) {
  FlatBufferBuilder fbb;
  const fb::Id128 fid = upgrade.fb();
  return Finish(fbb, m, fb::Command::TimerFired, fb::CreateTimerFired(fbb, &fid, timer).Union());
}

std::string Timer(const proj::Id& upgrade, const std::string& timer, const Meta& m) {
  fb::TimerKind kind = fb::TimerKind::Unspecified;
  for (fb::TimerKind k : fb::EnumValuesTimerKind()) {
    if (k != fb::TimerKind::Unspecified && timer == TimerName(k)) kind = k;
  }
  return Timer(upgrade, kind, m);
}

const char* TimerName(fb::TimerKind k) {
  switch (k) {
    case fb::TimerKind::Deadline: return "deadline";
    case fb::TimerKind::Pause: return "pause";
    case fb::TimerKind::Unspecified: break;
  }
  return "";
}

std::string QueryStatus(const proj::Id& upgrade, const Meta& m) {
  FlatBufferBuilder fbb;
  const fb::Id128 fid = upgrade.fb();
  return Finish(fbb, m, fb::Command::QueryStatus, fb::CreateQueryStatus(fbb, upgrade.zero() ? nullptr : &fid).Union());
}

std::string QueryRegistry(const std::string& component, const Meta& m) {
  FlatBufferBuilder fbb;
  return Finish(fbb, m, fb::Command::QueryRegistry,
                fb::CreateQueryRegistryDirect(fbb, component.empty() ? nullptr : component.c_str()).Union());
}

std::string QueryStatistics(const std::string& component, const Meta& m) {
  FlatBufferBuilder fbb;
  return Finish(fbb, m, fb::Command::QueryStatistics,
                fb::CreateQueryStatisticsDirect(fbb, component.empty() ? nullptr : component.c_str()).Union());
}

std::string QueryEvents(const std::string& stream, uint64_t from_version, uint32_t limit, const Meta& m) {
  FlatBufferBuilder fbb;
  return Finish(fbb, m, fb::Command::QueryEvents, fb::CreateQueryEventsDirect(fbb, stream.c_str(), from_version, limit).Union());
}

std::string QueryRegistryPage(const std::string& after, uint32_t limit, const Meta& m) {
  FlatBufferBuilder fbb;
  return Finish(fbb, m, fb::Command::QueryRegistry,
                fb::CreateQueryRegistryDirect(fbb, nullptr, after.empty() ? nullptr : after.c_str(), limit).Union());
}

std::string QueryStatusPage(const std::string& after, const Meta& m) {
  FlatBufferBuilder fbb;
  return Finish(fbb, m, fb::Command::QueryStatus,
                fb::CreateQueryStatusDirect(fbb, nullptr, after.empty() ? nullptr : after.c_str()).Union());
}

std::string QueryStatisticsPage(const std::string& after, const Meta& m) {
  FlatBufferBuilder fbb;
  return Finish(fbb, m, fb::Command::QueryStatistics,
                fb::CreateQueryStatisticsDirect(fbb, nullptr, after.empty() ? nullptr : after.c_str()).Union());
}

std::vector<std::string> OutcomeCommands(const StepOutcomeReport& step, const StepOutcome& o, const Meta& m) {
  std::vector<std::string> out;
  if (o.health_checked) out.push_back(Health(step.upgrade_id, step.instance, o.healthy, o.health_detail, m));
  out.push_back(StepResult(StepReport(step.upgrade_id, step.step, o), m));
  return out;
}

const fb::CommandEnvelope* VerifyCommand(std::string_view bytes) {
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (!fb::VerifyCommandEnvelopeBuffer(v)) return nullptr;
  return fb::GetCommandEnvelope(bytes.data());
}

}  // namespace noodle::engine::cmd
