#include "snapshot_writer.h"

#include <spdlog/spdlog.h>

#include "noodle/projections/codec.h"

namespace noodle::engine {

SnapshotWriter::SnapshotWriter(store::EventLog* log) : log_(log), thread_([this] { Loop(); }) {}

SnapshotWriter::~SnapshotWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool SnapshotWriter::Offer(VersionPtr version) {
  std::lock_guard<std::mutex> lock(mu_);
  if (job_ || busy_) return false;
  job_ = std::move(version);
  cv_.notify_one();
  return true;
}

void SnapshotWriter::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return job_ != nullptr || stop_; });
    if (!job_) return;  // stopping, nothing left to write
    const VersionPtr job = std::move(job_);
    busy_ = true;
    lock.unlock();
    const std::string reg = proj::Encode(job->state.registry), status = proj::Encode(job->state.status),
                      stats = proj::Encode(job->stats);
    // Status last: Load trusts a status snapshot only with the others at its seq.
    for (auto [name, blob] : {std::pair{proj::Registry::kName, &reg}, {proj::Statistics::kName, &stats},
                              {proj::Status::kName, &status}}) {
      if (Status s = log_->PutSnapshot(name, job->seq, *blob); !s.ok()) {
        spdlog::warn("engine: snapshot of {} at seq {} failed: {}", name, job->seq, s.ToString());
        break;
      }
    }
    lock.lock();
    busy_ = false;
  }
}

}  // namespace noodle::engine
