#include "common/schema.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace vmc {
namespace {

constexpr std::string_view kSchemaName = "imagelist.schema.json";

constexpr std::string_view kValidList = R"({"hv:imagelist": {
  "dc:identifier": "4e186b44-2c64-40ea-97d5-e9e5c0bce059",
  "dc:title": "t", "dc:source": "example.org",
  "dc:date:created": "2011-03-10T17:09:12Z", "dc:date:expires": "2011-04-07T17:09:12Z",
  "hv:version": "1",
  "hv:endorser": {"hv:x509": {"hv:dn": "/C=DE/CN=A", "hv:ca": "/C=DE/CN=CA"}},
  "hv:images": [{"hv:image": {
    "dc:identifier": "488dcdc4-9ab1-4fc8-a7ba-b7a5428ecb3d",
    "hv:uri": "http://example.org/a.img", "hv:size": 2147483648,
    "sl:checksum:sha512": "8b4c269a60da1061b434b696c4a89293bea847b66bd8ba486a914d4209df651193ee8d454f8231840b7500fab6740620c7111d9a17d08b743133dc393ba2c0d4"
  }}]}})";

rapidjson::Document ParseJson(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  EXPECT_FALSE(doc.HasParseError()) << text;
  return doc;
}

std::string Detail(const Error& error, std::string_view key) {
  for (const auto& [k, v] : error.details()) {
    if (k == key) return v;
  }
  return "<none>";
}

JsonSchema Compile(std::string_view root = "") {
  auto schema = JsonSchema::FromEmbedded(kSchemaName, root);
  EXPECT_TRUE(schema.ok()) << (schema.ok() ? "" : schema.error().ToString());
  return std::move(schema).value();
}

TEST(SchemaTest, ValidListPasses) {
  const JsonSchema schema = Compile();
  EXPECT_TRUE(schema.Validate(ParseJson(kValidList), "image list").ok());
}

TEST(SchemaTest, UnknownSchemaOrRootIsNotFound) {
  const auto missing = JsonSchema::FromEmbedded("nosuch.schema.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  const auto bad_root = JsonSchema::FromEmbedded(kSchemaName, "/definitions/nosuch");
  ASSERT_FALSE(bad_root.ok());
  EXPECT_EQ(bad_root.error().code(), ErrorCode::kNotFound);
  const auto not_json = JsonSchema::FromText("{\"type\": ", "broken");
  ASSERT_FALSE(not_json.ok());
  EXPECT_EQ(not_json.error().code(), ErrorCode::kJsonMalformed);
}

// RapidJSON silently drops a pattern its regex engine cannot compile, and the
// value then passes unchecked. Each definition is validated on its own (the
// root feature) with values it must accept and values it must reject.
TEST(SchemaTest, EveryPatternRejectsWhatItMust) {
  const std::string sha(128, 'a');
  const struct {
    const char* definition;
    std::vector<std::string> accepted;
    std::vector<std::string> rejected;  // as JSON text
  } kCases[] = {
      {"identifier",
       {R"("4e186b44-2c64-40ea-97d5-e9e5c0bce059")", R"("a")", R"("a.b:c_d-e")",
        "\"" + std::string(128, 'x') + "\""},
       {R"("../etc")", R"(".hidden")", R"("a/b")", R"("")", R"("a b")", R"(7)",
        "\"" + std::string(129, 'x') + "\""}},
      {"date",
       {R"("2011-03-10T17:09:12Z")", R"("2499-12-31T22:00:00Z")"},
       {R"("2011-03-10T17:09:12")", R"("2011-03-10T17:09:12.5Z")", R"("2011-03-10T17:09:12+00:00")",
        R"("2011-03-10 17:09:12Z")", R"("x2011-03-10T17:09:12Z")", R"("2011-03-10T17:09:12Zx")",
        R"(1299776952)"}},
      {"sha512",
       {"\"" + sha + "\"", "\"" + std::string(128, 'F') + "\""},
       {"\"" + std::string(127, 'a') + "\"", "\"" + std::string(129, 'a') + "\"",
        "\"" + std::string(127, 'a') + "g\"", R"("")"}},
      {"count",
       {"0", "2147483648", "18446744073709551615", R"("0")", R"("123")",
        R"("12345678901234567890")"},
       {"-1", "1.5", "1e3", R"("-5")", R"("abc")", R"("")", R"("12a")", R"(" 12")",
        R"("123456789012345678901")", "true", "null"}},
  };
  for (const auto& c : kCases) {
    const JsonSchema schema = Compile(std::string("/definitions/") + c.definition);
    for (const auto& json : c.accepted) {
      const Status s = schema.Validate(ParseJson(json), "value");
      EXPECT_TRUE(s.ok()) << c.definition << " should accept " << json << ": "
                          << (s.ok() ? "" : s.error().message());
    }
    for (const auto& json : c.rejected) {
      const Status s = schema.Validate(ParseJson(json), "value");
      EXPECT_FALSE(s.ok()) << c.definition << " should reject " << json;
      if (!s.ok()) {
        EXPECT_EQ(s.error().code(), ErrorCode::kSchemaViolation);
      }
    }
  }
}

TEST(SchemaTest, ReportsPointerKeywordAndValue) {
  const JsonSchema schema = Compile();
  auto doc = ParseJson(kValidList);
  doc["hv:imagelist"]["hv:images"][0]["hv:image"]["hv:size"].SetString("abc");
  const Status s = schema.Validate(doc, "image list");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kSchemaViolation);
  EXPECT_EQ(Detail(s.error(), "pointer"), "/hv:imagelist/hv:images/0/hv:image/hv:size");
  EXPECT_EQ(Detail(s.error(), "keyword"), "pattern");
  EXPECT_EQ(Detail(s.error(), "schema_pointer"), "/definitions/count");
  EXPECT_EQ(s.error().message().rfind(
                "image list violates the schema at /hv:imagelist/hv:images/0/hv:image/hv:size: "
                "\"abc\" does not match pattern (",
                0),
            0u)
      << s.error().message();
}

TEST(SchemaTest, ReportsTheWrongType) {
  const JsonSchema schema = Compile();
  auto doc = ParseJson(kValidList);
  doc["hv:imagelist"]["hv:images"][0]["hv:image"]["hv:size"].SetDouble(1.5);
  const Status s = schema.Validate(doc, "image list");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(Detail(s.error(), "keyword"), "type");
  EXPECT_NE(s.error().message().find("1.5 does not match type"), std::string::npos)
      << s.error().message();
}

TEST(SchemaTest, NamesTheMissingRequiredKey) {
  const JsonSchema schema = Compile();
  for (const char* key : {"dc:identifier", "dc:title", "dc:source", "dc:date:created",
                          "dc:date:expires", "hv:version", "hv:endorser", "hv:images"}) {
    auto doc = ParseJson(kValidList);
    doc["hv:imagelist"].RemoveMember(key);
    const Status s = schema.Validate(doc, "image list");
    ASSERT_FALSE(s.ok()) << key;
    EXPECT_EQ(Detail(s.error(), "pointer"), "/hv:imagelist") << key;
    EXPECT_EQ(Detail(s.error(), "keyword"), "required") << key;
    EXPECT_EQ(Detail(s.error(), "missing"), key);
    EXPECT_EQ(s.error().message(), std::string("image list violates the schema at /hv:imagelist: "
                                               "required key \"") +
                                       key + "\" is missing");
  }
  for (const char* key : {"dc:identifier", "hv:uri", "hv:size", "sl:checksum:sha512"}) {
    auto doc = ParseJson(kValidList);
    doc["hv:imagelist"]["hv:images"][0]["hv:image"].RemoveMember(key);
    const Status s = schema.Validate(doc, "image list");
    ASSERT_FALSE(s.ok()) << key;
    EXPECT_EQ(Detail(s.error(), "pointer"), "/hv:imagelist/hv:images/0/hv:image") << key;
    EXPECT_EQ(Detail(s.error(), "missing"), key);
  }
  auto doc = ParseJson(kValidList);
  doc["hv:imagelist"]["hv:endorser"]["hv:x509"].RemoveMember("hv:ca");
  const Status s = schema.Validate(doc, "image list");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(Detail(s.error(), "pointer"), "/hv:imagelist/hv:endorser/hv:x509");
  EXPECT_EQ(Detail(s.error(), "missing"), "hv:ca");
}

TEST(SchemaTest, OptionalKeysMayBeAbsentAndUnknownKeysAreAllowed) {
  const JsonSchema schema = Compile();
  auto doc = ParseJson(kValidList);
  auto& alloc = doc.GetAllocator();
  doc["hv:imagelist"].AddMember("ad:vo", "vo.example.org", alloc);
  doc["hv:imagelist"].AddMember("x:future", rapidjson::Value(rapidjson::kArrayType), alloc);
  doc["hv:imagelist"]["hv:images"][0]["hv:image"].AddMember("ad:user:fullname", "A B", alloc);
  doc.AddMember("sibling", 1, alloc);
  EXPECT_TRUE(schema.Validate(doc, "image list").ok());
}

TEST(SchemaTest, RootSelectsASubSchema) {
  // An old list without the wrapper is validated against the inner schema,
  // so pointers name the bytes the publisher wrote.
  const JsonSchema inner = Compile("/definitions/imagelist");
  auto doc = ParseJson(kValidList);
  rapidjson::Value list;
  list.CopyFrom(doc["hv:imagelist"], doc.GetAllocator());
  EXPECT_TRUE(inner.Validate(list, "image list").ok());
  list["hv:images"][0]["hv:image"]["dc:identifier"].SetString("../etc");
  const Status s = inner.Validate(list, "image list");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(Detail(s.error(), "pointer"), "/hv:images/0/hv:image/dc:identifier");
  EXPECT_EQ(Detail(s.error(), "schema_pointer"), "/definitions/identifier");
}

TEST(SchemaTest, ExcerptIsEscapedAndShort) {
  const JsonSchema schema = Compile("/definitions/identifier");
  rapidjson::Document doc;
  const std::string hostile = "\n\x1b[31mred" + std::string(500, 'x');
  doc.SetString(hostile.data(), static_cast<rapidjson::SizeType>(hostile.size()),
                doc.GetAllocator());
  const Status s = schema.Validate(doc, "value");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message().find('\n'), std::string::npos);
  EXPECT_EQ(s.error().message().find('\x1b'), std::string::npos);
  EXPECT_LT(s.error().message().size(), 400u) << s.error().message();
  EXPECT_EQ(Detail(s.error(), "pointer"), "");
  EXPECT_NE(s.error().message().find("at the top level"), std::string::npos);
}

TEST(SchemaTest, OneSchemaValidatesFromManyThreads) {
  const JsonSchema schema = Compile();
  const auto good = ParseJson(kValidList);
  auto bad = ParseJson(kValidList);
  bad["hv:imagelist"]["dc:identifier"].SetString(".x");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (!schema.Validate(good, "image list").ok()) ++wrong;
        if (schema.Validate(bad, "image list").ok()) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace vmc
