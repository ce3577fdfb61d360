// Properties the fuzz targets check beyond "no crash, no sanitizer report".
// A violation prints what was wrong and traps, which libFuzzer reports as a
// crash and keeps the input.
#ifndef VMC_TEST_FUZZ_PROPERTIES_H_
#define VMC_TEST_FUZZ_PROPERTIES_H_

#include <rapidjson/document.h>
#include <rapidjson/encodings.h>
#include <rapidjson/memorystream.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "common/error.h"

namespace vmc::fuzz {

[[noreturn]] inline void Fail(std::string_view what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz property violated: %.*s\n%.*s\n", static_cast<int>(what.size()),
               what.data(), static_cast<int>(detail.size()), detail.data());
  __builtin_trap();
}

// The oracle, kept apart from common/utf8 on purpose: a property checked
// with the code under test could not catch that code's mistakes.
inline bool IsUtf8(std::string_view text) {
  struct Sink {
    void Put(char) {}
  } sink;
  rapidjson::MemoryStream stream(text.data(), text.size());
  while (stream.Tell() < text.size()) {
    if (!rapidjson::UTF8<>::Validate(stream, sink)) return false;
  }
  return true;
}

// Text that the tools write into JSON, events and messages must be UTF-8.
inline void RequireUtf8(std::string_view text, std::string_view what) {
  if (!IsUtf8(text)) Fail(std::string(what) + " is not UTF-8", text);
}

// An error, however hostile the input that caused it, prints as one line of
// valid JSON (`--json`) with its code and message, and as a UTF-8 line of
// text.
inline void RequirePrintable(const Error& error) {
  const std::string json = error.ToJson();
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("error")) {
    Fail("Error::ToJson() is not a JSON object", json);
  }
  if (json.find('\n') != std::string::npos) Fail("Error::ToJson() is not one line", json);
  RequireUtf8(error.ToString(), "Error::ToString()");
}

}  // namespace vmc::fuzz

#endif  // VMC_TEST_FUZZ_PROPERTIES_H_
