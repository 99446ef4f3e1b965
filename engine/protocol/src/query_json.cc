// Reading a reply's typed answer, and its JSON form by the embedded schema.
#include <flatbuffers/idl.h>

#include <memory>

#include "noodle/protocol/query_result.h"

namespace noodle::engine {
namespace {

// flatc --strict-json --defaults-json, on one line, UTF-8 left as it is.
flatbuffers::IDLOptions JsonOptions() {
  flatbuffers::IDLOptions o;
  o.strict_json = true;
  o.output_default_scalars_in_json = true;
  o.natural_utf8 = true;
  o.indent_step = -1;
  return o;
}

// A parser holding queries.fbs; nullptr when the embedded schema does not load.
std::unique_ptr<flatbuffers::Parser> NewParser() {
  auto parser = std::make_unique<flatbuffers::Parser>(JsonOptions());
  const std::string_view bfbs = QueriesSchemaBinary();
  if (!parser->Deserialize(reinterpret_cast<const uint8_t*>(bfbs.data()), bfbs.size())) return nullptr;
  return parser;
}

// Text generation only reads the parser: one, loaded once, serves every
// thread. Parsing JSON changes a parser, so ResultFromJson takes its own.
const flatbuffers::Parser* SharedParser() {
  static const std::unique_ptr<flatbuffers::Parser> parser = NewParser();
  return parser.get();
}

}  // namespace

Result<const fb::QueryResult*> QueryResultOf(const Reply& r) {
  if (r.result.empty()) {
    return Status::InvalidArgument(r.accepted ? "the reply carries no query answer" : "the reply is a rejection");
  }
  const auto* data = reinterpret_cast<const uint8_t*>(r.result.data());
  flatbuffers::Verifier v(data, r.result.size());
  if (!v.VerifyBuffer<fb::QueryResult>(nullptr)) return Status::Corruption("query answer does not verify as a QueryResult");
  const auto* q = flatbuffers::GetRoot<fb::QueryResult>(data);
  if (q->answer() == nullptr) return Status::Corruption("query answer holds no answer");
  return q;
}

std::string ResultJson(const Reply& r) {
  if (r.result.empty()) return r.result_json;
  const flatbuffers::Parser* parser = SharedParser();
  if (parser == nullptr || !QueryResultOf(r).ok()) return "";
  std::string text;
  if (!flatbuffers::GenerateText(*parser, r.result.data(), &text)) return "";
  return text;
}

Result<std::string> ResultFromJson(std::string_view json) {
  auto parser = NewParser();
  if (parser == nullptr) return Status::Corruption("the embedded schema of queries.fbs does not load");
  const std::string text(json);  // the parser wants a terminated string
  if (!parser->ParseJson(text.c_str())) return Status::InvalidArgument("not a QueryResult: " + parser->error_);
  return std::string(reinterpret_cast<const char*>(parser->builder_.GetBufferPointer()), parser->builder_.GetSize());
}

}  // namespace noodle::engine
