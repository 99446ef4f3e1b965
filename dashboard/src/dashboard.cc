#include "noodle/dashboard/dashboard.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <thread>

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
  httplib::Server server;
  std::thread thread;
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

  // One call of the chunked provider: waits up to a second for messages and
  // writes them; a comment line every quiet second finds closed sockets.
  bool Pump(Client& c, httplib::DataSink& sink) {
    std::deque<std::string> out;
    {
      std::unique_lock lock(c.mu);
      c.cv.wait_for(lock, std::chrono::seconds(1), [&] { return c.dropped || !c.queue.empty(); });
      if (c.dropped || stopping) return false;
      out.swap(c.queue);
    }
    if (out.empty()) out.push_back(": keep-alive\n\n");
    for (const auto& m : out) {
      if (!sink.write(m.data(), m.size())) return false;
    }
    return true;
  }

  void Events(httplib::Response& res) {
    auto c = Join();
    if (c == nullptr) {
      res.status = 503;
      res.set_content("too many event streams\n", "text/plain; charset=utf-8");
      return;
    }
    res.set_header("Cache-Control", "no-store");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, c](size_t, httplib::DataSink& sink) {
          static const std::string kHello = "retry: 1000\n: connected\n\n";
          if (!sink.write(kHello.data(), kHello.size())) return false;
          while (Pump(*c, sink)) {
          }
          sink.done();
          return true;
        },
        [this, c](bool) { Leave(c); });
  }

  void Routes() {
    for (const Asset& a : Assets()) {
      const std::string path = a.name == "index.html" ? "/" : "/" + std::string(a.name);
      server.Get(path, [a](const httplib::Request&, httplib::Response& res) {
        res.set_header("Cache-Control", "no-cache");
        res.set_content(a.data.data(), a.data.size(), std::string(a.content_type).c_str());
      });
    }
    server.Get("/api/state", [this](const httplib::Request&, httplib::Response& res) {
      try {
        res.set_header("Cache-Control", "no-store");
        res.set_content(StateJson(state(), audit), "application/json");
      } catch (const std::exception& e) {
        res.status = 500;
        res.set_content(std::string("internal error: ") + e.what() + "\n", "text/plain; charset=utf-8");
      }
    });
    server.Get("/api/events", [this](const httplib::Request&, httplib::Response& res) { Events(res); });
  }

  Status Bind(const std::string& host, int port, const std::string& listen) {
    // Each event stream holds a thread: room for every stream plus pages.
    const size_t threads = options.max_clients + 4;
    server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server.set_keep_alive_timeout(2);
    server.set_read_timeout(5);
    server.set_write_timeout(5);
    server.set_payload_max_length(64 << 10);
    server.set_socket_options([](socket_t sock) {  // no SO_REUSEPORT: a busy port is an error
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    errno = 0;
    const int bound = port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
    if (bound < 0) {
      const std::string why = errno != 0 ? std::strerror(errno) : "no address to bind";
      return Status::IOError("cannot bind the dashboard " + listen + ": " + why);
    }
    address = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(bound);
    thread = std::thread([this] { server.listen_after_bind(); });
    for (int i = 0; i < 5000 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return Status::OK();
  }
};

Dashboard::Dashboard(engine::EngineObserver* next, Options options) : impl_(std::make_unique<Impl>()) {
  impl_->next = next;
  impl_->options = options;
}

Dashboard::~Dashboard() { Stop(); }

engine::EngineObserver* Dashboard::observer() { return impl_.get(); }

Status Dashboard::Serve(const std::string& listen, std::function<engine::State()> state, Audit audit) {
  std::string host;
  int port = 0;
  if (!observe::SplitHostPort(listen, &host, &port)) {
    return Status::InvalidArgument("the dashboard '" + listen + "' is not host:port (e.g. 127.0.0.1:9465)");
  }
  impl_->state = std::move(state);
  impl_->audit = std::move(audit);
  try {
    impl_->Routes();
    return impl_->Bind(host, port, listen);
  } catch (const std::exception& e) {  // a route's regex, a thread that cannot start
    return Status::IOError("cannot start the dashboard " + listen + ": " + e.what());
  }
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
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace noodle::dashboard
