#include "noodle/dashboard/dashboard.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>

#include "assets.h"
#include "noodle/observe/http_server.h"
#include "state_json.h"

namespace noodle::dashboard {
namespace {

// One event stream: the projector thread pushes, the client's server
// thread pops and writes. dropped: it fell behind or the server stops.
struct Client {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> queue;  // whole SSE messages
  bool dropped = false;
};

// The resume point a reconnecting page names: its EventSource's
// Last-Event-ID header, or last_event_id in the query (a page that opens a
// new EventSource after a refusal). nullopt: none or not a number.
std::optional<uint64_t> ResumeAfter(const observe::HttpRequest& req) {
  std::string text = req.header("Last-Event-ID");
  if (text.empty()) text = req.param("last_event_id");
  uint64_t seq = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seq);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return seq;
}

std::string ResetMessage(uint64_t seq) {
  // Its id moves the page's Last-Event-ID on, so the next reconnection
  // resumes from here instead of asking for the reset again.
  const std::string s = std::to_string(seq);
  return "id: " + s + "\nevent: reset\ndata: {\"seq\":" + s + "}\n\n";
}

}  // namespace

struct Dashboard::Impl final : engine::EngineObserver {
  engine::EngineObserver* next;
  Options options;
  std::mutex mu;  // clients, recent, last_seq
  std::list<std::shared_ptr<Client>> clients;
  // The newest events' messages, gap-free and ending at last_seq: what a
  // reconnecting page can be sent again. Kept while serving, with or
  // without clients (a page that lost its only stream comes back to it).
  std::deque<std::pair<uint64_t, std::string>> recent;
  uint64_t last_seq = 0;
  bool seq_known = false;
  std::atomic<bool> serving{false};
  std::function<engine::State()> state;
  Audit audit;
  std::unique_ptr<observe::HttpServer> server;
  std::string address;
  std::atomic<bool> stopping{false};

  void Appended(std::chrono::nanoseconds took, size_t events, bool stored) override {
    if (next != nullptr) next->Appended(took, events, stored);
  }

  void Durable(const std::vector<std::string>& events, const engine::State& st) override {
    if (serving.load(std::memory_order_relaxed)) Publish(events, st);
    if (next != nullptr) next->Durable(events, st);
  }

  // Appends to `recent`; a seq that does not follow the last one (an event
  // the JSON writer could not take, one from before serving) starts it anew,
  // so what it holds is always replayable without a gap.
  void Remember(uint64_t seq, const std::string& message) {
    if (seq_known && seq <= last_seq) return;
    if (!seq_known || seq != last_seq + 1) recent.clear();
    recent.emplace_back(seq, message);
    while (recent.size() > options.replay_events) recent.pop_front();
    last_seq = seq;
    seq_known = true;
  }

  void Publish(const std::vector<std::string>& events, const engine::State& st) {
    std::vector<std::pair<uint64_t, std::string>> messages;
    messages.reserve(events.size());
    try {
      for (const auto& bytes : events) {
        const auto& e = *fb::GetEventEnvelope(bytes.data());
        messages.emplace_back(e.seq(),
                              "id: " + std::to_string(e.seq()) + "\nevent: log\ndata: " + EventJson(e, st) + "\n\n");
      }
    } catch (const std::exception&) {
      return;  // an event the JSON writer cannot take: the page re-reads the state on the next
    }
    std::lock_guard lock(mu);
    for (const auto& [seq, m] : messages) Remember(seq, m);
    for (auto& c : clients) {
      std::lock_guard cl(c->mu);
      if (c->dropped) continue;
      if (c->queue.size() + messages.size() > options.queue_events) {
        c->dropped = true;  // never wait for a slow reader
      } else {
        for (const auto& [seq, m] : messages) c->queue.push_back(m);
      }
      c->cv.notify_one();
    }
  }

  // What a client resuming after seq `after` is sent before going live: the
  // events since, or a reset (to re-read /api/state) when they are no longer
  // all in `recent` or `after` is not a seq of this log. Under mu, so
  // nothing published meanwhile is missed or sent twice.
  void Resume(uint64_t after, Client& c) {
    if (!seq_known || after > last_seq) {
      c.queue.push_back(ResetMessage(seq_known ? last_seq : after));
    } else if (after < last_seq) {
      if (recent.empty() || after + 1 < recent.front().first) {
        c.queue.push_back(ResetMessage(last_seq));
        return;
      }
      for (size_t i = after + 1 - recent.front().first; i < recent.size(); ++i) c.queue.push_back(recent[i].second);
    }
  }

  std::shared_ptr<Client> Join(std::optional<uint64_t> after) {
    std::lock_guard lock(mu);
    if (clients.size() >= options.max_clients || stopping) return nullptr;
    auto c = std::make_shared<Client>();
    if (after) Resume(*after, *c);
    clients.push_back(c);
    return c;
  }

  void Leave(const std::shared_ptr<Client>& c) {
    std::lock_guard lock(mu);
    clients.remove(c);
  }

  // Starts keeping `recent`, then learns the log's last seq (the state's,
  // until an event comes), so a page resuming before any event is served.
  void StartRecording() {
    serving = true;
    const engine::State st = state();
    std::lock_guard lock(mu);
    if (!seq_known) {
      last_seq = std::max(st.status.seq, st.registry.seq);
      seq_known = true;
    }
  }

  // One turn of a stream: waits up to a second for messages and writes them;
  // a comment line every quiet second finds closed sockets.
  bool Pump(Client& c, const std::function<bool(std::string_view)>& write) {
    std::deque<std::string> out;
    {
      std::unique_lock lock(c.mu);
      c.cv.wait_for(lock, std::chrono::seconds(1), [&] { return c.dropped || !c.queue.empty(); });
      if (c.dropped || stopping) return false;
      out.swap(c.queue);
    }
    if (out.empty()) out.push_back(": keep-alive\n\n");
    for (const auto& m : out) {
      if (!write(m)) return false;
    }
    return true;
  }

  observe::HttpStream Events(const observe::HttpRequest& req) {
    observe::HttpStream s;
    auto c = Join(ResumeAfter(req));
    if (c == nullptr) {
      s.refusal = {503, "text/plain; charset=utf-8", "too many event streams\n", ""};
      return s;
    }
    s.content_type = "text/event-stream";
    s.cache_control = "no-store";
    auto hello = std::make_shared<bool>(true);
    s.pump = [this, c, hello](const std::function<bool(std::string_view)>& write) {
      if (std::exchange(*hello, false) && !write("retry: 1000\n: connected\n\n")) return false;
      return Pump(*c, write);
    };
    s.finished = [this, c] { Leave(c); };
    return s;
  }

  observe::HttpRoutes Routes() {
    observe::HttpRoutes routes;
    for (const Asset& a : Assets()) {
      // Appended, not "/" + name: GCC 12 warns about that form (-Wrestrict, a false positive).
      const std::string path = a.name == "index.html" ? "/" : std::string("/").append(a.name);
      routes.pages[path] = [a] {
        return observe::HttpResponse{200, std::string(a.content_type), std::string(a.data), "no-cache"};
      };
    }
    routes.pages["/api/state"] = [this] {
      return observe::HttpResponse{200, "application/json", StateJson(state(), audit), "no-store"};
    };
    routes.streams["/api/events"] = [this](const observe::HttpRequest& req) { return Events(req); };
    routes.threads = options.max_clients + 4;
    // Bounds what a client that stopped reading holds in the kernel (the
    // system's would grow to megabytes): its writes then time out and it is
    // dropped, its queue never needed. Far above what a page keeping up needs.
    routes.send_buffer = 128 << 10;
    return routes;
  }
};

Dashboard::Dashboard(engine::EngineObserver* next, Options options) : impl_(std::make_unique<Impl>()) {
  impl_->next = next;
  // A resumed client's replay goes into its queue: it must fit.
  options.replay_events = std::min(options.replay_events, options.queue_events);
  impl_->options = options;
}

Dashboard::~Dashboard() { Stop(); }

engine::EngineObserver* Dashboard::observer() { return impl_.get(); }

Status Dashboard::Serve(const std::string& listen, std::function<engine::State()> state, Audit audit) {
  impl_->state = std::move(state);
  impl_->audit = std::move(audit);
  impl_->StartRecording();
  if (Status s = observe::HttpServer::Start(listen, "dashboard", impl_->Routes(), &impl_->server); !s.ok()) {
    impl_->serving = false;
    return s;
  }
  impl_->address = impl_->server->address();
  return Status::OK();
}

std::string Dashboard::address() const { return impl_->address; }

void Dashboard::Stop() {
  if (impl_->stopping.exchange(true)) return;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& c : impl_->clients) {
      std::lock_guard cl(c->mu);
      c->dropped = true;
      c->cv.notify_one();
    }
  }
  if (impl_->server != nullptr) impl_->server->Stop();
}

}  // namespace noodle::dashboard
