#include "test/support/json_output.h"

#include <sstream>

namespace vmc::test {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::unique_ptr<rapidjson::Document> ParseJson(const std::string& text) {
  auto doc = std::make_unique<rapidjson::Document>();
  doc->Parse(text.c_str());
  if (doc->HasParseError()) return nullptr;
  return doc;
}

std::string Str(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject()) return "<not an object>";
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd()) return "<absent>";
  if (!it->value.IsString()) return "<not a string>";
  return {it->value.GetString(), it->value.GetStringLength()};
}

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string ErrorDetailOf(const std::string& out, const char* key) {
  for (const auto& line : Lines(out)) {
    auto doc = ParseJson(line);
    if (doc && doc->IsObject() && doc->HasMember("error")) return Str((*doc)["error"], key);
  }
  return "";
}

std::string ErrorDetailOf(const RunResult& r, const char* key) { return ErrorDetailOf(r.out, key); }

std::string ErrorCodeOf(const std::string& out) { return ErrorDetailOf(out, "code"); }

std::string ErrorCodeOf(const RunResult& r) { return ErrorCodeOf(r.out); }

}  // namespace vmc::test
