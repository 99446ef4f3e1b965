#include "read_side.h"

#include "noodle/fb/events_generated.h"

namespace noodle::engine {
namespace {

void Fold(Version& v, const std::vector<std::string>& events) {
  for (const auto& bytes : events) {
    const auto* env = fb::GetEventEnvelope(bytes.data());
    Evolve(v.state, *env);
    proj::Evolve(v.stats, *env);
    v.seq = env->seq();
  }
}

// What a snapshot's cost grows with.
uint64_t Items(const Version& v) {
  return v.state.registry.components.size() + v.state.status.upgrades.size() + v.state.status.recent.size() +
         v.stats.per_component.size();
}

}  // namespace

ReadSide::ReadSide(Version first, uint64_t snapshot_every, uint64_t events_per_item, SnapshotWriter* snapshots,
                   EngineObserver* observer)
    : snapshot_every_(snapshot_every), events_per_item_(events_per_item), snapshots_(snapshots), observer_(observer),
      published_(std::make_shared<Version>(std::move(first))), offered_seq_(published_->seq) {
  if (observer_ != nullptr) observer_->Durable({}, published_->state);
  thread_ = std::thread([this] { Loop(); });
}

ReadSide::~ReadSide() { Stop(); }

void ReadSide::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ReadSide::Hand(DurableRound round) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(std::move(round));
  cv_.notify_one();
}

VersionPtr ReadSide::Latest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Held(published_);
}

VersionPtr ReadSide::Held(const std::shared_ptr<Version>& v) {
  // Counted here, under mu_, while v is the published version: no reader can
  // take the spare after it stopped being published, so a count the projector
  // reads as zero stays zero. The release in the reader's decrement pairs with
  // the projector's acquire: the reader's reads happen before its next writes.
  v->holds.count.fetch_add(1, std::memory_order_relaxed);
  return VersionPtr(v.get(), [keep = v](const Version* held) {
    held->holds.count.fetch_sub(1, std::memory_order_release);
  });
}

void ReadSide::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  drained_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void ReadSide::Reset(Version v) {
  Drain();
  auto next = std::make_shared<Version>(std::move(v));
  std::lock_guard<std::mutex> lock(mu_);
  published_ = std::move(next);
  // Not read by the projector while it is idle (drained, the writer waits).
  spare_.reset();
  spare_lacks_.clear();
  offered_seq_ = published_->seq;
}

std::shared_ptr<Version> ReadSide::Writable() {
  // Only the projector publishes, so published_ is stable here; readers
  // take counted pointers under mu_ (Held), and a spare none holds is ours.
  if (spare_ != nullptr && spare_->holds.count.load(std::memory_order_acquire) == 0) {
    for (const auto& events : spare_lacks_) Fold(*spare_, *events);
    return std::move(spare_);
  }
  std::lock_guard<std::mutex> lock(mu_);
  return std::make_shared<Version>(*published_);
}

void ReadSide::Publish(std::shared_ptr<Version> next,
                       std::vector<std::shared_ptr<const std::vector<std::string>>> folded) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::swap(published_, next);
  }
  spare_ = std::move(next);
  spare_lacks_ = std::move(folded);
  if (snapshots_ != nullptr && snapshot_every_ > 0 &&
      published_->seq / snapshot_every_ != offered_seq_ / snapshot_every_ &&
      published_->seq - offered_seq_ >= events_per_item_ * Items(*published_) && snapshots_->Offer(Latest())) {
    offered_seq_ = published_->seq;
  }
}

void ReadSide::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return !queue_.empty() || stop_; });
    if (queue_.empty()) return;  // stopping, everything answered
    // Every round waiting goes into one version: under load, fewer and
    // larger folds.
    std::deque<DurableRound> rounds;
    rounds.swap(queue_);
    busy_ = true;
    lock.unlock();
    std::shared_ptr<Version> next = Writable();
    std::vector<std::shared_ptr<const std::vector<std::string>>> folded;
    for (auto& r : rounds) {
      if (r.events == nullptr || r.events->empty()) continue;
      Fold(*next, *r.events);
      folded.push_back(std::move(r.events));
    }
    // Only this thread publishes: published_ is stable here without the lock.
    auto seen = observer_ != nullptr ? folded : decltype(folded){};
    Publish(std::move(next), std::move(folded));
    for (auto& r : rounds) {
      for (auto& [item, reply] : r.answers) item.Answer(std::move(reply));
    }
    for (const auto& events : seen) observer_->Durable(*events, published_->state);
    lock.lock();
    busy_ = false;
    if (queue_.empty()) drained_.notify_all();
  }
}

}  // namespace noodle::engine
