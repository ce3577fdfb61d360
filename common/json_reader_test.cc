#include "common/json_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace vmc {
namespace {

constexpr JsonReadOptions kStrict{.max_bytes = 4096, .max_depth = 4, .syntax = JsonSyntax::kStrict};
constexpr JsonReadOptions kCommented{
    .max_bytes = 4096, .max_depth = 4, .syntax = JsonSyntax::kCommented};

struct Refused {
  const char* name;
  std::string text;
  JsonRule rule;
  std::size_t offset;
  std::size_t start;
  std::string pointer;
  std::string reason;  // a part of it
};

void ExpectRefused(const Refused& c, const JsonReadOptions& options) {
  SCOPED_TRACE(c.name);
  const JsonReadResult read = ReadJson(c.text, options);
  ASSERT_FALSE(read.ok());
  const JsonRefusal& refusal = read.refusal();
  EXPECT_EQ(refusal.rule, c.rule) << refusal.reason;
  EXPECT_EQ(refusal.offset, c.offset) << refusal.reason;
  EXPECT_EQ(refusal.start, c.start) << refusal.reason;
  EXPECT_EQ(refusal.pointer, c.pointer) << refusal.reason;
  EXPECT_NE(refusal.reason.find(c.reason), std::string::npos) << refusal.reason;
}

void ExpectAccepted(std::string_view text, const JsonReadOptions& options) {
  const JsonReadResult read = ReadJson(text, options);
  EXPECT_TRUE(read.ok()) << text.substr(0, 200) << ": " << (read.ok() ? "" : read.refusal().reason);
}

// ---------------------------------------------------------------------------
// Size and depth

TEST(JsonReaderTest, SizeAtTheLimitReadsAndOneByteMoreIsRefused) {
  JsonReadOptions options = kStrict;
  options.max_bytes = 10;
  ExpectAccepted("[1,2,3,45]", options);
  ExpectRefused({"11 bytes", "[1,2,3,456]", JsonRule::kTooLarge, 10, 10, "", "it is 11 bytes"},
                options);
}

TEST(JsonReaderTest, DepthAtTheLimitReadsAndOneLevelMoreIsRefused) {
  ExpectAccepted("[[[[]]]]", kStrict);
  ExpectAccepted(R"({"a": {"b": {"c": {"d": 1}}}})", kStrict);
  ExpectAccepted(R"([[[[1]], [[2]]]])", kStrict);  // siblings do not add up
  const Refused kCases[] = {
      {"arrays", "[[[[[]]]]]", JsonRule::kTooDeep, 4, 4, "/0/0/0/0", "deeper than 4 levels"},
      {"objects", R"({"a": {"b": {"c": {"d": {}}}}})", JsonRule::kTooDeep, 24, 24, "/a/b/c/d",
       "deeper than 4 levels"},
      {"second sibling", R"([[[[1]], [[[2]]]]])", JsonRule::kTooDeep, 11, 11, "/0/1/0/0",
       "deeper than 4 levels"},
  };
  for (const auto& c : kCases) ExpectRefused(c, kStrict);
}

// ---------------------------------------------------------------------------
// Keys

TEST(JsonReaderTest, KeyTwiceInOneObjectIsRefusedWhereTheSecondIsWritten) {
  const Refused kCases[] = {
      {"top level", R"({"a": 1, "a": 2})", JsonRule::kDuplicateKey, 12, 9, "/a", "the key \"a\""},
      {"nested", R"({"x": {"k": 1, "k": [2]}})", JsonRule::kDuplicateKey, 18, 15, "/x/k",
       "appears twice in one object"},
      {"in an array element", R"([{}, {"k": 1, "j": 2, "k": 3}])", JsonRule::kDuplicateKey, 25, 22,
       "/1/k", "\"k\""},
      // The decoded keys are compared: an escape is no way around the rule.
      {"escaped", R"({"ab": 1, "a\u0062": 2})", JsonRule::kDuplicateKey, 19, 10, "/ab", "\"ab\""},
      {"empty key", R"({"": 1, "": 2})", JsonRule::kDuplicateKey, 10, 8, "/", "\"\""},
      // Same length, same first and last eight bytes: a fingerprint
      // collision, told apart by the bytes.
      {"look-alikes then the same",
       R"({"abcdefghXijklmnop": 1, "abcdefghYijklmnop": 2, )"
       R"("abcdefghXijklmnop": 3})",
       JsonRule::kDuplicateKey, 68, 49, "/abcdefghXijklmnop", "twice"},
  };
  for (const auto& c : kCases) ExpectRefused(c, kStrict);
  ExpectAccepted(R"([{"a": 1}, {"a": 1}])", kStrict);  // one key per object
  ExpectAccepted(R"({"a": {"a": {"a": 1}}})", kStrict);
  ExpectAccepted(R"({"abcdefghXijklmnop": 1, "abcdefghYijklmnop": 2})", kStrict);
}

// Beyond 32 keys an object is indexed rather than scanned: the rule is the
// same on both sides of that line, and at it.
TEST(JsonReaderTest, KeyTwiceInALargeObjectIsRefused) {
  const auto object = [](int keys, int repeated) {
    std::string text = "{";
    for (int i = 0; i < keys; ++i) text += "\"key" + std::to_string(i) + "\": " + "1, ";
    if (repeated >= 0) text += "\"key" + std::to_string(repeated) + "\": 2, ";
    text += "\"last\": 0}";
    return text;
  };
  JsonReadOptions options = kStrict;
  options.max_bytes = std::size_t{1} << 20;
  for (const int keys : {31, 32, 33, 1000}) {
    SCOPED_TRACE(keys);
    ExpectAccepted(object(keys, -1), options);
    for (const int repeated : {0, keys / 2, keys - 1}) {
      const JsonReadResult read = ReadJson(object(keys, repeated), options);
      ASSERT_FALSE(read.ok()) << repeated;
      EXPECT_EQ(read.refusal().rule, JsonRule::kDuplicateKey);
      EXPECT_EQ(read.refusal().pointer, "/key" + std::to_string(repeated));
    }
  }
}

// ---------------------------------------------------------------------------
// Text

TEST(JsonReaderTest, TextThatIsNotUtf8IsRefused) {
  const Refused kCases[] = {
      {"a byte that starts nothing", "{\"a\": \"\xff\"}", JsonRule::kNotUtf8, 7, 7, "/a",
       "not UTF-8 text (the byte 0xff)"},
      {"overlong slash", "[\"\xc0\xaf\"]", JsonRule::kNotUtf8, 2, 2, "", "0xc0"},
      {"encoded surrogate", "[1, \"\xed\xa0\x80\"]", JsonRule::kNotUtf8, 5, 5, "/0", "0xed"},
      {"beyond U+10FFFF", "[\"\xf4\x90\x80\x80\"]", JsonRule::kNotUtf8, 2, 2, "", "0xf4"},
      {"truncated sequence", "{\"k\xc3\": 1}", JsonRule::kNotUtf8, 3, 3, "", "0xc3"},
      {"outside strings", "[1,\xa0 2]", JsonRule::kNotUtf8, 3, 3, "/0", "0xa0"},
  };
  for (const auto& c : kCases) ExpectRefused(c, kStrict);
  // A comment is text of the file too.
  ExpectRefused({"in a comment", "{} // Z\xfcrich\n", JsonRule::kNotUtf8, 7, 7, "", "0xfc"},
                kCommented);
  ExpectAccepted("{\"a\": \"Z\xc3\xbcrich \xf0\x9f\x98\x80\"} // Z\xc3\xbcrich\n", kCommented);
}

// RapidJSON 1.1.0 decodes an unpaired surrogate escape into bytes that are
// not UTF-8; the reader refuses the string (found by test/fuzz).
TEST(JsonReaderTest, UnpairedSurrogateEscapeIsRefused) {
  const Refused kCases[] = {
      {"low alone", R"({"a": "x\udc00y"})", JsonRule::kUnpairedEscape, 16, 6, "/a",
       "not Unicode text"},
      {"in an array", R"([1, "\udfff"])", JsonRule::kUnpairedEscape, 12, 4, "/1", "surrogate"},
      // The pointer never holds the bad key.
      {"in a key", R"({"a": 1, "x\ud83d\ude00\udc01": 2})", JsonRule::kUnpairedEscape, 30, 9, "/a",
       "surrogate"},
  };
  for (const auto& c : kCases) ExpectRefused(c, kStrict);
  JsonReadResult paired = ReadJson(R"(["\ud83d\ude00"])", kStrict);
  ASSERT_TRUE(paired.ok());
  EXPECT_EQ(std::string(paired.document()[0].GetString()), "\xf0\x9f\x98\x80");
}

// ---------------------------------------------------------------------------
// Numbers

TEST(JsonReaderTest, NumbersAreExactIntegersOrCorrectlyRoundedDoubles) {
  JsonReadResult read = ReadJson(
      "[18446744073709551615, 18446744073709551616, -9223372036854775808, "
      "-9223372036854775809, 8.1, 0e-65, 1.7976931348623157e308, -0]",
      kStrict);
  ASSERT_TRUE(read.ok()) << read.refusal().reason;
  const rapidjson::Document& doc = read.document();
  EXPECT_TRUE(doc[0].IsUint64());
  EXPECT_EQ(doc[0].GetUint64(), 18446744073709551615u);
  EXPECT_TRUE(doc[1].IsDouble());  // past 64 bits
  EXPECT_EQ(doc[1].GetDouble(), 18446744073709551616.0);
  EXPECT_TRUE(doc[2].IsInt64());
  EXPECT_EQ(doc[2].GetInt64(), INT64_MIN);
  EXPECT_TRUE(doc[3].IsDouble());
  EXPECT_EQ(doc[4].GetDouble(), 8.1);  // the nearest double, not one unit off
  EXPECT_EQ(doc[5].GetDouble(), 0.0);
  EXPECT_EQ(doc[6].GetDouble(), 1.7976931348623157e308);
  EXPECT_TRUE(doc[7].IsInt64());
}

TEST(JsonReaderTest, NumbersNoDoubleHoldsAreRefused) {
  const Refused kCases[] = {
      {"too big", R"({"n": 1e309})", JsonRule::kNumberOutOfRange, 11, 6, "/n",
       "the number 1e309 is beyond the range of a double"},
      {"too big, negative", R"([0, -1.8e308])", JsonRule::kNumberOutOfRange, 12, 4, "/1",
       "-1.8e308"},
      {"rounds to zero", R"([2e-324])", JsonRule::kNumberOutOfRange, 7, 1, "/0", "2e-324"},
      {"long", "[" + std::string(400, '9') + "]", JsonRule::kNumberOutOfRange, 401, 1, "/0",
       std::string(40, '9') + "... is beyond"},
  };
  for (const auto& c : kCases) ExpectRefused(c, kStrict);
}

// ---------------------------------------------------------------------------
// Syntax

TEST(JsonReaderTest, StrictSyntaxIsRfc8259) {
  const Refused kCases[] = {
      {"empty", "", JsonRule::kSyntax, 0, 0, "", "The document is empty."},
      {"trailing data", "{} x", JsonRule::kSyntax, 3, 3, "", "not be followed by other values"},
      {"two documents", "[1][2]", JsonRule::kSyntax, 3, 3, "", "not be followed"},
      {"trailing comma", R"({"a": [1, 2,]})", JsonRule::kSyntax, 12, 12, "/a/1", ""},
      {"comment", "// a list\n{}", JsonRule::kSyntax, 0, 0, "", ""},
      {"NaN", R"({"a": NaN})", JsonRule::kSyntax, 6, 6, "/a", ""},
      {"single quotes", R"({'a': 1})", JsonRule::kSyntax, 1, 1, "", ""},
      {"raw control character", "[\"\x01\"]", JsonRule::kSyntax, 2, 2, "", ""},
      {"missing comma", R"({"a": 1 "b": 2})", JsonRule::kSyntax, 8, 8, "/a",
       "Missing a comma or '}'"},
  };
  for (const auto& c : kCases) ExpectRefused(c, kStrict);
  ExpectAccepted(" {} \n\t", kStrict);
}

TEST(JsonReaderTest, CommentedSyntaxAddsCommentsAndTrailingCommasOnly) {
  ExpectAccepted("// the policy\n{\"a\": [1, 2,], /* b */ \"b\": {\"c\": 1,},}\n", kCommented);
  const Refused kCases[] = {
      {"unterminated comment", "{\n/* never closed\n}\n", JsonRule::kSyntax, 20, 20, "", ""},
      {"trailing data", "{} // end\n{}", JsonRule::kSyntax, 10, 10, "", "not be followed"},
      {"key twice", "{\"a\": 1, // first\n \"a\": 2}", JsonRule::kDuplicateKey, 22, 19, "/a",
       "twice"},
      {"too deep", "[[[[/* 5 */[]]]]]", JsonRule::kTooDeep, 11, 11, "/0/0/0/0", "deeper"},
  };
  for (const auto& c : kCases) ExpectRefused(c, kCommented);
}

// RFC 8259 lets a reader ignore a byte order mark; offsets still count it.
TEST(JsonReaderTest, ByteOrderMarkIsSkippedAndCounted) {
  ExpectAccepted("\xEF\xBB\xBF{}", kStrict);
  ExpectAccepted("\xEF\xBB\xBF{}", kCommented);
  ExpectRefused({"after a mark", "\xEF\xBB\xBF{\"a\": 1, \"a\": 2}", JsonRule::kDuplicateKey, 15,
                 12, "/a", "twice"},
                kStrict);
  // Only at the start, and only whole.
  ExpectRefused({"mark inside", "[\xEF\xBB\xBF]", JsonRule::kSyntax, 1, 1, "", "Invalid value"},
                kStrict);
  ExpectRefused({"half a mark", "\xEF\xBB{}", JsonRule::kNotUtf8, 0, 0, "", "0xef"}, kStrict);
}

// ---------------------------------------------------------------------------
// Where a value is written, for messages

TEST(JsonReaderTest, FindJsonValueNamesTheKeyOrTheElement) {
  const std::string text = "// c\n{\"a\": {\"b/c\": [10, {\"d\": null}]}, \"e\": true}";
  const struct {
    const char* pointer;
    std::optional<std::size_t> offset;
  } kCases[] = {
      {"", 5},                            // the root
      {"/a", text.find("\"a\"")},         // a member: its key
      {"/a/b~1c", text.find("\"b/c\"")},  // escaped token
      {"/a/b~1c/0", text.find("10")},     // an element: itself
      {"/a/b~1c/1", text.find("{\"d\"")},
      {"/a/b~1c/1/d", text.find("\"d\"")},
      {"/e", text.find("\"e\"")},
      {"/x", std::nullopt},
      {"/a/b~1c/2", std::nullopt},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(FindJsonValue(text, kCommented, c.pointer), c.offset) << c.pointer;
  }
}

TEST(JsonReaderTest, PositionCountsLinesAndCharactersAsAnEditorDoes) {
  const std::string text = "\xEF\xBB\xBF{\n  \"Z\xc3\xbcrich\": \"x\"\n}";
  const struct {
    std::size_t offset;
    std::size_t line;
    std::size_t column;
  } kCases[] = {
      {0, 1, 1},           {3, 1, 1},  // the mark is no column
      {4, 1, 2},           {5, 2, 1},
      {7, 2, 3},           {text.find(':'), 2, 11},  // "ü" is two bytes, one column
      {text.size(), 3, 2}, {text.size() + 100, 3, 2},
  };
  for (const auto& c : kCases) {
    const TextPosition position = PositionOf(text, c.offset);
    EXPECT_EQ(position.line, c.line) << c.offset;
    EXPECT_EQ(position.column, c.column) << c.offset;
  }
}

TEST(JsonReaderTest, PointerTokensEscapeTildeAndSlash) {
  EXPECT_EQ(JsonPointerToken("a/b~c"), "a~1b~0c");
  EXPECT_EQ(JsonPointerToken("~1"), "~01");
  EXPECT_EQ(JsonPointerToken(""), "");
}

}  // namespace
}  // namespace vmc
