#include "noodle/dashboard/dashboard.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
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

}  // namespace

struct Dashboard::Impl final : engine::EngineObserver {
  engine::EngineObserver* next;
  Options options;
  std::mutex mu;  // clients
  std::list<std::shared_ptr<Client>> clients;
  std::atomic<size_t> client_count{0};
  std::function<engine::State()> state;
  Audit audit;
  std::unique_ptr<observe::HttpServer> server;
  std::string address;
  std::atomic<bool> stopping{false};

  void Appended(std::chrono::nanoseconds took, size_t events, bool stored) override {
    if (next != nullptr) next->Appended(took, events, stored);
  }

  void Durable(const std::vector<std::string>& events, const engine::State& st) override {
    if (client_count.load(std::memory_order_relaxed) > 0) Publish(events, st);
    if (next != nullptr) next->Durable(events, st);
  }

  void Publish(const std::vector<std::string>& events, const engine::State& st) {
    std::vector<std::string> messages;
    messages.reserve(events.size());
    try {
      for (const auto& bytes : events) {
        const auto& e = *fb::GetEventEnvelope(bytes.data());
        messages.push_back("id: " + std::to_string(e.seq()) + "\nevent: log\ndata: " + EventJson(e, st) + "\n\n");
      }
    } catch (const std::exception&) {
      return;  // an event the JSON writer cannot take: the page re-reads the state on the next
    }
    std::lock_guard lock(mu);
    for (auto& c : clients) {
      std::lock_guard cl(c->mu);
      if (c->dropped) continue;
      if (c->queue.size() + messages.size() > options.queue_events) {
        c->dropped = true;  // never wait for a slow reader
      } else {
        c->queue.insert(c->queue.end(), messages.begin(), messages.end());
      }
      c->cv.notify_one();
    }
  }

  std::shared_ptr<Client> Join() {
    std::lock_guard lock(mu);
    if (clients.size() >= options.max_clients || stopping) return nullptr;
    auto c = std::make_shared<Client>();
    clients.push_back(c);
    client_count = clients.size();
    return c;
  }

  void Leave(const std::shared_ptr<Client>& c) {
    std::lock_guard lock(mu);
    clients.remove(c);
    client_count = clients.size();
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

  observe::HttpStream Events() {
    observe::HttpStream s;
    auto c = Join();
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
      const std::string path = a.name == "index.html" ? "/" : "/" + std::string(a.name);
      routes.pages[path] = [a] {
        return observe::HttpResponse{200, std::string(a.content_type), std::string(a.data), "no-cache"};
      };
    }
    routes.pages["/api/state"] = [this] {
      return observe::HttpResponse{200, "application/json", StateJson(state(), audit), "no-store"};
    };
    routes.streams["/api/events"] = [this] { return Events(); };
    routes.threads = options.max_clients + 4;
    return routes;
  }
};

Dashboard::Dashboard(engine::EngineObserver* next, Options options) : impl_(std::make_unique<Impl>()) {
  impl_->next = next;
  impl_->options = options;
}

Dashboard::~Dashboard() { Stop(); }

engine::EngineObserver* Dashboard::observer() { return impl_.get(); }

Status Dashboard::Serve(const std::string& listen, std::function<engine::State()> state, Audit audit) {
  impl_->state = std::move(state);
  impl_->audit = std::move(audit);
  if (Status s = observe::HttpServer::Start(listen, "dashboard", impl_->Routes(), &impl_->server); !s.ok()) return s;
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
