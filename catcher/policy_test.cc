#include "catcher/policy.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "common/dn.h"
#include "test/support/temp_dir.h"

namespace vmc::catcher {
namespace {

constexpr std::string_view kFile = "/etc/catcher/policy.json";

std::string Detail(const Error& error, std::string_view key) {
  for (const auto& [k, v] : error.details()) {
    if (k == key) return v;
  }
  return "<none>";
}

Policy MustParse(std::string_view text) {
  auto policy = ParsePolicy(text, kFile);
  EXPECT_TRUE(policy.ok()) << (policy.ok() ? "" : policy.error().ToString());
  return policy.ok() ? std::move(policy).value() : Policy{};
}

struct Where {
  int line;
  int column;
  std::string_view pointer;
};

// Parses `text`, expects kPolicyInvalid at `where`, and returns the error.
Error MustFail(std::string_view text, Where where) {
  auto policy = ParsePolicy(text, kFile);
  EXPECT_FALSE(policy.ok());
  if (policy.ok()) return Error(ErrorCode::kUsage, "parsed");
  Error error = std::move(policy).error();
  EXPECT_EQ(error.code(), ErrorCode::kPolicyInvalid) << error.ToString();
  EXPECT_EQ(Detail(error, "file"), kFile) << error.ToString();
  EXPECT_EQ(Detail(error, "line"), std::to_string(where.line)) << error.ToString();
  EXPECT_EQ(Detail(error, "column"), std::to_string(where.column)) << error.ToString();
  EXPECT_EQ(Detail(error, "pointer"), where.pointer) << error.ToString();
  const std::string at = "is invalid at line " + std::to_string(where.line) + ", column " +
                         std::to_string(where.column);
  EXPECT_NE(error.message().find(at), std::string::npos) << error.message();
  EXPECT_NE(error.message().find(kFile), std::string::npos) << error.message();
  return error;
}

void ExpectMessageHas(const Error& error, std::string_view text) {
  EXPECT_NE(error.message().find(text), std::string::npos)
      << "message: " << error.message() << "\nexpected to contain: " << text;
}

constexpr std::string_view kSha =
    "8B4C269A60DA1061B434B696C4A89293BEA847B66BD8BA486A914D4209DF651193EE8D454F8231840B7500FAB6740"
    "620C7111D9A17D08B743133DC393BA2C0D4";

// ---------------------------------------------------------------------------
// A valid policy.

TEST(PolicyTest, ValidPolicyWithCommentsAndTrailingCommasLoads) {
  const std::string text = R"(// The policy of a test site.
{
  /* Endorsers we trust, by name. */
  "endorsers": {
    "desy": {"dn": "/C=DE/O=GermanGrid/OU=DESY/CN=Owen Synge",
             "ca": "/C=DE/O=GermanGrid/CN=GridKa-CA"},
    "cern": {"dn": "/DC=ch/DC=cern/OU=computers/CN=vm.cern.ch",
             "ca": "/DC=ch/DC=cern/CN=CERN Grid Certification Authority",
             "comment": "the CernVM team"},  // a trailing comma follows
  },
  "subscriptions": [
    {"name": "desy-base", "url": "https://example.org/desy.list", "endorser": "desy"},
    {"name": "cern-listed", "url": "https://example.org/cern.list", "endorser": "cern",
     "identifier": "4e186b44-2c64-40ea-97d5-e9e5c0bce059",
     "credentials_file": "/etc/catcher/cern.token",
     "images": ["488dcdc4-9ab1-4fc8-a7ba-b7a5428ecb3d", "vm:base-1.0"],
     "new_images": "refuse"},
    {"name": "local", "url": "file:///srv/lists/local.list", "endorser": "desy",
     "images": "none", "comment": "hand-picked"},
  ],
  "deny": [
    {"sha512": ")" + std::string(kSha) +
                           R"(", "comment": "bad build"},
    {"image": "9f2c1e7a-0b3d-4c5e-8f6a-1b2c3d4e5f60",
     "endorser_dn": "/DC=ch/DC=cern/OU=computers/CN=vm.cern.ch"},
    {"list": "4e186b44-2c64-40ea-97d5-e9e5c0bce059"},
  ],
  "limits": {"max_list_bytes": 1048576, "max_image_bytes": 10737418240,
             "cache_quota_bytes": 107374182400}
}
)";
  const Policy policy = MustParse(text);
  EXPECT_EQ(policy.file, kFile);

  ASSERT_EQ(policy.endorsers.size(), 2u);
  EXPECT_EQ(policy.endorsers[0].name, "desy");
  EXPECT_EQ(policy.endorsers[0].dn, "/C=DE/O=GermanGrid/OU=DESY/CN=Owen Synge");
  EXPECT_EQ(policy.endorsers[0].ca, "/C=DE/O=GermanGrid/CN=GridKa-CA");
  EXPECT_EQ(policy.endorsers[1].name, "cern");

  ASSERT_EQ(policy.subscriptions.size(), 3u);
  const Subscription& base = policy.subscriptions[0];
  EXPECT_EQ(base.name, "desy-base");
  EXPECT_EQ(base.url, "https://example.org/desy.list");
  EXPECT_EQ(base.endorser, "desy");
  EXPECT_EQ(base.list_identifier, std::nullopt);
  EXPECT_EQ(base.credentials_file, std::nullopt);
  EXPECT_EQ(base.selection.mode, SelectionMode::kAll);
  EXPECT_EQ(base.selection.new_images, NewImages::kAccept);

  const Subscription& listed = policy.subscriptions[1];
  EXPECT_EQ(listed.list_identifier, "4e186b44-2c64-40ea-97d5-e9e5c0bce059");
  EXPECT_EQ(listed.credentials_file, "/etc/catcher/cern.token");
  EXPECT_EQ(listed.selection.mode, SelectionMode::kListed);
  EXPECT_EQ(listed.selection.listed,
            (std::vector<std::string>{"488dcdc4-9ab1-4fc8-a7ba-b7a5428ecb3d", "vm:base-1.0"}));
  EXPECT_EQ(listed.selection.new_images, NewImages::kRefuse);
  EXPECT_EQ(policy.subscriptions[2].selection.mode, SelectionMode::kNone);

  ASSERT_EQ(policy.deny.size(), 3u);
  std::string lower(kSha);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(policy.deny[0].sha512, lower);  // normalized
  EXPECT_EQ(policy.deny[0].comment, "bad build");
  EXPECT_EQ(policy.deny[0].image, std::nullopt);
  EXPECT_EQ(policy.deny[1].image, "9f2c1e7a-0b3d-4c5e-8f6a-1b2c3d4e5f60");
  EXPECT_EQ(policy.deny[1].endorser_dn, "/DC=ch/DC=cern/OU=computers/CN=vm.cern.ch");
  EXPECT_EQ(policy.deny[1].sha512, std::nullopt);
  EXPECT_EQ(policy.deny[2].list, "4e186b44-2c64-40ea-97d5-e9e5c0bce059");

  EXPECT_EQ(policy.limits.max_list_bytes, 1048576u);
  EXPECT_EQ(policy.limits.max_image_bytes, 10737418240u);
  EXPECT_EQ(policy.limits.cache_quota_bytes, 107374182400u);
}

TEST(PolicyTest, EmptyObjectIsEmptyPolicyWithDefaultLimits) {
  const Policy policy = MustParse("{}");
  EXPECT_TRUE(policy.endorsers.empty());
  EXPECT_TRUE(policy.subscriptions.empty());
  EXPECT_TRUE(policy.deny.empty());
  EXPECT_EQ(policy.limits.max_list_bytes, 16u * 1024 * 1024);
  EXPECT_EQ(policy.limits.max_image_bytes, std::nullopt);
  EXPECT_EQ(policy.limits.cache_quota_bytes, std::nullopt);
  EXPECT_EQ(policy.limits.max_virtual_bytes, std::uint64_t{1} << 40);
  EXPECT_TRUE(policy.accept_undeclared_formats);
}

TEST(PolicyTest, FormatRules) {
  const Policy policy = MustParse(
      R"({"limits": {"max_virtual_bytes": 107374182400}, "undeclared_formats": "refuse"})");
  EXPECT_EQ(policy.limits.max_virtual_bytes, 107374182400u);
  EXPECT_FALSE(policy.accept_undeclared_formats);
  EXPECT_TRUE(MustParse(R"({"undeclared_formats": "accept"})").accept_undeclared_formats);
  MustFail(R"({"undeclared_formats": "maybe"})", {1, 2, "/undeclared_formats"});
  MustFail(R"({"limits": {"max_virtual_bytes": 0}})", {1, 13, "/limits/max_virtual_bytes"});
}

TEST(PolicyTest, ByteOrderMarkIsIgnored) {
  EXPECT_TRUE(ParsePolicy("\xEF\xBB\xBF{}", kFile).ok());
  MustFail("\xEF\xBB\xBF{\"x\": 1}", {1, 2, "/x"});
}

TEST(PolicyTest, LookUps) {
  const Policy policy = MustParse(R"({
  "endorsers": {
    "desy": {"dn": "/C=DE/O=GermanGrid/OU=DESY/CN=Owen Synge", "ca": "/C=DE/O=GermanGrid/CN=GridKa-CA"}
  },
  "subscriptions": [{"name": "base", "url": "https://example.org/l", "endorser": "desy"}]
})");
  ASSERT_NE(policy.FindEndorser("desy"), nullptr);
  EXPECT_EQ(policy.FindEndorser("desy")->ca, "/C=DE/O=GermanGrid/CN=GridKa-CA");
  EXPECT_EQ(policy.FindEndorser("DESY"), nullptr);
  ASSERT_NE(policy.FindSubscription("base"), nullptr);
  EXPECT_EQ(policy.FindSubscription("base")->url, "https://example.org/l");
  EXPECT_EQ(policy.FindSubscription("other"), nullptr);

  // What step 4 asks (catcher/update.cc): is the signer the endorser of the
  // subscription "base", whose names the loader parsed (as
  // catcher/subscription.cc hands them to the update)? Compared as X.509
  // names: case and spacing do not matter, order does.
  const auto trusted = [&](const Policy& p, std::string_view dn, std::string_view ca) {
    auto subject = ParseDn(dn);
    auto issuer = ParseDn(ca);
    EXPECT_TRUE(subject.ok() && issuer.ok()) << dn << " / " << ca;
    const Subscription* sub = p.FindSubscription("base");
    const Endorser* endorser = sub ? p.FindEndorser(sub->endorser) : nullptr;
    return subject.ok() && issuer.ok() && endorser != nullptr && endorser->names &&
           endorser->names->Matches(subject->get(), issuer->get());
  };
  EXPECT_TRUE(trusted(policy, "/C=DE/O=GermanGrid/OU=DESY/CN=Owen Synge",
                      "/C=DE/O=GermanGrid/CN=GridKa-CA"));
  EXPECT_TRUE(trusted(policy, "/C=de/O=germangrid/OU=desy/CN=owen  synge ",
                      "/C=DE/O=GERMANGRID/CN=GridKa-CA"));
  EXPECT_FALSE(trusted(policy, "/C=DE/O=GermanGrid/OU=DESY/CN=Owen Synge",
                       "/C=DE/O=GermanGrid/CN=Other-CA"));
  EXPECT_FALSE(trusted(policy, "/O=GermanGrid/C=DE/OU=DESY/CN=Owen Synge",
                       "/C=DE/O=GermanGrid/CN=GridKa-CA"));
  EXPECT_FALSE(trusted(Policy{}, "/C=DE/O=GermanGrid/OU=DESY/CN=Owen Synge",
                       "/C=DE/O=GermanGrid/CN=GridKa-CA"));
}

// ---------------------------------------------------------------------------
// Syntax errors: the position where RapidJSON stopped.

TEST(PolicyTest, MissingCommaNamesLineColumnAndPointer) {
  const Error error = MustFail(R"({
  "endorsers": {
    "desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}
  }
  "subscriptions": []
})",
                               {5, 3, "/endorsers"});
  ExpectMessageHas(error, "not valid JSON: Missing a comma or '}' after an object member.");
  EXPECT_EQ(error.message(),
            "policy file /etc/catcher/policy.json is invalid at line 5, column 3 (/endorsers): "
            "not valid JSON: Missing a comma or '}' after an object member.");
}

TEST(PolicyTest, SyntaxErrorInsideArrayNamesTheElement) {
  MustFail(R"({
  "deny": [
    {"image": "a"},
    {"image": "b" "comment": "x"}
  ]
})",
           {4, 19, "/deny/1/image"});
}

TEST(PolicyTest, UnterminatedCommentIsSyntaxError) {
  // RapidJSON reads to the end looking for "*/" and stops there.
  MustFail("{\n  /* never closed\n}\n", {4, 1, ""});
}

TEST(PolicyTest, EmptyFileIsInvalid) {
  const Error error = MustFail("", {1, 1, ""});
  ExpectMessageHas(error, "The document is empty.");
  MustFail("// only a comment\n", {2, 1, ""});
}

TEST(PolicyTest, InvalidUtf8IsRefused) {
  MustFail("{\"deny\": [{\"image\": \"a\", \"comment\": \"\xff\"}]}", {1, 38, "/deny/0/comment"});
}

TEST(PolicyTest, KeyTwiceInOneObjectIsRefused) {
  const Error error = MustFail(R"({
  "limits": {
    "max_image_bytes": 1,
    "max_image_bytes": 2
  }
})",
                               {4, 5, "/limits/max_image_bytes"});
  ExpectMessageHas(error, "the key \"max_image_bytes\" appears twice in one object");
}

TEST(PolicyTest, TopLevelKeyTwiceIsRefused) {
  MustFail("{\"deny\": [],\n \"deny\": []}", {2, 2, "/deny"});
}

// Found by test/fuzz/policy_fuzz (every string of a loaded policy is UTF-8):
// RapidJSON 1.1.0 reads an unpaired low-surrogate escape into bytes that are
// not UTF-8, and the policy took them into its model.
TEST(PolicyTest, UnpairedSurrogateEscapeIsRefused) {
  const Error error = MustFail(R"({"endorsers": {"a": {"dn": "/CN=x", "ca": "/CN=y"}},
  "deny": [{"image": "i", "comment": "bad \udc00 text"}]})",
                               {2, 38, "/deny/0/comment"});
  ExpectMessageHas(error, "not Unicode text (it has an unpaired \\u surrogate escape)");
  MustFail(R"({"subscriptions": [{"name": "s", "url": "https://x/\udfff", "endorser": "a"}]})",
           {1, 41, "/subscriptions/0/url"});
  MustFail(R"({"limits": {},
 "x\ud83d\ude00\udc01": 1})",
           {2, 2, "/limits"});
  // A surrogate pair is one character.
  const Policy policy = MustParse(R"({"deny": [{"image": "i", "comment": "\ud83d\ude00"}]})");
  ASSERT_EQ(policy.deny.size(), 1u);
  EXPECT_EQ(policy.deny[0].comment, "\xf0\x9f\x98\x80");
}

// Found by test/fuzz/policy_fuzz: the excerpt of a long name was cut inside
// a character, so the message and its --json form were not UTF-8.
TEST(PolicyTest, ExcerptCutInsideACharacterStaysUtf8) {
  const std::string name = std::string(63, 'a') + "\xc3\xa9" + std::string(100, 'b');
  const Error error =
      MustFail(R"({"endorsers": {")" + name + R"(": {"dn": "/CN=x", "ca": "/CN=y"}}})",
               {1, 16, "/endorsers/" + name});
  ExpectMessageHas(error, "\"" + std::string(63, 'a') + "\\xc3\"... (165 bytes)");
  const std::string json = error.ToJson();
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  EXPECT_FALSE(doc.HasParseError()) << json;
}

TEST(PolicyTest, DeepNestingIsRefused) {
  std::string text = "{\"deny\": ";
  for (int i = 0; i < 40; ++i) text += "[";
  const Error error = MustFail(text, {1, 25, "/deny/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0"});
  ExpectMessageHas(error, "nests deeper than 16 levels");
}

// ---------------------------------------------------------------------------
// Schema violations: the pointer from the validator, the line from the text.

TEST(PolicyTest, UnknownKeyIsRefused) {
  const Error error = MustFail(R"({
  "endorsers": {"desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}},
  "subscriptions": [
    {"name": "a", "url": "https://example.org/a", "endorser": "desy",
     "imags": "none"}
  ]
})",
                               {5, 6, "/subscriptions/0/imags"});
  ExpectMessageHas(error, "unknown key \"imags\"");
  EXPECT_EQ(Detail(error, "keyword"), "additionalProperties");
}

TEST(PolicyTest, UnknownTopLevelKeyIsRefused) {
  const Error error = MustFail(R"({
  // deny rules are under "deny"
  "deny_rules": [{"image": "a"}]
})",
                               {3, 3, "/deny_rules"});
  ExpectMessageHas(error, "unknown key \"deny_rules\"");
}

TEST(PolicyTest, UnknownKeyInDenyRuleIsRefused) {
  // A misspelt field would otherwise make the rule match more than meant.
  MustFail(R"({"deny": [
  {"image": "a",
   "endorser": "/C=DE/CN=A"}]})",
           {3, 4, "/deny/0/endorser"});
}

TEST(PolicyTest, PointerEscapesSlashAndTilde) {
  const Error error = MustFail(R"({"limits": {"a/b~c": 1}})", {1, 13, "/limits/a~1b~0c"});
  ExpectMessageHas(error, "unknown key \"a/b~c\"");
}

TEST(PolicyTest, ColumnCountsCharactersAndSkipsEscapedQuotes) {
  // "ü" is two bytes but one column; the key holds an escaped quote and ends
  // in an escaped backslash.
  MustFail(R"({"endorsers": {"desy": {"comment": "Zürich \"HQ\"", "dn": "/C=DE/CN=A",
  "ca": "/C=DE/CN=CA", "x\"y\\": 1}}})",
           {2, 24, "/endorsers/desy/x\"y\\"});
}

TEST(PolicyTest, MissingRequiredKeyPointsAtTheObject) {
  const Error error = MustFail(R"({
  "endorsers": {"desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}},
  "subscriptions": [
    {"name": "a", "url": "https://example.org/a", "endorser": "desy"},
    {"name": "b",
     "url": "https://example.org/b"}
  ]
})",
                               {5, 5, "/subscriptions/1"});
  ExpectMessageHas(error, "required key \"endorser\" is missing");
  EXPECT_EQ(Detail(error, "missing"), "endorser");
}

TEST(PolicyTest, SubscriptionNameIsRequired) {
  const Error error = MustFail(R"({
  "endorsers": {"desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}},
  "subscriptions": [{"url": "https://example.org/a", "endorser": "desy"}]
})",
                               {3, 21, "/subscriptions/0"});
  ExpectMessageHas(error, "required key \"name\" is missing");
}

TEST(PolicyTest, WrongSchemeIsRefused) {
  const Error error = MustFail(R"({
  "endorsers": {"desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}},
  "subscriptions": [
    {"name": "a",
        "url": "ftp://example.org/a", "endorser": "desy"}
  ]
})",
                               {5, 9, "/subscriptions/0/url"});
  ExpectMessageHas(error, "violates the schema: \"ftp://example.org/a\" does not match pattern");
  ExpectMessageHas(error, "an https://, http:// or file:// URL");
}

TEST(PolicyTest, BadImagesValueIsRefused) {
  MustFail(R"({"endorsers": {"desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}},
"subscriptions": [{"name": "a", "url": "https://example.org/a", "endorser": "desy",
  "images": "some"}]})",
           {3, 3, "/subscriptions/0/images"});
}

TEST(PolicyTest, BadImageIdentifierInListNamesTheElement) {
  const Error error = MustFail(R"({"endorsers": {"desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}},
"subscriptions": [{"name": "a", "url": "https://example.org/a", "endorser": "desy",
  "images": ["488dcdc4-9ab1-4fc8-a7ba-b7a5428ecb3d",
             "../../etc/passwd"]}]})",
                               {4, 14, "/subscriptions/0/images/1"});
  ExpectMessageHas(error, "an identifier: 1 to 128 of");
}

TEST(PolicyTest, BadNewImagesValueIsRefused) {
  const Error error = MustFail(R"({"endorsers": {"desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}},
"subscriptions": [{"name": "a", "url": "https://example.org/a", "endorser": "desy",
                   "new_images": "maybe"}]})",
                               {3, 20, "/subscriptions/0/new_images"});
  ExpectMessageHas(error, R"("accept" or "refuse")");
}

TEST(PolicyTest, RelativeCredentialsFileIsRefused) {
  MustFail(R"({"endorsers": {"desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}},
"subscriptions": [{"name": "a", "url": "https://example.org/a", "endorser": "desy",
  "credentials_file": "secrets/a.token"}]})",
           {3, 3, "/subscriptions/0/credentials_file"});
}

// Credentials go only over https: a subscription that would send them over
// http (or give them to a local file) is refused where it is read.
TEST(PolicyTest, CredentialsWithoutHttpsAreRefused) {
  for (const char* url :
       {"http://example.org/a", "http://example.org:443/a", "file:///srv/a.list"}) {
    SCOPED_TRACE(url);
    const Error error =
        MustFail(R"({"endorsers": {"desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}},
"subscriptions": [{"name": "a", "url": ")" +
                     std::string(url) + R"(", "endorser": "desy",
  "credentials_file": "/etc/catcher/a.token"}]})",
                 {3, 3, "/subscriptions/0/credentials_file"});
    ExpectMessageHas(error, "only over https");
  }
}

TEST(PolicyTest, ShortSha512IsRefused) {
  const std::string text =
      "{\"deny\": [\n  {\"sha512\": \"" + std::string(kSha.substr(1)) + "\"}\n]}";
  const Error error = MustFail(text, {2, 4, "/deny/0/sha512"});
  ExpectMessageHas(error, "128 hexadecimal digits");
}

TEST(PolicyTest, DenyRuleWithoutConditionIsRefused) {
  // It would deny every image.
  const Error error = MustFail(R"({"deny": [
  {"image": "a"},
  {"comment": "everything?"}
]})",
                               {3, 3, "/deny/1"});
  ExpectMessageHas(error, "at least one of sha512, image, list, endorser_dn");
}

TEST(PolicyTest, BadLimitsAreRefused) {
  MustFail("{\"limits\": {\n  \"max_image_bytes\": 0}}", {2, 3, "/limits/max_image_bytes"});
  MustFail("{\"limits\": {\n  \"cache_quota_bytes\": 1.5}}", {2, 3, "/limits/cache_quota_bytes"});
  MustFail("{\"limits\": {\n  \"max_list_bytes\": -1}}", {2, 3, "/limits/max_list_bytes"});
  MustFail("{\"limits\": {\n  \"max_list_bytes\": \"16M\"}}", {2, 3, "/limits/max_list_bytes"});
  MustFail("{\"limits\": {\n  \"max_list_bytes\": 1e30}}", {2, 3, "/limits/max_list_bytes"});
}

TEST(PolicyTest, NonObjectIsRefusedAtTopLevel) {
  const Error error = MustFail("\n  [1, 2]", {2, 3, ""});
  ExpectMessageHas(error, "(top level)");
}

// ---------------------------------------------------------------------------
// Semantic errors: what the schema cannot say.

TEST(PolicyTest, UnknownEndorserIsRefused) {
  const Error error = MustFail(R"({
  "endorsers": {"desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}},
  "subscriptions": [
    {"name": "a", "url": "https://example.org/a", "endorser": "desy"},
    {"name": "b", "url": "https://example.org/b",
     "endorser": "egi"}
  ]
})",
                               {6, 6, "/subscriptions/1/endorser"});
  EXPECT_EQ(error.message(),
            "policy file /etc/catcher/policy.json is invalid at line 6, column 6 "
            "(/subscriptions/1/endorser): unknown endorser \"egi\"; define it under "
            "\"endorsers\"");
}

TEST(PolicyTest, DuplicateSubscriptionNameIsRefused) {
  const Error error = MustFail(R"({
  "endorsers": {"desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}},
  "subscriptions": [
    {"name": "a", "url": "https://example.org/a", "endorser": "desy"},
    {"url": "https://example.org/b", "endorser": "desy",
     "name": "a"}
  ]
})",
                               {6, 6, "/subscriptions/1/name"});
  ExpectMessageHas(error, "the name \"a\" is already used by /subscriptions/0");
}

TEST(PolicyTest, DuplicateSubscriptionUrlIsRefused) {
  const Error error = MustFail(R"({
  "endorsers": {"desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}},
  "subscriptions": [
    {"name": "a", "url": "https://example.org/a", "endorser": "desy"},
    {"name": "b", "endorser": "desy"},
    {"name": "c", "endorser": "desy", "url": "https://example.org/a"}
  ]
})",
                               {5, 5, "/subscriptions/1"});
  ExpectMessageHas(error, "required key \"url\" is missing");

  const Error dup = MustFail(R"({
  "endorsers": {"desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}},
  "subscriptions": [
    {"name": "a", "url": "https://example.org/a", "endorser": "desy"},
    {"name": "b", "url": "https://example.org/b", "endorser": "desy"},
    {"name": "c", "endorser": "desy", "url": "https://example.org/a"}
  ]
})",
                             {6, 39, "/subscriptions/2/url"});
  ExpectMessageHas(dup, "the URL \"https://example.org/a\" is already used by /subscriptions/0");
}

TEST(PolicyTest, DuplicateListIdentifierIsRefused) {
  MustFail(R"({
  "endorsers": {"desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}},
  "subscriptions": [
    {"name": "a", "url": "https://example.org/a", "endorser": "desy", "identifier": "L1"},
    {"name": "b", "url": "https://mirror.example.org/a", "endorser": "desy",
     "identifier": "L1"}
  ]
})",
           {6, 6, "/subscriptions/1/identifier"});
}

TEST(PolicyTest, DnThatParseDnRefusesIsRefused) {
  const Error error = MustFail(R"({
  "endorsers": {
    "desy": {"dn": "/C=DE/CN=A",
             "ca": "/C=DE/XX=CA"}
  }
})",
                               {4, 14, "/endorsers/desy/ca"});
  ExpectMessageHas(error, "unknown attribute type \"XX\"");
}

// A DN with two readings is refused where the admin wrote it (exit 2), never
// compared: "\x45" is a printable 'E' that no tool escapes, a lone backslash
// starts no escape.
TEST(PolicyTest, DnWithTwoReadingsIsRefused) {
  const Error error = MustFail(R"({
  "endorsers": {
    "e1": {"dn": "/C=DE/O=Test Grid/CN=\\x45ndorser One",
           "ca": "/C=DE/CN=CA"}
  }
})",
                               {3, 12, "/endorsers/e1/dn"});
  EXPECT_EQ(ExitStatusFor(error.code()), 2);
  ExpectMessageHas(error, "\\x45");
  MustFail(R"({"endorsers": {"e1": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=back\\slash"}}})",
           {1, 43, "/endorsers/e1/ca"});
  MustFail(R"({"deny": [{"endorser_dn": "/C=DE/CN=\\x41"}]})", {1, 12, "/deny/0/endorser_dn"});
}

TEST(PolicyTest, DenyRuleDnThatParseDnRefusesIsRefused) {
  MustFail(R"({"deny": [{"image": "a"}, {"image": "b", "endorser_dn": "/C=DE/CN"}]})",
           {1, 42, "/deny/1/endorser_dn"});
}

TEST(PolicyTest, EndorserNameMustBeAnIdentifier) {
  const Error error = MustFail(R"({
  "endorsers": {
    "desy": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"},
    "bad name": {"dn": "/C=DE/CN=A", "ca": "/C=DE/CN=CA"}
  }
})",
                               {4, 5, "/endorsers/bad name"});
  ExpectMessageHas(error, "invalid identifier \"bad name\"");
}

TEST(PolicyTest, HostileKeyIsPrintedSafely) {
  const Error error = MustFail(R"({"limits": {"a\nb": 1}})", {1, 13, "/limits/a\nb"});
  EXPECT_EQ(error.message().find('\n'), std::string::npos) << error.message();
  ExpectMessageHas(error, R"(unknown key "a\nb")");
}

// ---------------------------------------------------------------------------
// Loading files.

TEST(LoadPolicyTest, MissingDefaultFileIsEmptyPolicy) {
  test::TempDir dir;
  auto policy = LoadPolicy(dir / "policy.json", /*must_exist=*/false);
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  EXPECT_TRUE(policy->file.empty());
  EXPECT_TRUE(policy->endorsers.empty());
  EXPECT_TRUE(policy->subscriptions.empty());
  EXPECT_TRUE(policy->deny.empty());
  EXPECT_EQ(policy->limits.max_list_bytes, kDefaultMaxListBytes);
}

TEST(LoadPolicyTest, MissingExplicitFileIsError) {
  test::TempDir dir;
  const auto path = dir / "polcy.json";
  auto policy = LoadPolicy(path, /*must_exist=*/true);
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().code(), ErrorCode::kPolicyInvalid);
  EXPECT_EQ(Detail(policy.error(), "file"), path.string());
  ExpectMessageHas(policy.error(), path.string());
  ExpectMessageHas(policy.error(), "No such file or directory");
}

TEST(LoadPolicyTest, DanglingSymlinkIsErrorEvenAtDefaultPath) {
  test::TempDir dir;
  const auto path = dir / "policy.json";
  std::filesystem::create_symlink(dir / "gone.json", path);
  auto policy = LoadPolicy(path, /*must_exist=*/false);
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().code(), ErrorCode::kPolicyInvalid);
}

TEST(LoadPolicyTest, DirectoryIsError) {
  test::TempDir dir;
  auto policy = LoadPolicy(dir.path(), /*must_exist=*/false);
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().code(), ErrorCode::kPolicyInvalid);
}

TEST(LoadPolicyTest, OversizedFileIsRefusedBeforeParsing) {
  test::TempDir dir;
  const auto path = dir / "policy.json";
  test::WriteFile(path, "{}" + std::string(kMaxPolicyFileBytes, ' '));
  auto policy = LoadPolicy(path, /*must_exist=*/false);
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().code(), ErrorCode::kPolicyInvalid);
  EXPECT_EQ(Detail(policy.error(), "file"), path.string());
  ExpectMessageHas(policy.error(), "exceeding the maximum of 1048576");
}

TEST(LoadPolicyTest, LoadsFileAndNamesItInErrors) {
  test::TempDir dir;
  const auto path = dir / "policy.json";
  test::WriteFile(path, "{\"deny\": [{\"image\": \"a\"}]}\n");
  auto policy = LoadPolicy(path, /*must_exist=*/true);
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  EXPECT_EQ(policy->file, path.string());
  ASSERT_EQ(policy->deny.size(), 1u);

  test::WriteFile(path, "{\n  \"deny\": {}\n}\n");
  auto broken = LoadPolicy(path, /*must_exist=*/false);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().code(), ErrorCode::kPolicyInvalid);
  EXPECT_EQ(Detail(broken.error(), "file"), path.string());
  EXPECT_EQ(Detail(broken.error(), "line"), "2");
  EXPECT_EQ(Detail(broken.error(), "pointer"), "/deny");
  EXPECT_EQ(ExitStatusFor(broken.error().code()), 2);
}

}  // namespace
}  // namespace vmc::catcher
