// The snapshot writer's MessagePack, byte for byte against nlohmann's
// to_msgpack (the reader's parser) at every boundary of every form.
#define BOOST_TEST_MODULE snapshot_pack
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "snapshot_pack.h"

using nlohmann::json;
using noodle::proj::snapshot::Packer;

namespace {

std::string Theirs(const json& j) {
  const std::vector<uint8_t> b = json::to_msgpack(j);
  return std::string(b.begin(), b.end());
}

template <typename F>
std::string Ours(F&& write) {
  std::string out;
  Packer p(&out);
  write(p);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(unsigned_integers_take_the_smallest_form) {
  const std::vector<uint64_t> values = {0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffffu, 0x100000000ull,
                                        std::numeric_limits<uint64_t>::max()};
  for (uint64_t v : values) {
    BOOST_TEST_CONTEXT("value " << v) { BOOST_TEST(Ours([v](Packer& p) { p.Unsigned(v); }) == Theirs(json(v))); }
  }
}

BOOST_AUTO_TEST_CASE(signed_integers_take_the_smallest_form) {
  const std::vector<int64_t> values = {0,      1,       127,     128,         -1,         -32,
                                       -33,    -128,    -129,    -32768,      -32769,     INT32_MIN,
                                       int64_t{INT32_MIN} - 1,   std::numeric_limits<int64_t>::min(),
                                       std::numeric_limits<int64_t>::max()};
  for (int64_t v : values) {
    BOOST_TEST_CONTEXT("value " << v) { BOOST_TEST(Ours([v](Packer& p) { p.Signed(v); }) == Theirs(json(v))); }
  }
}

BOOST_AUTO_TEST_CASE(strings_of_every_header_size) {
  for (size_t n : {size_t{0}, size_t{31}, size_t{32}, size_t{255}, size_t{256}, size_t{65535}, size_t{65536}}) {
    const std::string s(n, 'x');
    BOOST_TEST_CONTEXT("length " << n) { BOOST_TEST(Ours([&s](Packer& p) { p.String(s); }) == Theirs(json(s))); }
  }
}

BOOST_AUTO_TEST_CASE(arrays_and_maps_of_every_header_size) {
  for (size_t n : {size_t{0}, size_t{15}, size_t{16}, size_t{65535}, size_t{65536}}) {
    BOOST_TEST_CONTEXT("size " << n) {
      json a = json::array();
      for (size_t i = 0; i < n; ++i) a.push_back(true);
      BOOST_TEST(Ours([n](Packer& p) {
                   p.Array(n);
                   for (size_t i = 0; i < n; ++i) p.Bool(true);
                 }) == Theirs(a));
      json m = json::object();
      std::vector<std::string> keys;
      for (size_t i = 0; i < n; ++i) keys.push_back(std::to_string(1000000 + i));  // sorted as nlohmann keeps them
      for (const auto& k : keys) m[k] = nullptr;
      BOOST_TEST(Ours([&keys](Packer& p) {
                   p.Map(keys.size());
                   for (const auto& k : keys) p.String(k), p.Nil();
                 }) == Theirs(m));
    }
  }
}
