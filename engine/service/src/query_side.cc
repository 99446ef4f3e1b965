#include "query_side.h"

#include "noodle/engine/authorize.h"
#include "noodle/protocol/commands.h"

namespace noodle::engine {

QuerySide::QuerySide(const ReadSide* read, const store::EventLog* log, size_t max_reply_bytes, size_t threads,
                     std::function<void(InboxItem)> to_writer)
    : read_(read), log_(log), max_reply_bytes_(max_reply_bytes), to_writer_(std::move(to_writer)) {
  for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i) threads_.emplace_back([this] { Loop(); });
}

QuerySide::~QuerySide() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void QuerySide::Push(InboxItem item) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_) {
      items_.push_back(std::move(item));
      cv_.notify_one();
      return;
    }
  }
  item.Answer(Rejected(fb::RejectCode::Unavailable, "engine stopped"));
}

void QuerySide::AnswerNow(InboxItem& item) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return item.Answer(Rejected(fb::RejectCode::Unavailable, "engine stopped"));
  }
  Serve(item);
}

void QuerySide::Close() {
  std::deque<InboxItem> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    left.swap(items_);
  }
  cv_.notify_all();
  for (auto& item : left) item.Answer(Rejected(fb::RejectCode::Unavailable, "engine stopped"));
}

void QuerySide::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return !items_.empty() || closed_; });
    if (items_.empty()) return;
    InboxItem item = std::move(items_.front());
    items_.pop_front();
    lock.unlock();
    Serve(item);
    lock.lock();
  }
}

void QuerySide::Serve(InboxItem& item) {
  const auto* cmd = cmd::VerifyCommand(item.bytes);
  const VersionPtr v = read_->Latest();
  // A refusal is recorded as an event: the writer's. Checked first, so a
  // refused principal learns nothing.
  if (Authorize(item.who, *cmd, v->state)) return to_writer_(std::move(item));
  if (const auto* rb = cmd->command_as_RollBack()) {
    // Planned against the durable log and state; decided by the writer.
    RollbackTarget target;
    Reply error;
    if (!ResolveRollback(*log_, v->state, *rb, &target, &error)) return item.Answer(std::move(error));
    item.rollback = std::move(target);
    return to_writer_(std::move(item));
  }
  item.Answer(AnswerQuery(*cmd, v->state, v->stats, *log_, max_reply_bytes_));
}

}  // namespace noodle::engine
