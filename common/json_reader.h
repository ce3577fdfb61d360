// The one JSON reader of the tools, for the two kinds of JSON they take from
// outside: image lists (network bytes under a signature that anyone holding
// a certificate can make) and the admin's policy file. Each caller states
// its bounds (JsonReadOptions); the rules below hold for every document.
//
// Rules, and why each is what it is. Before this reader, common/imagelist.cc
// and catcher/policy.cc each had their own; where they differed, the
// stricter rule won, since no field list or policy needs the laxer one
// (test/fixtures, test/data):
//  - Size: refused before parsing, above options.max_bytes. (Lists relied
//    on the fetch cap alone and policies on LoadPolicy(); now the reader
//    holds its own bound, so no path reaches the parser uncapped.)
//  - Depth: at most options.max_depth nested containers, the root being
//    level 1; deeper is refused at its bracket, before anything that walks
//    the document recursively (the schema validator) could exhaust the
//    stack. A bound per kind of document: a policy nests four levels and
//    gets 16; a list nests six plus what unknown keys add, and gets 64.
//  - UTF-8: the whole text, comments included, as RFC 3629 defines it
//    (common/utf8.h), checked before parsing: RFC 8259 requires UTF-8, and
//    a column counts characters. Decoded strings and keys are checked too,
//    because RapidJSON 1.1.0 decodes an unpaired surrogate escape ("\udc00")
//    into bytes that are not UTF-8. (The policy reader checked only the
//    bytes inside strings; a comment in another encoding is now refused.)
//  - Keys: a key twice in one object is refused where the second one is
//    written. JSON leaves its meaning open, so two readers of one list could
//    see two values, and in a policy the second would silently replace the
//    first. (Both readers refused; the list's refused after the whole parse.)
//  - Numbers: integers that fit 64 bits stay integers; every other number
//    becomes the double std::from_chars rounds it to, correctly; a number
//    beyond a double's range (1e309, and 2e-324 which would round to zero)
//    is refused, since no writer could put it out again as it was read.
//    (The policy reader used RapidJSON's conversion, which reads some
//    decimals a unit in the last place off and, in full precision, has
//    undefined behaviour on zeros such as "0e-65".)
//  - Syntax: RFC 8259 (JsonSyntax::kStrict), or with // and /* */
//    comments and trailing commas for a file people edit
//    (JsonSyntax::kCommented): an admin who comments out the last entry of
//    an array must not break the file. Text after the value is refused. A
//    leading UTF-8 byte order mark is skipped in both (RFC 8259 allows it;
//    both readers skipped it).
//
// Every refusal says which rule (JsonRule, for code to decide on), where
// (byte offsets and the JSON pointer of the value being read) and what (a
// sentence naming the value). Callers turn it into their own error code.
//
// Input: untrusted. Thread-safety: pure functions; any number of threads.
#ifndef VMC_COMMON_JSON_READER_H_
#define VMC_COMMON_JSON_READER_H_

#include <rapidjson/document.h>
#include <rapidjson/schema.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace vmc {

enum class JsonSyntax {
  kStrict,     // RFC 8259: what every reader of a published list understands
  kCommented,  // also comments and trailing commas: a file an admin edits
};

// REQUIRES: max_bytes below 4 GiB (RapidJSON's offsets are 32 bits);
// max_depth >= 1.
struct JsonReadOptions {
  std::size_t max_bytes = 0;
  int max_depth = 0;
  JsonSyntax syntax = JsonSyntax::kStrict;
};

// The rule that refused a text.
enum class JsonRule {
  kTooLarge,         // more than max_bytes
  kNotUtf8,          // bytes that are not UTF-8
  kSyntax,           // not JSON of the syntax asked for (RapidJSON's verdict)
  kTooDeep,          // more than max_depth levels
  kDuplicateKey,     // a key twice in one object
  kUnpairedEscape,   // a string or key that decodes to no Unicode text
  kNumberOutOfRange  // a number no double holds
};

struct JsonRefusal {
  JsonRule rule;
  // Where reading stopped: for a refused string, key or number the byte
  // after it; for a bracket, the bracket; for a syntax error, RapidJSON's
  // offset.
  std::size_t offset = 0;
  // Where the refused token begins (its opening quote or first character);
  // for kTooLarge, kNotUtf8 and kSyntax the same as offset.
  std::size_t start = 0;
  // RFC 6901 pointer of the value being read: the refused one, or for a
  // syntax error the one read last before it ("" for the root).
  std::string pointer;
  // A sentence for a person, naming the value ("it nests deeper than 16
  // levels"); bounded, and escaped where it quotes the text.
  std::string reason;
};

// A document, or why the text was refused.
class [[nodiscard]] JsonReadResult {
 public:
  JsonReadResult(rapidjson::Document document)  // NOLINT(google-explicit-constructor)
      : v_(std::move(document)) {}
  JsonReadResult(JsonRefusal refusal) : v_(std::move(refusal)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  // REQUIRES: ok()
  rapidjson::Document& document() { return std::get<0>(v_); }
  // REQUIRES: !ok()
  const JsonRefusal& refusal() const { return std::get<1>(v_); }

 private:
  std::variant<rapidjson::Document, JsonRefusal> v_;
};

// Reads `text` under every rule above.
JsonReadResult ReadJson(std::string_view text, const JsonReadOptions& options);

// ReadJson in two halves, for a caller that reads the text twice at once
// (a schema check on a second core, common/imagelist.cc): the checks of the
// whole text (size, UTF-8), then the parse.
std::optional<JsonRefusal> CheckJsonText(std::string_view text, const JsonReadOptions& options);
// REQUIRES: CheckJsonText(text, options) found nothing.
JsonReadResult ParseCheckedJson(std::string_view text, const JsonReadOptions& options);

// Gives `validator` the events ParseCheckedJson's document is built from,
// under the same rules. Returns true when it read the text to its end
// (false when a rule or the validator stopped it).
// REQUIRES: CheckJsonText(text, options) found nothing.
bool ReadCheckedJsonEvents(std::string_view text, const JsonReadOptions& options,
                           rapidjson::SchemaValidator* validator);

// Where, in a text ReadJson accepts, the value at `pointer` is written: its
// key for an object member, its first character otherwise. Empty when
// nothing in the text has that pointer. For messages only: it reads the
// text again.
std::optional<std::size_t> FindJsonValue(std::string_view text, const JsonReadOptions& options,
                                         std::string_view pointer);

// Line and column (both from 1) of byte `offset`, as an editor shows them:
// the column counts UTF-8 characters, and a leading byte order mark is no
// column.
struct TextPosition {
  std::size_t line = 1;
  std::size_t column = 1;
};
TextPosition PositionOf(std::string_view text, std::size_t offset);

// An RFC 6901 reference token: "~" as "~0" and "/" as "~1", as RapidJSON's
// Pointer::Stringify writes them, so that pointers of the schema validator
// and of the reader compare equal.
std::string JsonPointerToken(std::string_view key);

// Untrusted text of a document inside a message: quoted, at most 80 bytes of
// it, escaped as the log escapes (common/log.h).
std::string QuoteUntrusted(std::string_view text);

}  // namespace vmc

#endif  // VMC_COMMON_JSON_READER_H_
