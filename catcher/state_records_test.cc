#include "catcher/state_records.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace vmc::catcher {
namespace {

constexpr TimePoint kT0{std::chrono::sys_days{std::chrono::year{2030} / 1 / 1}};

TimePoint At(int hours) { return kT0 + std::chrono::hours(hours); }

// Records as written by the encoders that state.cc held before the shared
// codec (commit a6fc805), captured by running that code: what the databases
// on sites hold. Each must decode to what was encoded and encode back to the
// same bytes.
constexpr char kOldSubscriptionListed[] =
    "{\"name\":\"sub\",\"url\":\"https://lists.example/sub\",\"endorser_dn\":\"/C=DE/O=Test "
    "Grid/OU=Endorsers/CN=Endorser One\",\"endorser_ca\":\"/C=DE/O=Test Grid/CN=Test Intermediate "
    "CA\",\"endorser_names\":[\"MAD/"
    "AQ==\",\"YWI=\"],\"list_identifier\":\"4e186b44-2c64-40ea-97d5-e9e5c0bce059\",\"images\":"
    "\"listed\",\"listed_images\":[\"img-a\",\"img-b\"],\"accept_new\":false,\"credentials_file\":"
    "\"/etc/catcher/creds\",\"created\":1893456000}";
constexpr char kOldSubscriptionAll[] =
    "{\"name\":\"all\",\"url\":\"https://lists.example/sub\",\"endorser_dn\":\"/C=DE/O=Test "
    "Grid/OU=Endorsers/CN=Endorser One\",\"endorser_ca\":\"/C=DE/O=Test Grid/CN=Test Intermediate "
    "CA\",\"endorser_names\":[],\"list_identifier\":\"4e186b44-2c64-40ea-97d5-e9e5c0bce059\","
    "\"images\":\"all\",\"listed_images\":[],\"accept_new\":true,\"credentials_file\":\"\","
    "\"created\":1893474000}";
constexpr char kOldSubscriptionNone[] =
    "{\"name\":\"none\",\"url\":\"https://lists.example/sub\",\"endorser_dn\":\"/C=DE/O=Test "
    "Grid/OU=Endorsers/CN=Endorser One\",\"endorser_ca\":\"/C=DE/O=Test Grid/CN=Test Intermediate "
    "CA\",\"endorser_names\":[],\"list_identifier\":\"4e186b44-2c64-40ea-97d5-e9e5c0bce059\","
    "\"images\":\"none\",\"listed_images\":[],\"accept_new\":true,\"credentials_file\":\"\","
    "\"created\":1893474000}";
constexpr char kOldList[] =
    "{\"list_identifier\":\"4e186b44-2c64-40ea-97d5-e9e5c0bce059\",\"version\":\"1.2\",\"content_"
    "sha512\":"
    "\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
    "cccccccccccccccccccccccccccccccccccc\",\"signer_dn\":\"/C=DE/O=Test "
    "Grid/OU=Endorsers/CN=Endorser \\\"One\\\"\",\"signer_ca\":\"/C=DE/O=Test Grid/CN=Test "
    "Intermediate "
    "CA\",\"created\":1893452400,\"expires\":1896048000,\"fetched_at\":1893463200,\"etag\":"
    "\"\\\"etag-1\\\"\",\"last_modified\":\"Tue, 01 Jan 2030 00:00:00 "
    "GMT\",\"url\":\"https://lists.example/"
    "list\",\"images\":[\"img-a\",\"img-b\"],\"certificates\":[\"MIIBAP4=\",\"YWJj\",\"AA==\"]}";
constexpr char kOldListReset[] =
    "{\"list_identifier\":\"4e186b44-2c64-40ea-97d5-e9e5c0bce059\",\"version\":\"1.2\",\"content_"
    "sha512\":"
    "\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
    "cccccccccccccccccccccccccccccccccccc\",\"signer_dn\":\"/C=DE/O=Test "
    "Grid/OU=Endorsers/CN=Endorser \\\"One\\\"\",\"signer_ca\":\"/C=DE/O=Test Grid/CN=Test "
    "Intermediate "
    "CA\",\"created\":1893452400,\"expires\":1896048000,\"fetched_at\":1893463200,\"etag\":"
    "\"\\\"etag-1\\\"\",\"last_modified\":\"Tue, 01 Jan 2030 00:00:00 "
    "GMT\",\"url\":\"https://lists.example/"
    "list\",\"images\":[\"img-a\",\"img-b\"],\"certificates\":[],\"version_reset\":{\"at\":"
    "1893466800,\"reason\":\"key compromised\\n\",\"from_version\":\"1.2\"}}";
constexpr char kOldHistory[] =
    "{\"version\":\"1.1\",\"content_sha512\":"
    "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",\"created\":1893348000,\"fetched_at\":1893448800}";
constexpr char kOldHistoryReset[] =
    "{\"version\":\"1.2\",\"content_sha512\":"
    "\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
    "cccccccccccccccccccccccccccccccccccc\",\"created\":1893452400,\"fetched_at\":1893463200,"
    "\"reset\":{\"at\":1893466800,\"reason\":\"key compromised\\n\",\"from_version\":\"1.2\"}}";
constexpr char kOldAttempt[] =
    "{\"at\":1893470400,\"result\":\"list-expired\",\"message\":\"image list x is "
    "expired\",\"exit_status\":5}";
constexpr char kOldAttemptOk[] =
    R"({"at":1893470400,"result":"updated","message":"","exit_status":0})";
constexpr char kOldSeen[] = R"({"first_seen":1893459600,"initial":true})";
constexpr char kOldSeenLater[] = R"({"first_seen":1893477600,"initial":false})";
constexpr char kOldCached[] =
    "{\"sha512\":"
    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"subscription\":\"sub\",\"variables\":{\"VMCATCHER_"
    "EVENT_DC_TITLE\":\"a \\\"quoted\\\" title\\n\",\"VMCATCHER_EVENT_SL_OS\":\"caf\xc3"
    "\xa9"
    "\"},\"postfix_due\":false,\"cached_at\":1893466800}";
constexpr char kOldCachedEmpty[] =
    "{\"sha512\":"
    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"subscription\":\"sub\",\"variables\":{},\"postfix_"
    "due\":true,\"cached_at\":1893466800}";

// What earlier versions stored before a field existed (the captured records
// above without it): endorser_names, certificates, version_reset.
std::string Without(std::string json, const std::string& field) {
  const size_t at = json.find(field);
  EXPECT_NE(at, std::string::npos) << field;
  if (at != std::string::npos) json.erase(at, field.size());
  return json;
}

const std::string kSha(128, 'c');

void ExpectDamaged(const Error& error, const std::string& entry) {
  EXPECT_EQ(error.code(), ErrorCode::kStorage);
  EXPECT_EQ(error.message(), "the catcher database entry " + entry + " is damaged");
}

TEST(StateRecordsCompatibilityTest, SubscriptionsOfEarlierVersionsReadBack) {
  auto listed = DecodeSubscription("sub", kOldSubscriptionListed);
  ASSERT_TRUE(listed.ok()) << listed.error().ToString();
  EXPECT_EQ(listed->name, "sub");
  EXPECT_EQ(listed->url, "https://lists.example/sub");
  EXPECT_EQ(listed->endorser_dn, "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser One");
  EXPECT_EQ(listed->endorser_ca, "/C=DE/O=Test Grid/CN=Test Intermediate CA");
  EXPECT_EQ(listed->endorser_names_der,
            (std::vector<std::string>{std::string("\x30\x00\xff\x01", 4), "ab"}));
  EXPECT_EQ(listed->list_identifier, "4e186b44-2c64-40ea-97d5-e9e5c0bce059");
  EXPECT_EQ(listed->selection.mode, SelectionMode::kListed);
  EXPECT_EQ(listed->selection.listed, (std::vector<std::string>{"img-a", "img-b"}));
  EXPECT_EQ(listed->selection.new_images, NewImages::kRefuse);
  EXPECT_EQ(listed->credentials_file, "/etc/catcher/creds");
  EXPECT_EQ(listed->created, At(0));
  EXPECT_EQ(EncodeSubscription(*listed), kOldSubscriptionListed);

  auto all = DecodeSubscription("all", kOldSubscriptionAll);
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  EXPECT_EQ(all->selection.mode, SelectionMode::kAll);
  EXPECT_EQ(all->selection.new_images, NewImages::kAccept);
  EXPECT_TRUE(all->endorser_names_der.empty());
  EXPECT_EQ(all->created, At(5));
  EXPECT_EQ(EncodeSubscription(*all), kOldSubscriptionAll);

  auto none = DecodeSubscription("none", kOldSubscriptionNone);
  ASSERT_TRUE(none.ok()) << none.error().ToString();
  EXPECT_EQ(none->selection.mode, SelectionMode::kNone);
  EXPECT_EQ(EncodeSubscription(*none), kOldSubscriptionNone);

  auto before_der = DecodeSubscription(
      "sub", Without(kOldSubscriptionListed, R"("endorser_names":["MAD/AQ==","YWI="],)"));
  ASSERT_TRUE(before_der.ok()) << before_der.error().ToString();
  EXPECT_TRUE(before_der->endorser_names_der.empty());
  EXPECT_EQ(before_der->list_identifier, listed->list_identifier);
}

TEST(StateRecordsCompatibilityTest, ListsOfEarlierVersionsReadBack) {
  auto list = DecodeList("sub", kOldList);
  ASSERT_TRUE(list.ok()) << list.error().ToString();
  EXPECT_EQ(list->list_identifier, "4e186b44-2c64-40ea-97d5-e9e5c0bce059");
  EXPECT_EQ(list->version, "1.2");
  EXPECT_EQ(list->content_sha512, kSha);
  EXPECT_EQ(list->signer_dn, "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser \"One\"");
  EXPECT_EQ(list->signer_ca, "/C=DE/O=Test Grid/CN=Test Intermediate CA");
  EXPECT_EQ(list->created, At(-1));
  EXPECT_EQ(list->expires, At(24 * 30));
  EXPECT_EQ(list->fetched_at, At(2));
  EXPECT_EQ(list->etag, "\"etag-1\"");
  EXPECT_EQ(list->last_modified, "Tue, 01 Jan 2030 00:00:00 GMT");
  EXPECT_EQ(list->url, "https://lists.example/list");
  EXPECT_EQ(list->images, (std::vector<std::string>{"img-a", "img-b"}));
  EXPECT_EQ(list->certificates, (std::vector<std::string>{std::string("\x30\x82\x01\x00\xfe", 5),
                                                          "abc", std::string(1, '\0')}));
  EXPECT_FALSE(list->version_reset.has_value());
  EXPECT_TRUE(list->signed_bytes.empty());  // stored apart
  EXPECT_EQ(EncodeList(*list), kOldList);

  auto reset = DecodeList("sub", kOldListReset);
  ASSERT_TRUE(reset.ok()) << reset.error().ToString();
  ASSERT_TRUE(reset->version_reset.has_value());
  EXPECT_EQ(reset->version_reset->at, At(3));
  EXPECT_EQ(reset->version_reset->reason, "key compromised\n");
  EXPECT_EQ(reset->version_reset->from_version, "1.2");
  EXPECT_TRUE(reset->certificates.empty());
  EXPECT_EQ(EncodeList(*reset), kOldListReset);

  auto before_certificates =
      DecodeList("sub", Without(kOldList, R"(,"certificates":["MIIBAP4=","YWJj","AA=="])"));
  ASSERT_TRUE(before_certificates.ok()) << before_certificates.error().ToString();
  EXPECT_TRUE(before_certificates->certificates.empty());
  EXPECT_EQ(before_certificates->images, list->images);
}

TEST(StateRecordsCompatibilityTest, HistoryOfEarlierVersionsReadsBack) {
  auto h = DecodeHistory("sub/00000000000000000000", kOldHistory);
  ASSERT_TRUE(h.ok()) << h.error().ToString();
  EXPECT_EQ(h->version, "1.1");
  EXPECT_EQ(h->content_sha512, std::string(128, 'b'));
  EXPECT_EQ(h->created, At(-30));
  EXPECT_EQ(h->fetched_at, At(-2));
  EXPECT_FALSE(h->reset.has_value());
  EXPECT_EQ(EncodeHistory(*h), kOldHistory);

  auto r = DecodeHistory("sub/00000000000000000001", kOldHistoryReset);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_TRUE(r->reset.has_value());
  EXPECT_EQ(r->reset->at, At(3));
  EXPECT_EQ(r->reset->reason, "key compromised\n");
  EXPECT_EQ(r->reset->from_version, "1.2");
  EXPECT_EQ(EncodeHistory(*r), kOldHistoryReset);
}

TEST(StateRecordsCompatibilityTest, AttemptsAndSeenOfEarlierVersionsReadBack) {
  auto a = DecodeAttempt("sub", kOldAttempt);
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_EQ(a->at, At(4));
  EXPECT_EQ(a->result, "list-expired");
  EXPECT_EQ(a->message, "image list x is expired");
  EXPECT_EQ(a->exit_status, 5);
  EXPECT_EQ(EncodeAttempt(*a), kOldAttempt);
  auto ok = DecodeAttempt("sub", kOldAttemptOk);
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_EQ(ok->result, "updated");
  EXPECT_EQ(EncodeAttempt(*ok), kOldAttemptOk);

  auto s = DecodeSeen("sub/img-a", kOldSeen);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->first_seen, At(1));
  EXPECT_TRUE(s->initial);
  EXPECT_EQ(EncodeSeen(*s), kOldSeen);
  auto later = DecodeSeen("sub/img-b", kOldSeenLater);
  ASSERT_TRUE(later.ok()) << later.error().ToString();
  EXPECT_EQ(later->first_seen, At(6));
  EXPECT_FALSE(later->initial);
  EXPECT_EQ(EncodeSeen(*later), kOldSeenLater);

  // Choices were never JSON: the bare words.
  EXPECT_EQ(*DecodeChoice("img-a", "accepted"), AdminChoice::kAccepted);
  EXPECT_EQ(*DecodeChoice("img-a", "refused"), AdminChoice::kRefused);
  EXPECT_EQ(EncodeChoice(AdminChoice::kAccepted), "accepted");
  EXPECT_EQ(EncodeChoice(AdminChoice::kRefused), "refused");
}

TEST(StateRecordsCompatibilityTest, CachedRecordsOfEarlierVersionsReadBack) {
  auto c = DecodeCached("img-a", kOldCached);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->sha512, std::string(128, 'a'));
  EXPECT_EQ(c->subscription, "sub");
  EXPECT_EQ(c->variables, (std::map<std::string, std::string>{
                              {"VMCATCHER_EVENT_DC_TITLE", "a \"quoted\" title\n"},
                              {"VMCATCHER_EVENT_SL_OS", "caf\xc3\xa9"}}));
  EXPECT_FALSE(c->postfix_due);
  EXPECT_EQ(c->cached_at, At(3));
  EXPECT_EQ(EncodeCached(*c), kOldCached);
  auto summary = DecodeCachedSummary("img-a", kOldCached);
  ASSERT_TRUE(summary.ok()) << summary.error().ToString();
  EXPECT_EQ(summary->sha512, c->sha512);
  EXPECT_EQ(summary->subscription, "sub");
  EXPECT_FALSE(summary->postfix_due);

  auto empty = DecodeCached("img-b", kOldCachedEmpty);
  ASSERT_TRUE(empty.ok()) << empty.error().ToString();
  EXPECT_TRUE(empty->variables.empty());
  EXPECT_TRUE(empty->postfix_due);
  EXPECT_EQ(EncodeCached(*empty), kOldCachedEmpty);
}

// Round trips of values the captured records do not hold.
TEST(StateRecordsTest, EveryRecordTypeRoundTrips) {
  std::string every_byte;
  for (int i = 0; i < 256; ++i) every_byte.push_back(static_cast<char>(i));

  SubscriptionRecord s;
  s.name = "sub";
  s.url = "https://u:p@lists.example/sub?x=\"1\"";
  s.endorser_names_der = {every_byte, ""};
  s.selection.mode = SelectionMode::kNone;
  s.selection.listed = {"a", "b", "c"};
  s.selection.new_images = NewImages::kAccept;
  s.created = At(-100000);
  auto s2 = DecodeSubscription("sub", EncodeSubscription(s));
  ASSERT_TRUE(s2.ok()) << s2.error().ToString();
  EXPECT_EQ(s2->url, s.url);
  EXPECT_EQ(s2->endorser_names_der, s.endorser_names_der);
  EXPECT_EQ(s2->selection.mode, s.selection.mode);
  EXPECT_EQ(s2->selection.listed, s.selection.listed);
  EXPECT_EQ(s2->selection.new_images, s.selection.new_images);
  EXPECT_EQ(s2->created, s.created);

  AcceptedList l;
  l.version = "v\xc3\xa9";
  l.certificates = {every_byte};
  l.images = {};
  l.version_reset = VersionReset{At(9), "", ""};
  auto l2 = DecodeList("sub", EncodeList(l));
  ASSERT_TRUE(l2.ok()) << l2.error().ToString();
  EXPECT_EQ(l2->version, l.version);
  EXPECT_EQ(l2->certificates, l.certificates);
  ASSERT_TRUE(l2->version_reset.has_value());
  EXPECT_EQ(l2->version_reset->at, At(9));

  const HistoryEntry h{"7", kSha, At(1), At(2), VersionReset{At(3), "why", "6"}};
  auto h2 = DecodeHistory("sub/1", EncodeHistory(h));
  ASSERT_TRUE(h2.ok()) << h2.error().ToString();
  EXPECT_EQ(EncodeHistory(*h2), EncodeHistory(h));
  ASSERT_TRUE(h2->reset.has_value());
  EXPECT_EQ(h2->reset->from_version, "6");

  const AttemptRecord a{At(1), "network", std::string("multi\nline\0", 11), -1};
  auto a2 = DecodeAttempt("sub", EncodeAttempt(a));
  ASSERT_TRUE(a2.ok()) << a2.error().ToString();
  EXPECT_EQ(a2->message, a.message);
  EXPECT_EQ(a2->exit_status, -1);

  auto seen = DecodeSeen("sub/x", EncodeSeen({At(-5), false}));
  ASSERT_TRUE(seen.ok()) << seen.error().ToString();
  EXPECT_EQ(seen->first_seen, At(-5));
  EXPECT_FALSE(seen->initial);

  CachedImage c;
  c.variables = {{"A", ""}, {"B", std::string(1, '\0')}};
  c.postfix_due = true;
  auto c2 = DecodeCached("img", EncodeCached(c));
  ASSERT_TRUE(c2.ok()) << c2.error().ToString();
  EXPECT_EQ(c2->variables, c.variables);
  EXPECT_TRUE(c2->postfix_due);

  InspectionRecord i;
  i.format = "qcow2";
  i.virtual_size = std::uint64_t{1} << 50;  // beyond an int
  i.danger = "it names the backing file \"/etc/passwd\"";
  i.qemu_img_version = "7.2.22";
  i.at = At(-7);
  i.rules = 3;
  auto i2 = DecodeInspection("sha", EncodeInspection(i));
  ASSERT_TRUE(i2.ok()) << i2.error().ToString();
  EXPECT_EQ(i2->format, i.format);
  EXPECT_EQ(i2->virtual_size, i.virtual_size);
  EXPECT_EQ(i2->danger, i.danger);
  EXPECT_EQ(i2->qemu_img_version, i.qemu_img_version);
  EXPECT_EQ(i2->at, i.at);
  EXPECT_EQ(i2->rules, 3);
  // Records from before the rules had a version are of version 0.
  auto old = DecodeInspection(
      "sha", R"({"format":"raw","virtual_size":"1","danger":"","qemu_img":"7.2","at":0})");
  ASSERT_TRUE(old.ok()) << old.error().ToString();
  EXPECT_EQ(old->rules, 0);
}

struct DamageCase {
  std::string what;
  std::function<Status()> decode;
  std::string entry;  // what the error names
};

Status Of(const auto& result) { return result.ok() ? Ok() : Status(result.error()); }

TEST(StateRecordsTest, DamagedRecordsAreStorageErrorsNamingTheEntry) {
  const std::string listed = kOldSubscriptionListed;
  const std::string list = kOldList;
  auto replace = [](std::string json, const std::string& from, const std::string& to) {
    const size_t at = json.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) json.replace(at, from.size(), to);
    return json;
  };
  const std::string inspection = EncodeInspection({"raw", 1024, "", "7.2.22", At(0)});
  const std::vector<DamageCase> cases = {
      {"virtual size not a number",
       [&] { return Of(DecodeInspection("s", replace(inspection, "\"1024\"", "\"1k\""))); },
       "inspections/s"},
      {"virtual size negative",
       [&] { return Of(DecodeInspection("s", replace(inspection, "\"1024\"", "\"-1\""))); },
       "inspections/s"},
      {"not JSON", [] { return Of(DecodeSubscription("sub", "{\"name\":")); }, "subscriptions/sub"},
      {"unknown selection",
       [&] { return Of(DecodeSubscription("sub", replace(listed, "\"listed\"", "\"some\""))); },
       "subscriptions/sub"},
      {"bad endorser base64",
       [&] { return Of(DecodeSubscription("sub", replace(listed, "MAD/AQ==", "MAD/AQ="))); },
       "subscriptions/sub"},
      {"created as text",
       [&] {
         return Of(DecodeSubscription("sub", replace(listed, "1893456000", "\"1893456000\"")));
       },
       "subscriptions/sub"},
      {"missing url",
       [&] {
         return Of(
             DecodeSubscription("sub", Without(listed, R"("url":"https://lists.example/sub",)")));
       },
       "subscriptions/sub"},
      {"bad certificate base64",
       [&] { return Of(DecodeList("sub", replace(list, "MIIBAP4=", "MIIB AP4="))); }, "lists/sub"},
      {"images not an array",
       [&] { return Of(DecodeList("sub", replace(list, R"(["img-a","img-b"])", "\"img-a\""))); },
       "lists/sub"},
      {"reset without reason",
       [] {
         return Of(DecodeList("sub", Without(kOldListReset, R"("reason":"key compromised\n",)")));
       },
       "lists/sub"},
      {"history version as number",
       [] {
         return Of(DecodeHistory(
             "sub/0", R"({"version":1,"content_sha512":"","created":0,"fetched_at":0})"));
       },
       "history/sub/0"},
      {"attempt without exit status",
       [] { return Of(DecodeAttempt("sub", Without(kOldAttempt, ",\"exit_status\":5"))); },
       "attempts/sub"},
      {"seen initial as number",
       [] { return Of(DecodeSeen("sub/img", R"({"first_seen":0,"initial":1})")); }, "seen/sub/img"},
      {"choice of another word", [] { return Of(DecodeChoice("img", "maybe")); }, "choices/img"},
      {"cached variable not a string",
       [] {
         return Of(DecodeCached("img", R"({"sha512":"","subscription":"","variables":{"A":1},)"
                                       R"("postfix_due":true,"cached_at":0})"));
       },
       "cached/img"},
      {"cached without variables",
       [] { return Of(DecodeCached("img", Without(kOldCachedEmpty, "\"variables\":{},"))); },
       "cached/img"},
      {"summary without postfix_due",
       [] {
         return Of(DecodeCachedSummary("img", Without(kOldCachedEmpty, "\"postfix_due\":true,")));
       },
       "cached/img"},
      {"summary not JSON", [] { return Of(DecodeCachedSummary("img", "{\"sha512\"")); },
       "cached/img"},
  };
  for (const DamageCase& c : cases) {
    SCOPED_TRACE(c.what);
    const Status status = c.decode();
    ASSERT_FALSE(status.ok());
    ExpectDamaged(status.error(), c.entry);
  }
}

}  // namespace
}  // namespace vmc::catcher
