#include "noodle/observe/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>

namespace noodle::observe {
namespace {

void Answer(HttpResponse r, httplib::Response& res) {
  res.status = r.status;
  if (!r.cache_control.empty()) res.set_header("Cache-Control", r.cache_control);
  res.set_content(std::move(r.body), r.content_type.c_str());
}

HttpRequest RequestOf(const httplib::Request& req) {
  HttpRequest r;
  r.headers.assign(req.headers.begin(), req.headers.end());
  r.params.assign(req.params.begin(), req.params.end());
  return r;
}

bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

void Fail(const std::exception& e, httplib::Response& res) {
  res.status = 500;
  res.set_content(std::string("internal error: ") + e.what() + "\n", "text/plain; charset=utf-8");
}

class HttpServerImpl final : public HttpServer {
 public:
  ~HttpServerImpl() override { Stop(); }

  // threads: two for pages alone (a scrape is one short request, and a page
  // should not wait behind another client's kept-alive connection for long).
  Status Bind(const std::string& host, int port, const std::string& what, size_t threads, int send_buffer) {
    server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server_.set_keep_alive_timeout(2);
    server_.set_read_timeout(5);
    server_.set_write_timeout(5);
    server_.set_payload_max_length(64 << 10);
    // cpp-httplib sets SO_REUSEPORT by default, which would let a second
    // daemon bind the same port silently: only SO_REUSEADDR here.
    // Accepted connections inherit the listener's SO_SNDBUF (Linux).
    server_.set_socket_options([send_buffer](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      if (send_buffer > 0) setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
    });
    errno = 0;
    const int bound = port == 0 ? server_.bind_to_any_port(host) : (server_.bind_to_port(host, port) ? port : -1);
    if (bound < 0) {
      const std::string why = errno != 0 ? std::strerror(errno) : "no address to bind";
      return Status::IOError("cannot bind " + what + ": " + why);
    }
    address_ = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(bound);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // A stop() before the listener runs would be lost (it only stops a
    // running server), and Stop() would then wait forever. Bounded: 5 s.
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return Status::OK();
  }

  void Route(const std::string& path, HttpHandler handler) {
    server_.Get(path, [handler = std::move(handler)](const httplib::Request&, httplib::Response& res) {
      try {
        Answer(handler(), res);
      } catch (const std::exception& e) {
        Fail(e, res);
      }
    });
  }

  void Stream(const std::string& path, HttpStreamHandler handler) {
    server_.Get(path, [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
      try {
        HttpStream s = handler(RequestOf(req));
        if (!s.pump) return Answer(std::move(s.refusal), res);
        if (!s.cache_control.empty()) res.set_header("Cache-Control", s.cache_control);
        res.set_chunked_content_provider(
            s.content_type,
            [pump = std::move(s.pump)](size_t, httplib::DataSink& sink) {
              const std::function<bool(std::string_view)> write = [&sink](std::string_view d) {
                return sink.write(d.data(), d.size());
              };
              while (pump(write)) {
              }
              sink.done();
              return true;
            },
            [finished = std::move(s.finished)](bool) {
              if (finished) finished();
            });
      } catch (const std::exception& e) {
        Fail(e, res);
      }
    });
  }

  const std::string& address() const override { return address_; }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  httplib::Server server_;
  std::string address_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
};

}  // namespace

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (SameName(k, name)) return v;
  }
  return "";
}

std::string HttpRequest::param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return "";
}

bool SplitHostPort(const std::string& listen, std::string* host, int* port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) return false;
  std::string h = listen.substr(0, colon);
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string::npos) {
    return false;  // an IPv6 address needs its brackets
  }
  const char* digits = listen.data() + colon + 1;
  int p = -1;
  auto [end, ec] = std::from_chars(digits, listen.data() + listen.size(), p);
  if (ec != std::errc() || end != listen.data() + listen.size() || p < 0 || p > 65535) return false;
  *host = std::move(h);
  *port = p;
  return true;
}

Status HttpServer::Start(const std::string& listen, const std::string& name, std::map<std::string, HttpHandler> routes,
                         std::unique_ptr<HttpServer>* server) {
  HttpRoutes r;
  r.pages = std::move(routes);
  return Start(listen, name, std::move(r), server);
}

Status HttpServer::Start(const std::string& listen, const std::string& name, HttpRoutes routes,
                         std::unique_ptr<HttpServer>* server) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(listen, &host, &port)) {
    return Status::InvalidArgument("the " + name + " '" + listen + "' is not host:port (e.g. 127.0.0.1:9464)");
  }
  try {
    auto impl = std::make_unique<HttpServerImpl>();
    for (auto& [path, handler] : routes.pages) impl->Route(path, std::move(handler));
    for (auto& [path, handler] : routes.streams) impl->Stream(path, std::move(handler));
    if (Status s = impl->Bind(host, port, "the " + name + " " + listen, routes.threads, routes.send_buffer); !s.ok()) return s;
    *server = std::move(impl);
    return Status::OK();
  } catch (const std::exception& e) {  // std::regex of a route, a thread that cannot start
    return Status::IOError("cannot start the " + name + " " + listen + ": " + e.what());
  }
}

}  // namespace noodle::observe
