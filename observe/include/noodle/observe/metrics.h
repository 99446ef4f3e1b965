// A small metrics registry, rendered in Prometheus' text exposition format
// 0.0.4: counters, gauges and histograms with fixed buckets, one series per
// name and label set, with HELP and TYPE lines. Updating a series is a
// relaxed atomic (safe and cheap on the engine's threads); a scrape takes the
// registry's lock only to walk the series. Values read at scrape time
// (a log's last seq, a socket's peers) are functions called by Render.
// Pure: no I/O, no threads, no exceptions.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace noodle::observe {

// Label names and values, in the order they are rendered.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // bounds: the buckets' upper bounds, ascending; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound, +Inf last (the count), and the sum. A
  // scrape during Observe may see the sum a value behind the counts.
  std::vector<uint64_t> Cumulative() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, +Inf last; not cumulative
  std::atomic<double> sum_{0};
};

// Bucket bounds in seconds for durations from `from` up: 1, 2.5, 5 times
// each power of ten, `decades` of them (DurationBuckets(0.001, 4): 1 ms to 5 s).
std::vector<double> DurationBuckets(double from, int decades);

class Registry {
 public:
  // The series name{labels}, made on first use, valid as long as the
  // registry. A name has one type and the first help given; a series asked
  // for under another type than its name's is never rendered. Counter names
  // end in _total; histograms keep the buckets they were made with.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                       const Labels& labels = {});
  // Series read when rendered: read must be thread-safe, cheap and never
  // throw. A counter's read must not go down.
  void counter_fn(const std::string& name, const std::string& help, std::function<uint64_t()> read,
                  const Labels& labels = {});
  void gauge_fn(const std::string& name, const std::string& help, std::function<double()> read,
                const Labels& labels = {});

  // Every series in the text format, families by name. Thread-safe.
  std::string Render() const;
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> read;
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::map<std::string, Series> series;  // by rendered labels
  };
  // The series for name{labels}; one never rendered when name has another
  // type. mu_ held.
  Series& Find(const std::string& name, const std::string& help, Type type, const Labels& labels);
  static void RenderFamily(const std::string& name, const Family& f, std::string* out);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  // Series asked for under the wrong type: kept alive, never rendered.
  std::vector<std::unique_ptr<Series>> misfits_;
};

}  // namespace noodle::observe
