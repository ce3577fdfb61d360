// Reading what the executables print: lines, --json documents, members.
#ifndef VMC_TEST_SUPPORT_JSON_OUTPUT_H_
#define VMC_TEST_SUPPORT_JSON_OUTPUT_H_

#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "test/support/subprocess.h"

namespace vmc::test {

// The non-empty lines of `text`.
std::vector<std::string> Lines(const std::string& text);

// `text` parsed as one JSON document; null when it is not one.
std::unique_ptr<rapidjson::Document> ParseJson(const std::string& text);

// The string member `key` of `object`, or "<absent>", "<not a string>",
// "<not an object>" (so that a failed expectation says what was there).
std::string Str(const rapidjson::Value& object, const char* key);

// `text` as a JSON string literal (quotes and backslashes escaped).
std::string Quote(std::string_view text);

// The member `key` of the {"error": {...}} line that --json prints in `out`,
// "" when there is none; ErrorCodeOf: its machine code.
std::string ErrorDetailOf(const std::string& out, const char* key);
std::string ErrorDetailOf(const RunResult& r, const char* key);
std::string ErrorCodeOf(const std::string& out);
std::string ErrorCodeOf(const RunResult& r);

}  // namespace vmc::test

#endif  // VMC_TEST_SUPPORT_JSON_OUTPUT_H_
