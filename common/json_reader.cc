#include "common/json_reader.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "common/log.h"
#include "common/utf8.h"

namespace vmc {
namespace {

using rapidjson::SizeType;

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

// ---------------------------------------------------------------------------
// Token starts. RapidJSON's iterative parser (the only mode used here)
// calls the handler for a string, number or literal just after its last
// byte, but for '{' and '[' before taking the bracket; a refusal and a
// located value name the token's first byte, found from there.

enum class TokenKind { kString, kLiteral, kBracket };

bool IsLiteralChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' ||
         c == '-' || c == '.';
}

std::size_t TokenStart(std::string_view text, std::size_t end, TokenKind kind) {
  end = std::min(end, text.size());
  if (end == 0) return 0;
  switch (kind) {
    case TokenKind::kBracket:
      return end;
    case TokenKind::kLiteral: {
      std::size_t i = end;
      while (i > 0 && IsLiteralChar(text[i - 1])) --i;
      return i;
    }
    case TokenKind::kString:
      // The opening quote is the nearest one before the closing quote that
      // is not escaped, i.e. not preceded by an odd run of backslashes.
      for (std::size_t i = end - 1; i > 0;) {
        --i;
        if (text[i] != '"') continue;
        std::size_t backslashes = 0;
        while (backslashes < i && text[i - 1 - backslashes] == '\\') ++backslashes;
        if (backslashes % 2 == 0) return i;
      }
      return 0;
  }
  return 0;
}

// `number` follows the JSON number grammar: no escaping needed.
std::string NumberReason(std::string_view number) {
  constexpr std::size_t kMaxShown = 40;
  return "the number " + std::string(number.substr(0, kMaxShown)) +
         (number.size() > kMaxShown ? "..." : "") + " is beyond the range of a double";
}

// ---------------------------------------------------------------------------
// The path to the value being read, and the keys of every open object.

// Equal keys have equal fingerprints; different keys rarely do (only with
// the same length and the same first and last eight bytes), so a
// comparison of fingerprints spares nearly every byte comparison.
std::uint64_t Fingerprint(std::string_view key) {
  if (key.empty()) return 0;
  const std::size_t n = std::min<std::size_t>(key.size(), 8);
  std::uint64_t head = 0;
  std::uint64_t tail = 0;
  std::memcpy(&head, key.data(), n);
  std::memcpy(&tail, key.data() + key.size() - n, n);
  return (head * 0x9E3779B97F4A7C15u) ^ (tail + key.size());
}

class JsonPath {
 public:
  JsonPath() { frames_.reserve(16); }

  // A value begins in the innermost container.
  void StartValue() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().elements;
  }
  void Open(bool array) {
    frames_.push_back(Frame{array, 0, keys_.size(), arena_.size(), nullptr});
  }
  void Close() {
    const Frame& frame = frames_.back();
    keys_.resize(frame.first_key);
    arena_.resize(frame.arena_start);
    frames_.pop_back();
  }
  int depth() const { return static_cast<int>(frames_.size()); }

  // Records `key` as the innermost object's current member. Returns false,
  // recording nothing, when the object has it already.
  bool Key(std::string_view key) {
    Frame& frame = frames_.back();
    const std::uint64_t fingerprint = Fingerprint(key);
    if (frame.many == nullptr) {
      for (std::size_t i = frame.first_key; i < keys_.size(); ++i) {
        if (keys_[i].fingerprint == fingerprint && KeyAt(i) == key) return false;
      }
      Append(key, fingerprint);
      if (keys_.size() - frame.first_key > kLinearKeys) IndexKeys(frame);
      return true;
    }
    Append(key, fingerprint);
    if (frame.many->insert(keys_.size() - 1).second) return true;
    keys_.pop_back();
    arena_.resize(arena_.size() - key.size());
    return false;
  }

  // The value being read: "" at the root; stops at a container whose first
  // value has not begun.
  std::string Pointer() const { return PointerThrough(frames_.size()); }
  // The value that begins now, before StartValue() counts it.
  std::string NextValuePointer() const {
    if (frames_.empty() || !frames_.back().array) return Pointer();
    return PointerThrough(frames_.size() - 1) + "/" + std::to_string(frames_.back().elements);
  }
  // `key` of the innermost object.
  std::string MemberPointer(std::string_view key) const {
    return PointerThrough(frames_.size() - 1) + "/" + JsonPointerToken(key);
  }

 private:
  std::string PointerThrough(std::size_t frames) const {
    std::string pointer;
    for (std::size_t f = 0; f < frames; ++f) {
      const Frame& frame = frames_[f];
      if (frame.array) {
        if (frame.elements == 0) break;
        pointer += '/';
        pointer += std::to_string(frame.elements - 1);
      } else {
        const std::size_t end = f + 1 < frames_.size() ? frames_[f + 1].first_key : keys_.size();
        if (end == frame.first_key) break;
        pointer += '/';
        pointer += JsonPointerToken(KeyAt(end - 1));
      }
    }
    return pointer;
  }

  // Objects have a few dozen keys at most (an image about fifteen): for
  // them a scan is cheapest. Beyond that an ordered index keeps a hostile
  // object of a million keys from costing a million squared comparisons.
  static constexpr std::size_t kLinearKeys = 32;

  struct KeyEntry {
    std::uint64_t fingerprint;
    std::uint32_t offset;  // in arena_
    std::uint32_t size;
  };
  struct KeyLess {
    const JsonPath* path;
    bool operator()(std::size_t a, std::size_t b) const { return path->KeyAt(a) < path->KeyAt(b); }
  };
  using KeyIndex = std::set<std::size_t, KeyLess>;
  struct Frame {
    bool array;
    std::size_t elements;            // values begun so far (arrays)
    std::size_t first_key;           // in keys_ (objects)
    std::size_t arena_start;         // arena_'s size when the frame opened
    std::unique_ptr<KeyIndex> many;  // past kLinearKeys keys
  };

  std::string_view KeyAt(std::size_t i) const {
    return {arena_.data() + keys_[i].offset, keys_[i].size};
  }
  void Append(std::string_view key, std::uint64_t fingerprint) {
    keys_.push_back({fingerprint, static_cast<std::uint32_t>(arena_.size()),
                     static_cast<std::uint32_t>(key.size())});
    arena_.append(key);
  }
  void IndexKeys(Frame& frame) {
    frame.many = std::make_unique<KeyIndex>(KeyLess{this});
    for (std::size_t i = frame.first_key; i < keys_.size(); ++i) frame.many->insert(i);
  }

  std::vector<Frame> frames_;
  std::vector<KeyEntry> keys_;  // of the open objects, outermost first
  std::string arena_;           // their bytes
};

// ---------------------------------------------------------------------------
// The rules, between RapidJSON's reader and what takes the events.

// `Out` takes the events: a Document, a schema validator, or a locator.
template <typename Out>
class RulesHandler {
 public:
  RulesHandler(Out* out, const rapidjson::MemoryStream* stream, std::string_view text,
               int max_depth)
      : out_(out), stream_(stream), text_(text), max_depth_(max_depth) {}

  bool Null() {
    path_.StartValue();
    return out_->Null();
  }
  bool Bool(bool b) {
    path_.StartValue();
    return out_->Bool(b);
  }
  // Not called: kParseNumbersAsStringsFlag sends every number to RawNumber().
  bool Int(int i) { return out_->Int(i); }
  bool Uint(unsigned u) { return out_->Uint(u); }
  bool Int64(std::int64_t i) { return out_->Int64(i); }
  bool Uint64(std::uint64_t u) { return out_->Uint64(u); }
  bool Double(double d) { return out_->Double(d); }
  bool RawNumber(const char* s, SizeType n, bool /*copy*/) {
    path_.StartValue();
    return Number(s, n);
  }
  bool String(const char* s, SizeType n, bool copy) {
    path_.StartValue();
    return Text(s, n) && out_->String(s, n, copy);
  }
  bool Key(const char* s, SizeType n, bool copy) {
    // Checked first, so that the refusal's pointer never holds the bad key.
    if (!Text(s, n)) return false;
    const std::string_view key(s, n);
    if (!path_.Key(key)) {
      return Refuse(JsonRule::kDuplicateKey, TokenKind::kString, path_.MemberPointer(key),
                    "the key " + QuoteUntrusted(key) +
                        " appears twice in one object, and readers disagree on which of its "
                        "values counts");
    }
    return out_->Key(s, n, copy);
  }
  bool StartObject() { return Open(false) && out_->StartObject(); }
  bool EndObject(SizeType members) {
    path_.Close();
    return out_->EndObject(members);
  }
  bool StartArray() { return Open(true) && out_->StartArray(); }
  bool EndArray(SizeType elements) {
    path_.Close();
    return out_->EndArray(elements);
  }

  const JsonPath& path() const { return path_; }
  std::optional<JsonRefusal>& refusal() { return refusal_; }

 private:
  bool Refuse(JsonRule rule, TokenKind kind, std::string pointer, std::string reason) {
    const std::size_t at = stream_->Tell();
    refusal_ =
        JsonRefusal{rule, at, TokenStart(text_, at, kind), std::move(pointer), std::move(reason)};
    return false;
  }
  bool Open(bool array) {
    path_.StartValue();
    if (path_.depth() >= max_depth_) {
      return Refuse(JsonRule::kTooDeep, TokenKind::kBracket, path_.Pointer(),
                    "it nests deeper than " + std::to_string(max_depth_) + " levels");
    }
    path_.Open(array);
    return true;
  }
  // The text's bytes are UTF-8 (CheckJsonText), so only an escape can have
  // made a decoded string invalid, and the only invalid text an escape can
  // make is a lone surrogate, always encoded with the lead byte 0xED. Text
  // without that byte is valid as is; a full check of every string was a
  // fiftieth of verifying a list of 10,000 images.
  bool Text(const char* s, SizeType n) {
    if (std::memchr(s, 0xED, n) == nullptr) return true;
    if (IsValidUtf8(std::string_view(s, n))) return true;
    return Refuse(JsonRule::kUnpairedEscape, TokenKind::kString, path_.Pointer(),
                  "the string is not Unicode text (it has an unpaired \\u surrogate escape)");
  }
  // `s` follows the JSON number grammar (the reader checked it).
  bool Number(const char* s, SizeType n) {
    const char* end = s + n;
    if (std::string_view(s, n).find_first_of(".eE") == std::string_view::npos) {
      if (*s == '-') {
        std::int64_t i = 0;
        const auto [at, ec] = std::from_chars(s, end, i);
        if (ec == std::errc() && at == end) return out_->Int64(i);
      } else {
        std::uint64_t u = 0;
        const auto [at, ec] = std::from_chars(s, end, u);
        if (ec == std::errc() && at == end) return out_->Uint64(u);
      }
    }
    double d = 0;
    const auto [at, ec] = std::from_chars(s, end, d);
    if (ec != std::errc() || at != end) {
      return Refuse(JsonRule::kNumberOutOfRange, TokenKind::kLiteral, path_.Pointer(),
                    NumberReason({s, n}));
    }
    return out_->Double(d);
  }

  Out* out_;
  const rapidjson::MemoryStream* stream_;
  std::string_view text_;
  int max_depth_;
  JsonPath path_;
  std::optional<JsonRefusal> refusal_;
};

constexpr unsigned kStrictFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag;
constexpr unsigned kCommentedFlags =
    kStrictFlags | rapidjson::kParseCommentsFlag | rapidjson::kParseTrailingCommasFlag;

// One read of a text through the rules into `out`.
template <typename Out>
class Reading {
 public:
  Reading(std::string_view text, const JsonReadOptions& options, Out* out)
      : text_(text),
        syntax_(options.syntax),
        stream_(text.data(), text.size()),
        handler_(out, &stream_, text, options.max_depth) {}

  const JsonPath& path() const { return handler_.path(); }
  const rapidjson::MemoryStream& stream() const { return stream_; }

  // Empty when `out` took the whole document. A stop by `out` itself is a
  // kSyntax refusal that callers of this file tell apart by context.
  std::optional<JsonRefusal> Run() {
    if (text_.substr(0, kByteOrderMark.size()) == kByteOrderMark) {
      for (std::size_t i = 0; i < kByteOrderMark.size(); ++i) stream_.Take();
    }
    rapidjson::Reader reader;
    const rapidjson::ParseResult result = syntax_ == JsonSyntax::kCommented
                                              ? reader.Parse<kCommentedFlags>(stream_, handler_)
                                              : reader.Parse<kStrictFlags>(stream_, handler_);
    if (!result.IsError()) return std::nullopt;
    if (std::optional<JsonRefusal>& refusal = handler_.refusal()) return std::move(refusal);
    if (result.Code() == rapidjson::kParseErrorNumberTooBig) return NumberTooBig(result.Offset());
    return JsonRefusal{JsonRule::kSyntax, result.Offset(), result.Offset(), path().Pointer(),
                       rapidjson::GetParseError_En(result.Code())};
  }

 private:
  // RapidJSON refuses some numbers before the handler sees them (1e309, and
  // integers of more than 308 digits), naming the number's first byte: the
  // same rule as the handler's, said the same way.
  JsonRefusal NumberTooBig(std::size_t start) const {
    std::size_t end = start;
    while (end < text_.size() && IsLiteralChar(text_[end])) ++end;
    return JsonRefusal{JsonRule::kNumberOutOfRange, end, start, path().NextValuePointer(),
                       NumberReason(text_.substr(start, end - start))};
  }

  std::string_view text_;
  JsonSyntax syntax_;
  rapidjson::MemoryStream stream_;
  RulesHandler<Out> handler_;
};

// Takes events and keeps nothing: where a prefix of the text leads.
struct NullOut {
  bool Null() { return true; }
  bool Bool(bool) { return true; }
  bool Int(int) { return true; }
  bool Uint(unsigned) { return true; }
  bool Int64(std::int64_t) { return true; }
  bool Uint64(std::uint64_t) { return true; }
  bool Double(double) { return true; }
  bool RawNumber(const char*, SizeType, bool) { return true; }
  bool String(const char*, SizeType, bool) { return true; }
  bool Key(const char*, SizeType, bool) { return true; }
  bool StartObject() { return true; }
  bool EndObject(SizeType) { return true; }
  bool StartArray() { return true; }
  bool EndArray(SizeType) { return true; }
};

// Stops at the first token whose pointer is the target, noting where it
// begins. The rules handler has moved the path before each call.
class Locator {
 public:
  explicit Locator(std::string_view target) : target_(target) {}
  void Attach(const JsonPath* path, const rapidjson::MemoryStream* stream, std::string_view text) {
    path_ = path;
    stream_ = stream;
    text_ = text;
  }

  bool Null() { return !Found(TokenKind::kLiteral); }
  bool Bool(bool) { return !Found(TokenKind::kLiteral); }
  bool Int(int) { return !Found(TokenKind::kLiteral); }
  bool Uint(unsigned) { return !Found(TokenKind::kLiteral); }
  bool Int64(std::int64_t) { return !Found(TokenKind::kLiteral); }
  bool Uint64(std::uint64_t) { return !Found(TokenKind::kLiteral); }
  bool Double(double) { return !Found(TokenKind::kLiteral); }
  bool RawNumber(const char*, SizeType, bool) { return !Found(TokenKind::kLiteral); }
  bool String(const char*, SizeType, bool) { return !Found(TokenKind::kString); }
  bool Key(const char*, SizeType, bool) { return !Found(TokenKind::kString); }
  bool StartObject() { return !Found(TokenKind::kBracket); }
  bool EndObject(SizeType) { return true; }
  bool StartArray() { return !Found(TokenKind::kBracket); }
  bool EndArray(SizeType) { return true; }

  std::optional<std::size_t> found() const { return found_; }

 private:
  bool Found(TokenKind kind) {
    if (path_->Pointer() != target_) return false;
    found_ = TokenStart(text_, stream_->Tell(), kind);
    return true;
  }

  std::string_view target_;
  const JsonPath* path_ = nullptr;
  const rapidjson::MemoryStream* stream_ = nullptr;
  std::string_view text_;
  std::optional<std::size_t> found_;
};

JsonRefusal NotUtf8(std::string_view text, const JsonReadOptions& options, std::size_t bad) {
  // The pointer is where a read of the valid text before the byte leads.
  NullOut out;
  Reading<NullOut> prefix(text.substr(0, bad), options, &out);
  static_cast<void>(prefix.Run());
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned char>(text[bad]));
  return JsonRefusal{JsonRule::kNotUtf8, bad, bad, prefix.path().Pointer(),
                     std::string("it is not UTF-8 text (the byte ") + byte + ")"};
}

}  // namespace

std::optional<JsonRefusal> CheckJsonText(std::string_view text, const JsonReadOptions& options) {
  if (text.size() > options.max_bytes) {
    return JsonRefusal{JsonRule::kTooLarge, options.max_bytes, options.max_bytes, "",
                       "it is " + std::to_string(text.size()) + " bytes, more than the " +
                           std::to_string(options.max_bytes) + " bytes allowed"};
  }
  // All of the text at once, rather than RapidJSON's check of each character
  // of each string (kParseValidateEncodingFlag), which cost three times as
  // much.
  const std::size_t bad = FirstInvalidUtf8(text);
  if (bad != std::string_view::npos) return NotUtf8(text, options, bad);
  return std::nullopt;
}

JsonReadResult ParseCheckedJson(std::string_view text, const JsonReadOptions& options) {
  rapidjson::Document doc;
  std::optional<JsonRefusal> refusal;
  // Populate() builds the document without recursion.
  auto generate = [&](rapidjson::Document& target) {
    refusal = Reading<rapidjson::Document>(text, options, &target).Run();
    return !refusal.has_value();
  };
  doc.Populate(generate);
  if (refusal) return *std::move(refusal);
  return JsonReadResult(std::move(doc));
}

JsonReadResult ReadJson(std::string_view text, const JsonReadOptions& options) {
  if (std::optional<JsonRefusal> refusal = CheckJsonText(text, options)) {
    return *std::move(refusal);
  }
  return ParseCheckedJson(text, options);
}

bool ReadCheckedJsonEvents(std::string_view text, const JsonReadOptions& options,
                           rapidjson::SchemaValidator* validator) {
  return !Reading<rapidjson::SchemaValidator>(text, options, validator).Run().has_value();
}

std::optional<std::size_t> FindJsonValue(std::string_view text, const JsonReadOptions& options,
                                         std::string_view pointer) {
  Locator locator(pointer);
  Reading<Locator> reading(text, options, &locator);
  locator.Attach(&reading.path(), &reading.stream(), text);
  static_cast<void>(reading.Run());  // stopped early when found
  return locator.found();
}

TextPosition PositionOf(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  TextPosition position;
  std::size_t line_start = 0;
  if (text.substr(0, kByteOrderMark.size()) == kByteOrderMark) {
    line_start = std::min(offset, kByteOrderMark.size());
  }
  for (std::size_t i = line_start; i < offset; ++i) {
    if (text[i] == '\n') {
      ++position.line;
      line_start = i + 1;
    }
  }
  for (std::size_t i = line_start; i < offset; ++i) {
    const bool continuation = (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80;
    if (!continuation) ++position.column;
  }
  return position;
}

std::string JsonPointerToken(std::string_view key) {
  std::string token;
  token.reserve(key.size());
  for (const char c : key) {
    if (c == '~') {
      token += "~0";
    } else if (c == '/') {
      token += "~1";
    } else {
      token += c;
    }
  }
  return token;
}

std::string QuoteUntrusted(std::string_view text) {
  constexpr std::size_t kMaxQuoted = 80;
  // Appended piecewise: GCC 12 at -O3 warns falsely (-Wrestrict) on "\"" + s.
  std::string quoted(1, '"');
  quoted += EscapeForLog(text.substr(0, kMaxQuoted));
  quoted += '"';
  if (text.size() > kMaxQuoted) quoted += "...";
  return quoted;
}

}  // namespace vmc
