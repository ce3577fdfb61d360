#include "common/record_codec.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace vmc {
namespace {

constexpr TimePoint kT{std::chrono::seconds{1893456000}};  // 2030-01-01

RecordPlace Place() { return {"catcher", "lists", "sub"}; }

// The bytes every field type is written as: what the databases on sites hold.
TEST(RecordWriterTest, WritesEachFieldTypeInOrder) {
  RecordWriter w;
  w.Str("s", "a \"q\"\n")
      .Int("i", -5)
      .Bool("b", true)
      .Time("t", kT)
      .StrArray("a", {"x", ""})
      .Base64Array("d", {std::string("\0\xff", 2)})
      .Base64("e", std::string("\0\xfe", 2))
      .StrMap("m", {{"k2", "v2"}, {"k1", "v1"}})
      .Object("o", [](RecordWriter& o) { o.Str("in", "side"); });
  EXPECT_EQ(
      w.Finish(),
      R"({"s":"a \"q\"\n","i":-5,"b":true,"t":1893456000,"a":["x",""],"d":["AP8="],"e":"AP4=",)"
      R"("m":{"k1":"v1","k2":"v2"},"o":{"in":"side"}})");
}

TEST(RecordReaderTest, ReadsBackWhatWasWritten) {
  const std::string every_byte = [] {
    std::string s;
    for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
    return s;
  }();
  RecordWriter w;
  w.Str("s", std::string("nul\0inside", 10))
      .Int("i", 2147483647)
      .Bool("b", false)
      .Time("t", kT)
      .StrArray("a", {"x", "y"})
      .Base64Array("d", {every_byte, "", "a", "ab", "abc"})
      .Base64("e", every_byte)
      .StrMap("m", {{"k", "v"}, {"l", ""}})
      .Object("o", [](RecordWriter& o) { o.Time("at", kT + std::chrono::hours(1)); });
  const std::string json = w.Finish();

  RecordReader r(Place(), json);
  EXPECT_EQ(r.Str("s"), std::string("nul\0inside", 10));
  EXPECT_EQ(r.Int("i"), 2147483647);
  EXPECT_FALSE(r.Bool("b"));
  EXPECT_EQ(r.Time("t"), kT);
  EXPECT_EQ(r.StrArray("a"), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(r.Base64Array("d"), (std::vector<std::string>{every_byte, "", "a", "ab", "abc"}));
  EXPECT_EQ(r.Base64("e"), every_byte);
  EXPECT_EQ(r.StrMap("m"), (std::map<std::string, std::string>{{"k", "v"}, {"l", ""}}));
  TimePoint at{};
  r.Object("o", [&](RecordReader& o) { at = o.Time("at"); });
  EXPECT_EQ(at, kT + std::chrono::hours(1));
  EXPECT_TRUE(r.Has("s"));
  EXPECT_FALSE(r.Has("absent"));
  EXPECT_TRUE(r.status().ok()) << r.status().error().ToString();
}

void ExpectDamagedLists(const Status& status) {
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kStorage);
  EXPECT_EQ(status.error().message(), "the catcher database entry lists/sub is damaged");
  const std::string json = status.error().ToJson();
  EXPECT_NE(json.find(R"("database":"lists")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("key":"sub")"), std::string::npos) << json;
}

TEST(RecordReaderTest, ValuesThatAreNotRecordsAreDamaged) {
  for (const char* json : {"", "{not json", "[]", "\"text\"", "null", "{} trailing"}) {
    SCOPED_TRACE(json);
    RecordReader r(Place(), json);
    EXPECT_FALSE(r.Has("s"));
    EXPECT_EQ(r.Str("s"), "");
    ExpectDamagedLists(r.status());
  }
}

// Each getter, given a missing field or one of another type, reports damage.
TEST(RecordReaderTest, MissingOrMistypedFieldsAreDamaged) {
  const std::string json =
      R"({"s":1,"i":"1","big":4294967296,"b":0,"t":1.5,"a":["x",2],"m":{"k":[]},"o":[],)"
      R"("d":["AP8"],"e":"AP8"})";
  const std::vector<std::pair<std::string, std::function<void(RecordReader&)>>> reads = {
      {"string as number", [](RecordReader& r) { EXPECT_EQ(r.Str("s"), ""); }},
      {"int as string", [](RecordReader& r) { EXPECT_EQ(r.Int("i"), 0); }},
      {"int out of range", [](RecordReader& r) { EXPECT_EQ(r.Int("big"), 0); }},
      {"bool as number", [](RecordReader& r) { EXPECT_FALSE(r.Bool("b")); }},
      {"time as fraction", [](RecordReader& r) { EXPECT_EQ(r.Time("t"), TimePoint{}); }},
      {"array of mixed", [](RecordReader& r) { EXPECT_TRUE(r.StrArray("a").empty()); }},
      {"map of array", [](RecordReader& r) { EXPECT_TRUE(r.StrMap("m").empty()); }},
      {"object as array", [](RecordReader& r) { r.Object("o", [](RecordReader&) { FAIL(); }); }},
      {"bad base64", [](RecordReader& r) { EXPECT_TRUE(r.Base64Array("d").empty()); }},
      {"bad base64 value", [](RecordReader& r) { EXPECT_EQ(r.Base64("e"), ""); }},
      {"missing string", [](RecordReader& r) { r.Str("absent"); }},
      {"missing int", [](RecordReader& r) { r.Int("absent"); }},
      {"missing time", [](RecordReader& r) { r.Time("absent"); }},
      {"missing array", [](RecordReader& r) { r.StrArray("absent"); }},
      {"missing object", [](RecordReader& r) { r.Object("absent", [](RecordReader&) {}); }},
  };
  for (const auto& [what, read] : reads) {
    SCOPED_TRACE(what);
    RecordReader r(Place(), json);
    ASSERT_TRUE(r.status().ok());
    read(r);
    ExpectDamagedLists(r.status());
  }
}

TEST(RecordReaderTest, DamageInsideANestedObjectIsTheRecords) {
  RecordReader r(Place(), R"({"o":{"at":"soon"}})");
  r.Object("o", [](RecordReader& o) { o.Time("at"); });
  ExpectDamagedLists(r.status());
}

TEST(RecordReaderTest, ADecodersOwnCheckMarksDamage) {
  RecordReader r(Place(), R"({"mode":"sideways"})");
  EXPECT_EQ(r.Str("mode"), "sideways");
  ASSERT_TRUE(r.status().ok());
  r.Fail();
  ExpectDamagedLists(r.status());
}

TEST(Base64Test, RoundTripsEveryLength) {
  std::string bytes;
  for (int n = 0; n < 70; ++n) {
    SCOPED_TRACE(n);
    const std::string text = ToBase64(bytes);
    EXPECT_EQ(text.size() % 4, 0u);
    EXPECT_EQ(text.find_first_of("\r\n "), std::string::npos);
    EXPECT_EQ(FromBase64(text), bytes);
    bytes.push_back(static_cast<char>(n * 37));
  }
  EXPECT_EQ(ToBase64("any carnal pleas"), "YW55IGNhcm5hbCBwbGVhcw==");
}

// EVP_DecodeBlock alone would read several of these.
TEST(Base64Test, AnythingButPaddedBase64IsRefused) {
  for (const char* text : {"YWJ", "YW=j", "=YWJ", "YWJj ", " YWJj", "YW\nJj", "YWJj\n", "YW-_",
                           "Y===", "====", "YWJj====", "YW\x80j"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(FromBase64(text).has_value());
  }
}

}  // namespace
}  // namespace vmc
