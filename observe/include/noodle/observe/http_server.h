// A small HTTP/1.1 server for the daemon's read-only pages (/metrics, the
// dashboard) over cpp-httplib: GET (and HEAD) on exact paths, each answered
// by a function or streamed, on threads of its own; any other path is 404.
// No exception leaves it: a handler that throws answers 500.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "noodle/status.h"

namespace noodle::observe {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string cache_control;  // empty: no Cache-Control header
};
// Called on one of the server's threads; must be thread-safe.
using HttpHandler = std::function<HttpResponse()>;

// A streamed answer (e.g. Server-Sent Events). With `pump` set, the server
// calls it again and again on one of its threads with a writer (false: the
// client left) until it returns false; `finished` then runs once, whatever
// ended the stream. Without `pump`, `refusal` is sent as a plain response.
struct HttpStream {
  std::string content_type;
  std::string cache_control;
  std::function<bool(const std::function<bool(std::string_view)>& write)> pump;
  std::function<void()> finished;
  HttpResponse refusal;
};
// What a stream's handler sees of its request (e.g. an EventSource's
// Last-Event-ID when it reconnects).
struct HttpRequest {
  std::vector<std::pair<std::string, std::string>> headers;  // as sent
  std::vector<std::pair<std::string, std::string>> params;   // the query string's, decoded
  // The first value of a header (name case-insensitive) or of a query
  // parameter; "" when absent.
  std::string header(std::string_view name) const;
  std::string param(std::string_view name) const;
};
using HttpStreamHandler = std::function<HttpStream(const HttpRequest&)>;

struct HttpRoutes {
  std::map<std::string, HttpHandler> pages;
  std::map<std::string, HttpStreamHandler> streams;
  // Each open stream holds a thread while it lasts: room for the streams
  // plus a few pages.
  size_t threads = 2;
  // SO_SNDBUF of each connection; 0: the system's, autotuned up to
  // megabytes. A stream's client that stops reading holds at most this much
  // in the kernel before its writes time out and the stream ends.
  int send_buffer = 0;
};

class HttpServer {
 public:
  // Binds listen ("host:port" or "[v6]:port"; port 0: a free one) and
  // serves routes (path -> handler, paths without regex characters).
  // InvalidArgument: listen is not host:port. IOError when it cannot bind,
  // naming it: "cannot bind the <name> 127.0.0.1:9464: Address already in use".
  static Status Start(const std::string& listen, const std::string& name, std::map<std::string, HttpHandler> routes,
                      std::unique_ptr<HttpServer>* server);
  // The same with streamed routes too, on routes.threads threads.
  static Status Start(const std::string& listen, const std::string& name, HttpRoutes routes,
                      std::unique_ptr<HttpServer>* server);
  virtual ~HttpServer() = default;
  // host:port as bound (the real port when 0 was asked for).
  virtual const std::string& address() const = 0;
  // Stops serving and joins its threads. Idempotent; the destructor stops too.
  virtual void Stop() = 0;
};

// Splits "host:port" or "[v6]:port" (the brackets dropped from host).
// False when it is neither or the port is not 0-65535.
bool SplitHostPort(const std::string& listen, std::string* host, int* port);

}  // namespace noodle::observe
