#include "audit_commands.h"

#include <iostream>
#include <optional>

#include "daemon_client.h"
#include "exit_codes.h"
#include "local_log.h"
#include "noodle/bus/client.h"
#include "noodle/envelope.h"
#include "noodle/store/signed_head.h"
#include "print.h"

namespace noodle::tools {
namespace {

std::string Describe(const store::SignedHeadInfo& h) {
  return "seq " + std::to_string(h.seq) + ", hash " + store::ToHex(h.hash.data(), h.hash.size()) + ", key " + h.key_id +
         ", signed " + FormatTime(h.time_ns);
}

// The head in bytes, checked against --head-key when given. Prints why not.
int VerifyHead(const std::string& bytes, const std::string& what, const std::string& head_key,
               store::SignedHeadInfo* head) {
  std::optional<store::HeadPublicKey> key;
  if (!head_key.empty()) {
    auto k = store::LoadPublicKey(head_key);
    if (!k.ok()) {
      Fail(k.status(), "--head-key " + head_key);
      return kExitUsage;
    }
    key = k.value();
  }
  if (Status s = store::VerifySignedHead(bytes, key ? &*key : nullptr, head); !s.ok()) {
    std::cout << "HEAD REFUSED: " << what << ": " << s.message() << "\n";
    return kExitCorrupt;
  }
  return kExitOk;
}

// The log's last seq and the stored hash of event `seq` (false when the log
// does not hold it), from the data directory or the replay endpoint.
Status LogFacts(const DaemonFlags& f, const std::string& data_dir, uint64_t seq, uint64_t* last, store::HeadHash* hash,
                bool* have) {
  *have = false;
  auto take = [&](const fb::EventEnvelope* env) {
    if (env != nullptr && env->seq() == seq && env->hash() != nullptr) {
      std::copy(env->hash()->bytes()->begin(), env->hash()->bytes()->end(), hash->begin());
      *have = true;
    }
  };
  if (!data_dir.empty()) return LocalLogFacts(data_dir, seq, last, hash, have);
  auto curve = CurveOf(f);
  if (!curve.ok()) return curve.status();
  std::vector<std::string> events;
  const uint64_t from = seq == 0 ? 1 : seq;
  if (Status s = bus::FetchReplay(f.replay, from, from, 1, &events, last, f.timeout_ms(), *curve); !s.ok()) return s;
  if (seq > 0 && !events.empty()) take(VerifyEnvelope(events.front()));
  return Status::OK();
}

}  // namespace

int AuditAgainstHead(const DaemonFlags& f, const std::string& data_dir, const HeadAuditFlags& h) {
  auto bytes = store::ReadWholeFile(h.against);
  if (!bytes.ok()) {
    Fail(bytes.status(), "--against " + h.against);
    return kExitUsage;
  }
  store::SignedHeadInfo head;
  if (int rc = VerifyHead(bytes.value(), "saved head " + h.against, h.head_key, &head); rc != kExitOk) return rc;

  uint64_t last = 0;
  store::HeadHash stored{};
  bool have = false;
  if (Status s = LogFacts(f, data_dir, head.seq, &last, &stored, &have); !s.ok()) {
    if (s.IsCorruption()) {
      std::cout << "rewritten: event " << head.seq << " of the saved head does not verify: " << s.message() << "\n";
      return kExitCorrupt;
    }
    return Fail(s, data_dir.empty() ? "daemon at " + f.replay : data_dir);
  }
  switch (store::CompareWithHead(head, last, have ? &stored : nullptr)) {
    case store::HeadMatch::kHolds:
      std::cout << "saved head holds: the log holds event " << head.seq << " with the saved head's hash (key " << head.key_id
                << ", signed " << FormatTime(head.time_ns) << ")\n";
      return kExitOk;
    case store::HeadMatch::kTruncated:
      std::cout << "truncated: the log ends at seq " << last << ", below the saved head at seq " << head.seq << "\n";
      return kExitCorrupt;
    case store::HeadMatch::kRewritten:
      std::cout << "rewritten: event " << head.seq << "'s hash differs from the saved head"
                << (have ? "" : " (the event is missing)") << "\n";
      return kExitCorrupt;
  }
  return kExitCorrupt;
}

void AddAgainstFlags(CLI::App* verify, const std::shared_ptr<HeadAuditFlags>& flags) {
  verify->add_option("--against", flags->against,
                     "A head saved by `audit head save`: the log must still hold its seq with its hash (exit 4 if "
                     "truncated or rewritten)");
  verify->add_option("--head-key", flags->head_key, "With --against: the head must be signed by this key (a head.pub file)");
}

void AddAuditHeadCommands(CLI::App* audit, const std::shared_ptr<DaemonFlags>& flags, int* exit_code) {
  auto h = std::make_shared<HeadAuditFlags>();
  auto* head = audit->add_subcommand("head", "Signed chain heads");
  head->require_subcommand(1);
  auto* save = head->add_subcommand("save", "Fetch the daemon's newest signed head, verify its signature, write it to FILE");
  AddDaemonFlags(save, flags);
  save->add_option("FILE", h->out, "Where to write the head (keep it away from the daemon's host)")->required();
  save->add_option("--head-key", h->head_key, "The head must be signed by this key (a head.pub file)");
  save->callback([f = flags, h, exit_code] {
    if ((*exit_code = Reach(*f, f->replay)) != kExitOk) return;
    auto curve = CurveOf(*f);
    if (!curve.ok()) {
      *exit_code = Fail(curve.status());
      return;
    }
    std::string bytes;
    if (Status s = bus::FetchHead(f->replay, &bytes, f->timeout_ms(), *curve); !s.ok()) {
      *exit_code = Fail(s, "daemon at " + f->replay);
      return;
    }
    store::SignedHeadInfo info;
    if (int rc = VerifyHead(bytes, "the daemon's head", h->head_key, &info); rc != kExitOk) {
      *exit_code = rc;
      return;
    }
    if (Status s = store::WriteFileAtomic(h->out, bytes, 0644); !s.ok()) {
      *exit_code = Fail(s, h->out);
      return;
    }
    std::cout << "saved head: " << Describe(info) << " -> " << h->out << "\n";
    *exit_code = kExitOk;
  });
}

}  // namespace noodle::tools
