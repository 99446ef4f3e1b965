#include "noodle/observe/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace noodle::observe {
namespace {

// Numbers as Prometheus reads them: integers without a point, the rest in
// their shortest round-trip form, and its names for infinities and NaN.
std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char text[32];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    auto [end, ec] = std::to_chars(text, text + sizeof text, static_cast<int64_t>(v));
    return std::string(text, end);
  }
  auto [end, ec] = std::to_chars(text, text + sizeof text, v);
  return std::string(text, end);
}

// A label value: backslash, double quote and line feed escaped.
void AppendEscaped(std::string_view value, std::string* out) {
  for (char c : value) {
    if (c == '\\') out->append("\\\\");
    else if (c == '"') out->append("\\\"");
    else if (c == '\n') out->append("\\n");
    else out->push_back(c);
  }
}

// {a="1",b="2"}, with `extra` (the le of a bucket) last; "" when empty.
std::string LabelText(const Labels& labels, std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  auto add = [&](std::string_view name, std::string_view value) {
    if (out.size() > 1) out.push_back(',');
    out.append(name);
    out.append("=\"");
    AppendEscaped(value, &out);
    out.push_back('"');
  };
  for (const auto& [name, value] : labels) add(name, value);
  if (!extra_name.empty()) add(extra_name, extra_value);
  out.push_back('}');
  return out;
}

// HELP text: backslash and line feed escaped.
std::string HelpText(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') out.append("\\\\");
    else if (c == '\n') out.append("\\n");
    else out.push_back(c);
  }
  return out;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // The first bucket whose bound is >= v (Prometheus' le is inclusive).
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::Cumulative() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

std::vector<double> DurationBuckets(double from, int decades) {
  std::vector<double> out;
  for (int d = 0; d < decades; ++d) {
    const double base = from * std::pow(10.0, d);
    for (double m : {1.0, 2.5, 5.0}) out.push_back(base * m);
  }
  return out;
}

Registry::Series& Registry::Find(const std::string& name, const std::string& help, Type type, const Labels& labels) {
  auto [it, made] = families_.try_emplace(name);
  Family& f = it->second;
  if (made) {
    f.type = type;
    f.help = help;
  }
  if (f.type != type) return *misfits_.emplace_back(std::make_unique<Series>());
  Series& s = f.series[LabelText(labels)];
  s.labels = labels;
  return s;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = Find(name, help, Type::kCounter, labels);
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = Find(name, help, Type::kGauge, labels);
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                               const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = Find(name, help, Type::kHistogram, labels);
  if (!s.histogram) s.histogram = std::make_unique<Histogram>(bounds);
  return *s.histogram;
}

void Registry::counter_fn(const std::string& name, const std::string& help, std::function<uint64_t()> read,
                          const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Find(name, help, Type::kCounter, labels).read = [read = std::move(read)] { return static_cast<double>(read()); };
}

void Registry::gauge_fn(const std::string& name, const std::string& help, std::function<double()> read,
                        const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Find(name, help, Type::kGauge, labels).read = std::move(read);
}

void Registry::RenderFamily(const std::string& name, const Family& f, std::string* out) {
  static constexpr const char* kTypeNames[] = {"counter", "gauge", "histogram"};
  *out += "# HELP " + name + " " + HelpText(f.help) + "\n";
  *out += "# TYPE " + name + " " + kTypeNames[static_cast<int>(f.type)] + "\n";
  for (const auto& [labels, s] : f.series) {
    if (s.histogram) {
      const auto cumulative = s.histogram->Cumulative();
      const auto& bounds = s.histogram->bounds();
      for (size_t i = 0; i < cumulative.size(); ++i) {
        const std::string le = i < bounds.size() ? Number(bounds[i]) : "+Inf";
        *out += name + "_bucket" + LabelText(s.labels, "le", le) + " " + Number(double(cumulative[i])) + "\n";
      }
      *out += name + "_sum" + labels + " " + Number(s.histogram->sum()) + "\n";
      *out += name + "_count" + labels + " " + Number(double(cumulative.back())) + "\n";
      continue;
    }
    double v = 0;
    if (s.read) v = s.read();
    else if (s.counter) v = static_cast<double>(s.counter->value());
    else if (s.gauge) v = s.gauge->value();
    else continue;
    *out += name + labels + " " + Number(v) + "\n";
  }
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, family] : families_) {
    if (!family.series.empty()) RenderFamily(name, family, &out);
  }
  return out;
}

}  // namespace noodle::observe
