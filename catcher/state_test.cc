#include "catcher/state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "test/support/temp_dir.h"

namespace vmc::catcher {
namespace {

constexpr TimePoint kT0{std::chrono::sys_days{std::chrono::year{2030} / 1 / 1}};

TimePoint At(int hours) { return kT0 + std::chrono::hours(hours); }

AcceptedList List(const std::string& version, const std::string& sha,
                  std::vector<std::string> images = {"img-a", "img-b"}) {
  AcceptedList l;
  l.list_identifier = "4e186b44-2c64-40ea-97d5-e9e5c0bce059";
  l.version = version;
  l.content_sha512 = sha;
  l.signer_dn = "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser One";
  l.signer_ca = "/C=DE/O=Test Grid/CN=Test Intermediate CA";
  l.created = At(-1);
  l.expires = At(24 * 30);
  l.fetched_at = At(0);
  l.etag = "\"etag-" + version + "\"";
  l.last_modified = "Tue, 01 Jan 2030 00:00:00 GMT";
  l.url = "https://lists.example/list";
  l.signed_bytes = "signed bytes of version " + version + " (" + sha + ")";
  l.images = std::move(images);
  return l;
}

SmimeSplit Split(const std::string& part) {
  return SmimeSplit{std::string(128, 'a'),
                    "OpenSSL test",
                    1,
                    part,
                    std::string("der\0", 4) + part,
                    {std::string("cert\0", 5) + part, "ca"},
                    "seal of " + part};
}

SubscriptionRecord Record(const std::string& name) {
  SubscriptionRecord r;
  r.name = name;
  r.url = "https://lists.example/" + name;
  r.endorser_dn = "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser One";
  r.endorser_ca = "/C=DE/O=Test Grid/CN=Test Intermediate CA";
  r.list_identifier = "4e186b44-2c64-40ea-97d5-e9e5c0bce059";
  r.selection.mode = SelectionMode::kListed;
  r.selection.listed = {"img-a"};
  r.selection.new_images = NewImages::kRefuse;
  r.credentials_file = "/etc/catcher/creds";
  r.created = At(0);
  return r;
}

class StateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto state = State::Open(dir_.path());
    ASSERT_TRUE(state.ok()) << state.error().ToString();
    state_.emplace(std::move(state).value());
  }

  State& state() { return *state_; }

  // What an update cycle records for a 304 of subscription `name`: the
  // validators on the list held (whichever it is, when `verified` is empty),
  // and the attempt.
  Status RecordUnchanged(const std::string& name, const std::string& etag, TimePoint at,
                         const std::string& verified = "") {
    const CycleRecord record{name, false, ListTouch{verified, etag, "", at},
                             AttemptRecord{at, "unchanged", "", 0}, std::nullopt};
    auto removed = state().RecordCycle({record});
    if (!removed.ok()) return std::move(removed).error();
    EXPECT_TRUE(removed->empty());
    return Ok();
  }

  Status RecordAttempt(const std::string& name, const AttemptRecord& attempt) {
    auto removed =
        state().RecordCycle({CycleRecord{name, false, std::nullopt, attempt, std::nullopt}});
    if (!removed.ok()) return std::move(removed).error();
    EXPECT_TRUE(removed->empty());
    return Ok();
  }

  std::vector<std::string> HistoryVersions(const std::string& name) {
    auto h = state().History(name);
    EXPECT_TRUE(h.ok());
    std::vector<std::string> out;
    if (h.ok()) {
      for (const auto& e : *h) out.push_back(e.version);
    }
    return out;
  }

  test::TempDir dir_;
  std::optional<State> state_;
};

TEST_F(StateTest, AddSubscriptionRecordsEverythingInOneTransaction) {
  ASSERT_TRUE(state().AddSubscription(Record("sub"), List("1", "aa"), At(0)).ok());

  auto found = state().FindSubscription("sub");
  ASSERT_TRUE(found.ok() && found->has_value());
  const SubscriptionRecord& r = **found;
  EXPECT_EQ(r.url, "https://lists.example/sub");
  EXPECT_EQ(r.list_identifier, "4e186b44-2c64-40ea-97d5-e9e5c0bce059");
  EXPECT_EQ(r.selection.mode, SelectionMode::kListed);
  EXPECT_EQ(r.selection.listed, std::vector<std::string>{"img-a"});
  EXPECT_EQ(r.selection.new_images, NewImages::kRefuse);
  EXPECT_EQ(r.credentials_file, "/etc/catcher/creds");
  EXPECT_EQ(r.created, At(0));

  auto list = state().CurrentList("sub");
  ASSERT_TRUE(list.ok() && list->has_value());
  EXPECT_EQ((*list)->version, "1");
  EXPECT_EQ((*list)->signed_bytes, List("1", "aa").signed_bytes);
  EXPECT_EQ((*list)->etag, "\"etag-1\"");
  EXPECT_EQ((*list)->images, (std::vector<std::string>{"img-a", "img-b"}));

  auto seen = state().Seen("sub");
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->size(), 2u);
  EXPECT_TRUE(seen->at("img-a").initial);
  EXPECT_EQ(seen->at("img-b").first_seen, At(0));

  auto attempt = state().LastAttempt("sub");
  ASSERT_TRUE(attempt.ok() && attempt->has_value());
  EXPECT_EQ((*attempt)->result, "updated");
  EXPECT_EQ((*attempt)->exit_status, 0);

  auto all = state().Subscriptions();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().name, "sub");
}

TEST_F(StateTest, AddSubscriptionTwiceIsRefusedAndChangesNothing) {
  ASSERT_TRUE(state().AddSubscription(Record("sub"), List("1", "aa"), At(0)).ok());
  SubscriptionRecord other = Record("sub");
  other.url = "https://elsewhere.example/list";
  const Status again = state().AddSubscription(other, List("9", "zz", {"img-z"}), At(5));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);

  auto found = state().FindSubscription("sub");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->url, "https://lists.example/sub");
  auto list = state().CurrentList("sub");
  ASSERT_TRUE(list.ok() && list->has_value());
  EXPECT_EQ((*list)->version, "1");
  auto seen = state().Seen("sub");
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->count("img-z"), 0u);
}

TEST_F(StateTest, AddSubscriptionWithoutSignedBytesStoresNothing) {
  AcceptedList bare = List("1", "aa");
  bare.signed_bytes.clear();
  const Status s = state().AddSubscription(Record("sub"), bare, At(0));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kStorage);
  auto found = state().FindSubscription("sub");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  auto attempt = state().LastAttempt("sub");
  ASSERT_TRUE(attempt.ok());
  EXPECT_FALSE(attempt->has_value());
}

TEST_F(StateTest, AcceptListMovesThePreviousVersionToHistory) {
  ASSERT_TRUE(state().AcceptList("sub", List("1", "aa"), "", At(0), 20).ok());
  EXPECT_TRUE(HistoryVersions("sub").empty());
  ASSERT_TRUE(state().AcceptList("sub", List("2", "bb"), "aa", At(1), 20).ok());
  ASSERT_TRUE(state().AcceptList("sub", List("3", "cc"), "bb", At(2), 20).ok());
  EXPECT_EQ(HistoryVersions("sub"), (std::vector<std::string>{"1", "2"}));
  auto list = state().CurrentList("sub");
  ASSERT_TRUE(list.ok() && list->has_value());
  EXPECT_EQ((*list)->version, "3");
  auto history = state().History("sub");
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->back().content_sha512, "bb");
}

TEST_F(StateTest, CurrentContentSha512FollowsTheListHeld) {
  auto none = state().CurrentContentSha512("sub");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(state().AcceptList("sub", List("1", "aa"), "", At(0), 20).ok());
  ASSERT_TRUE(state().AcceptList("sub", List("2", "bb"), "aa", At(1), 20).ok());
  auto digest = state().CurrentContentSha512("sub");
  ASSERT_TRUE(digest.ok() && digest->has_value());
  EXPECT_EQ(**digest, "bb");
  ASSERT_TRUE(state().RemoveSubscription("sub").ok());
  auto removed = state().CurrentContentSha512("sub");
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(removed->has_value());
}

TEST_F(StateTest, TheSplitKeptIsThatOfTheBytesHeld) {
  AcceptedList first = List("1", "aa");
  first.split = Split("one");
  ASSERT_TRUE(state().AcceptList("sub", first, "", At(0), 20).ok());
  auto kept = state().ListSplit("sub");
  ASSERT_TRUE(kept.ok() && kept->has_value()) << kept.error().ToString();
  EXPECT_EQ((*kept)->message_sha512, std::string(128, 'a'));
  EXPECT_EQ((*kept)->openssl, "OpenSSL test");
  EXPECT_EQ((*kept)->reading, 1);
  EXPECT_EQ((*kept)->signed_part, "one");
  EXPECT_EQ((*kept)->signature_der, std::string("der\0one", 7));
  EXPECT_EQ((*kept)->certificates, (std::vector<std::string>{std::string("cert\0one", 8), "ca"}));
  EXPECT_EQ((*kept)->seal, "seal of one");
  // CurrentList reads the bytes, not the split.
  EXPECT_FALSE((*state().CurrentList("sub"))->split.has_value());
  // Other bytes accepted without a split leave none of the earlier ones.
  ASSERT_TRUE(state().AcceptList("sub", List("2", "bb"), "aa", At(1), 20).ok());
  auto none = state().ListSplit("sub");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  AcceptedList third = List("3", "cc");
  third.split = Split("three");
  ASSERT_TRUE(state().AcceptList("sub", third, "bb", At(2), 20).ok());
  EXPECT_EQ((*state().ListSplit("sub"))->signed_part, "three");
  ASSERT_TRUE(state().RemoveSubscription("sub").ok());
  auto removed = state().ListSplit("sub");
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(removed->has_value());
}

TEST_F(StateTest, AcceptingTheSameListAgainAddsNoHistory) {
  ASSERT_TRUE(state().AcceptList("sub", List("1", "aa"), "", At(0), 20).ok());
  ASSERT_TRUE(state().AcceptList("sub", List("1", "aa"), "aa", At(1), 20).ok());
  EXPECT_TRUE(HistoryVersions("sub").empty());
}

TEST_F(StateTest, ResetVersionIsRecordedAndLastsUntilAnotherListIsAccepted) {
  EXPECT_EQ(state().ResetVersion("sub", "no list yet", At(1)).error().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(state().AcceptList("sub", List("1000000", "aa"), "", At(0), 20).ok());
  auto reset = state().ResetVersion("sub", "key compromised", At(1));
  ASSERT_TRUE(reset.ok()) << reset.error().ToString();
  EXPECT_EQ(*reset, "1000000");
  auto held = state().CurrentList("sub");
  ASSERT_TRUE(held.ok() && held->has_value());
  ASSERT_TRUE((*held)->version_reset.has_value());
  EXPECT_EQ((*held)->version_reset->reason, "key compromised");
  EXPECT_EQ((*held)->version_reset->at, At(1));
  EXPECT_EQ((*held)->version_reset->from_version, "1000000");
  auto history = state().History("sub");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  ASSERT_TRUE(history->front().reset.has_value());
  EXPECT_EQ(history->front().reset->reason, "key compromised");

  // A 304's touch and the same list served again keep it pending.
  ASSERT_TRUE(RecordUnchanged("sub", "\"e2\"", At(2), "aa").ok());
  ASSERT_TRUE(state().AcceptList("sub", List("1000000", "aa"), "aa", At(3), 20).ok());
  held = state().CurrentList("sub");
  ASSERT_TRUE(held.ok() && held->has_value());
  EXPECT_TRUE((*held)->version_reset.has_value());
  // Another list uses it up; the reset stays in the history.
  ASSERT_TRUE(state().AcceptList("sub", List("5", "bb"), "aa", At(4), 20).ok());
  held = state().CurrentList("sub");
  ASSERT_TRUE(held.ok() && held->has_value());
  EXPECT_FALSE((*held)->version_reset.has_value());
  history = state().History("sub");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_TRUE(history->front().reset.has_value());
  EXPECT_FALSE(history->back().reset.has_value());
  EXPECT_EQ(history->back().version, "1000000");
}

TEST_F(StateTest, HistoryIsBoundedKeepingTheNewest) {
  std::string previous;
  for (int v = 1; v <= 8; ++v) {
    const std::string sha = "sha" + std::to_string(v);
    ASSERT_TRUE(state().AcceptList("sub", List(std::to_string(v), sha), previous, At(v), 3).ok())
        << v;
    previous = sha;
  }
  // Version 8 is current; of 1..7 only the three newest are kept.
  EXPECT_EQ(HistoryVersions("sub"), (std::vector<std::string>{"5", "6", "7"}));
  // A smaller bound later trims at once.
  ASSERT_TRUE(state().AcceptList("sub", List("9", "sha9"), previous, At(9), 1).ok());
  EXPECT_EQ(HistoryVersions("sub"), (std::vector<std::string>{"8"}));
}

TEST_F(StateTest, StaleVerificationIsRefusedAndChangesNothing) {
  ASSERT_TRUE(state().AcceptList("sub", List("1", "aa"), "", At(0), 20).ok());
  // Another process accepted version 2 after this one verified against 1.
  ASSERT_TRUE(state().AcceptList("sub", List("2", "bb"), "aa", At(1), 20).ok());
  const Status stale = state().AcceptList("sub", List("3", "cc", {"img-c"}), "aa", At(2), 20);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code(), ErrorCode::kLocked);
  auto list = state().CurrentList("sub");
  ASSERT_TRUE(list.ok() && list->has_value());
  EXPECT_EQ((*list)->version, "2");
  EXPECT_EQ(HistoryVersions("sub"), std::vector<std::string>{"1"});
  auto seen = state().Seen("sub");
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->count("img-c"), 0u);
  // A first list verified against "something" while none is held is stale too.
  const Status phantom = state().AcceptList("other", List("1", "aa"), "zz", At(2), 20);
  ASSERT_FALSE(phantom.ok());
  EXPECT_EQ(phantom.error().code(), ErrorCode::kLocked);
}

TEST_F(StateTest, SeenMarksImagesOfLaterListsAsNotInitial) {
  ASSERT_TRUE(state().AcceptList("sub", List("1", "aa", {"img-a"}), "", At(0), 20).ok());
  ASSERT_TRUE(state().AcceptList("sub", List("2", "bb", {"img-a", "img-b"}), "aa", At(5), 20).ok());
  auto seen = state().Seen("sub");
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->size(), 2u);
  EXPECT_TRUE(seen->at("img-a").initial);
  EXPECT_EQ(seen->at("img-a").first_seen, At(0));  // not moved by the second list
  EXPECT_FALSE(seen->at("img-b").initial);
  EXPECT_EQ(seen->at("img-b").first_seen, At(5));
}

// Issue 11, finding 13: "seen" kept every identifier ever seen (120,000 for
// a 20,000-image list). It holds what the held list names, pruned in the
// transaction that stores the list, while an identifier that stays keeps its
// first sighting (so it is never new again) and one that is genuinely new
// is recorded once, when it first appears.
TEST_F(StateTest, SeenHoldsOnlyTheImagesOfTheListHeld) {
  auto ids = [](int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i < to; ++i) out.push_back("img-" + std::to_string(i));
    return out;
  };
  // Ten versions of 100 images; each drops the 20 oldest, adds 20 new ones,
  // and img-keep stays throughout.
  std::string held;
  for (int v = 0; v < 10; ++v) {
    std::vector<std::string> images = ids(20 * v, 20 * v + 100);
    images.emplace_back("img-keep");
    const std::string sha = "sha-" + std::to_string(v);
    ASSERT_TRUE(
        state().AcceptList("sub", List(std::to_string(v + 1), sha, images), held, At(v), 3).ok());
    held = sha;

    auto seen = state().Seen("sub");
    ASSERT_TRUE(seen.ok());
    std::vector<std::string> keys;
    for (const auto& [id, s] : *seen) keys.push_back(id);
    std::sort(images.begin(), images.end());
    EXPECT_EQ(keys, images) << "version " << v + 1;
    EXPECT_TRUE(seen->at("img-keep").initial);
    EXPECT_EQ(seen->at("img-keep").first_seen, At(0));
    // The 20 new ones are seen now and not initial; the others keep theirs.
    for (int i = 20 * v; i < 20 * v + 100; ++i) {
      const SeenImage& s = seen->at("img-" + std::to_string(i));
      const int first = i < 100 ? 0 : (i - 100) / 20 + 1;
      EXPECT_EQ(s.first_seen, At(first)) << "img-" << i << " in version " << v + 1;
      EXPECT_EQ(s.initial, first == 0) << "img-" << i;
    }
  }
  // Another subscription's images are its own.
  ASSERT_TRUE(state().AcceptList("other", List("1", "o1", {"img-0"}), "", At(20), 3).ok());
  ASSERT_TRUE(state().AcceptList("sub", List("11", "sha-10", {"img-keep"}), held, At(21), 3).ok());
  auto seen = state().Seen("sub");
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->size(), 1u);
  auto other = state().Seen("other");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->count("img-0"), 1u);
}

TEST_F(StateTest, AHostileImageIdentifierAbortsTheWholeAcceptance) {
  ASSERT_TRUE(state().AcceptList("sub", List("1", "aa"), "", At(0), 20).ok());
  const Status s =
      state().AcceptList("sub", List("2", "bb", {"img-c", "../../etc/passwd"}), "aa", At(1), 20);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kInvalidIdentifier);
  auto list = state().CurrentList("sub");
  ASSERT_TRUE(list.ok() && list->has_value());
  EXPECT_EQ((*list)->version, "1");
  EXPECT_TRUE(HistoryVersions("sub").empty());
  auto seen = state().Seen("sub");
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->count("img-c"), 0u);
}

TEST_F(StateTest, ACycleTouchChangesOnlyValidatorsAndFetchTime) {
  ASSERT_TRUE(state().AcceptList("sub", List("1", "aa"), "", At(0), 20).ok());
  ASSERT_TRUE(RecordUnchanged("sub", "\"new-etag\"", At(7)).ok());
  auto list = state().CurrentList("sub");
  ASSERT_TRUE(list.ok() && list->has_value());
  EXPECT_EQ((*list)->etag, "\"new-etag\"");
  EXPECT_EQ((*list)->last_modified, "Tue, 01 Jan 2030 00:00:00 GMT");  // kept: none sent
  EXPECT_EQ((*list)->fetched_at, At(7));
  EXPECT_EQ((*list)->version, "1");
  EXPECT_EQ((*list)->signed_bytes, List("1", "aa").signed_bytes);
  EXPECT_TRUE(HistoryVersions("sub").empty());
  // Nothing held: nothing to touch, no list created (only the attempt).
  ASSERT_TRUE(RecordUnchanged("none", "\"e\"", At(7)).ok());
  auto none = state().CurrentList("none");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(StateTest, RecordCycleWritesTouchesAndAttemptsTogether) {
  ASSERT_TRUE(state().AcceptList("a", List("1", "aa"), "", At(0), 20).ok());
  ASSERT_TRUE(state().AcceptList("b", List("1", "bb"), "", At(0), 20).ok());
  ASSERT_TRUE(state().AddSubscription(Record("c"), List("1", "cc"), At(0)).ok());
  std::vector<CycleRecord> cycle;
  cycle.push_back({"a",
                   false,
                   ListTouch{"aa", "\"a2\"", "", At(5)},
                   {At(5), "unchanged", "", 0},
                   ListSplit{"aa", Split("a-part")}});
  // Verified against "xx", but "bb" is held now (another process stored it):
  // the touch is dropped, the attempt kept.
  cycle.push_back({"b",
                   false,
                   ListTouch{"xx", "\"b2\"", "", At(5)},
                   {At(5), "unchanged", "", 0},
                   ListSplit{"xx", Split("b-part")}});
  cycle.push_back({"c", true, std::nullopt, {At(5), "list-expired", "expired", 5}, std::nullopt});
  // A command subscription removed meanwhile: reported, nothing recorded.
  cycle.push_back({"gone", true, std::nullopt, {At(5), "updated", "", 0}, std::nullopt});
  auto removed = state().RecordCycle(cycle);
  ASSERT_TRUE(removed.ok()) << removed.error().ToString();
  EXPECT_EQ(*removed, std::set<std::string>{"gone"});

  auto a = state().CurrentList("a");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->etag, "\"a2\"");
  EXPECT_EQ((*a)->fetched_at, At(5));
  auto b = state().CurrentList("b");
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_NE((*b)->etag, "\"b2\"");
  EXPECT_NE((*b)->fetched_at, At(5));
  // The split of the list held is kept; one of a list no longer held is not.
  auto a_split = state().ListSplit("a");
  ASSERT_TRUE(a_split.ok() && a_split->has_value());
  EXPECT_EQ((*a_split)->signed_part, "a-part");
  EXPECT_EQ((*a_split)->signature_der, std::string("der\0a-part", 10));
  auto b_split = state().ListSplit("b");
  ASSERT_TRUE(b_split.ok());
  EXPECT_FALSE(b_split->has_value());
  for (const char* name : {"a", "b", "c"}) {
    auto attempt = state().LastAttempt(name);
    ASSERT_TRUE(attempt.ok() && attempt->has_value()) << name;
    EXPECT_EQ((*attempt)->at, At(5)) << name;
  }
  auto c = state().LastAttempt("c");
  EXPECT_EQ((*c)->result, "list-expired");
  auto gone = state().LastAttempt("gone");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  // A bad name refuses the whole cycle: nothing is half-recorded.
  cycle.push_back({"../x", false, std::nullopt, {At(9), "updated", "", 0}, std::nullopt});
  EXPECT_FALSE(state().RecordCycle(cycle).ok());
  EXPECT_EQ((*state().LastAttempt("a"))->at, At(5));
}

TEST_F(StateTest, ACycleKeepsTheLastAttempt) {
  ASSERT_TRUE(RecordAttempt("sub", {At(1), "updated", "", 0}).ok());
  ASSERT_TRUE(RecordAttempt("sub", {At(2), "list-expired", "image list x is expired", 5}).ok());
  auto attempt = state().LastAttempt("sub");
  ASSERT_TRUE(attempt.ok() && attempt->has_value());
  EXPECT_EQ((*attempt)->at, At(2));
  EXPECT_EQ((*attempt)->result, "list-expired");
  EXPECT_EQ((*attempt)->message, "image list x is expired");
  EXPECT_EQ((*attempt)->exit_status, 5);
  // An attempt alone holds no list.
  auto list = state().CurrentList("sub");
  ASSERT_TRUE(list.ok());
  EXPECT_FALSE(list->has_value());
}

TEST_F(StateTest, ChoicesAreSetReplacedAndCleared) {
  ASSERT_TRUE(state().SetChoice("img-a", AdminChoice::kAccepted).ok());
  ASSERT_TRUE(state().SetChoice("img-b", AdminChoice::kRefused).ok());
  auto choices = state().Choices();
  ASSERT_TRUE(choices.ok());
  EXPECT_EQ(choices->at("img-a"), AdminChoice::kAccepted);
  EXPECT_EQ(choices->at("img-b"), AdminChoice::kRefused);

  ASSERT_TRUE(state().SetChoice("img-a", AdminChoice::kRefused).ok());
  ASSERT_TRUE(state().SetChoice("img-b", AdminChoice::kNone).ok());
  ASSERT_TRUE(state().SetChoice("never-set", AdminChoice::kNone).ok());
  choices = state().Choices();
  ASSERT_TRUE(choices.ok());
  ASSERT_EQ(choices->size(), 1u);
  EXPECT_EQ(choices->at("img-a"), AdminChoice::kRefused);
}

TEST_F(StateTest, RemoveSubscriptionRemovesAllItsStateAndNoOther) {
  ASSERT_TRUE(state().AddSubscription(Record("sub"), List("1", "aa"), At(0)).ok());
  ASSERT_TRUE(state().AcceptList("sub", List("2", "bb"), "aa", At(1), 20).ok());
  // A name that shares a prefix with "sub" must survive.
  ASSERT_TRUE(state().AddSubscription(Record("sub2"), List("1", "aa"), At(0)).ok());
  ASSERT_TRUE(state().AcceptList("sub2", List("2", "bb"), "aa", At(1), 20).ok());
  ASSERT_TRUE(state().SetChoice("img-a", AdminChoice::kAccepted).ok());

  auto removed = state().RemoveSubscription("sub");
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  auto found = state().FindSubscription("sub");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  auto list = state().CurrentList("sub");
  ASSERT_TRUE(list.ok());
  EXPECT_FALSE(list->has_value());
  EXPECT_TRUE(HistoryVersions("sub").empty());
  auto seen = state().Seen("sub");
  ASSERT_TRUE(seen.ok());
  EXPECT_TRUE(seen->empty());
  auto attempt = state().LastAttempt("sub");
  ASSERT_TRUE(attempt.ok());
  EXPECT_FALSE(attempt->has_value());

  auto other = state().CurrentList("sub2");
  ASSERT_TRUE(other.ok() && other->has_value());
  EXPECT_EQ((*other)->version, "2");
  EXPECT_EQ(HistoryVersions("sub2"), std::vector<std::string>{"1"});
  auto other_seen = state().Seen("sub2");
  ASSERT_TRUE(other_seen.ok());
  EXPECT_EQ(other_seen->size(), 2u);
  // The admin's choices are per image, not per subscription.
  auto choices = state().Choices();
  ASSERT_TRUE(choices.ok());
  EXPECT_EQ(choices->count("img-a"), 1u);

  auto again = state().RemoveSubscription("sub");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

TEST_F(StateTest, ResubscribingDropsTheLeftoversOfTheOldSubscription) {
  ASSERT_TRUE(state().AddSubscription(Record("sub"), List("1", "aa", {"old-image"}), At(0)).ok());
  ASSERT_TRUE(state().AcceptList("sub", List("2", "bb", {"old-image"}), "aa", At(1), 20).ok());
  ASSERT_TRUE(state().RemoveSubscription("sub").ok());
  ASSERT_TRUE(state().AddSubscription(Record("sub"), List("1", "cc", {"new-image"}), At(3)).ok());
  EXPECT_TRUE(HistoryVersions("sub").empty());
  auto seen = state().Seen("sub");
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_TRUE(seen->at("new-image").initial);
}

TEST_F(StateTest, HostileNamesAreRefusedByEveryMethod) {
  for (const std::string name : {"../../etc/passwd", ".hidden", "a/b", ""}) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(state().AddSubscription(Record(name), List("1", "aa"), At(0)).ok());
    EXPECT_FALSE(state().AcceptList(name, List("1", "aa"), "", At(0), 20).ok());
    EXPECT_FALSE(RecordUnchanged(name, "", At(0)).ok());
    EXPECT_FALSE(RecordAttempt(name, {At(0), "updated", "", 0}).ok());
    EXPECT_FALSE(state().CurrentList(name).ok());
    EXPECT_FALSE(state().CurrentContentSha512(name).ok());
    EXPECT_FALSE(state().ListSplit(name).ok());
    EXPECT_FALSE(state().History(name).ok());
    EXPECT_FALSE(state().Seen(name).ok());
    EXPECT_FALSE(state().FindSubscription(name).ok());
    EXPECT_FALSE(state().RemoveSubscription(name).ok());
    EXPECT_FALSE(state().SetChoice(name, AdminChoice::kAccepted).ok());
  }
  auto all = state().Subscriptions();
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
  auto choices = state().Choices();
  ASSERT_TRUE(choices.ok());
  EXPECT_TRUE(choices->empty());
}

TEST_F(StateTest, StateSurvivesReopening) {
  ASSERT_TRUE(state().AddSubscription(Record("sub"), List("1", "aa"), At(0)).ok());
  ASSERT_TRUE(state().SetChoice("img-b", AdminChoice::kRefused).ok());
  state_.reset();  // one Environment per directory and process
  auto reopened = State::Open(dir_.path());
  ASSERT_TRUE(reopened.ok()) << reopened.error().ToString();
  auto list = reopened->CurrentList("sub");
  ASSERT_TRUE(list.ok() && list->has_value());
  EXPECT_EQ((*list)->signed_bytes, List("1", "aa").signed_bytes);
  auto choices = reopened->Choices();
  ASSERT_TRUE(choices.ok());
  EXPECT_EQ(choices->at("img-b"), AdminChoice::kRefused);
}

// The signer's certificates are kept as they were, whatever their bytes (a
// 304 judges the chain from them).
TEST_F(StateTest, KeptCertificatesRoundTrip) {
  std::string every_byte;
  for (int i = 0; i < 256; ++i) every_byte.push_back(static_cast<char>(i));
  AcceptedList first = List("1", "aa");
  first.certificates = {every_byte, "a", "ab", "abc", std::string(1000, '\0')};
  ASSERT_TRUE(state().AcceptList("sub", first, "", At(0), 20).ok());
  const auto current = state().CurrentList("sub");
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_EQ((*current)->certificates, first.certificates);
  // None kept (a list stored before they were): none read.
  ASSERT_TRUE(state().AcceptList("sub", List("2", "bb"), "aa", At(1), 20).ok());
  const auto after = state().CurrentList("sub");
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_TRUE((*after)->certificates.empty());
}

// Damage found by an operation is reported, naming the entry, and nothing
// is written on top of it.
TEST_F(StateTest, DamagedEntriesAreStorageErrorsNamingThem) {
  ASSERT_TRUE(state().AcceptList("sub", List("1", "aa"), "", At(0), 20).ok());
  ASSERT_TRUE(state().AcceptList("sub", List("2", "bb"), "aa", At(1), 20).ok());
  ASSERT_TRUE(state()
                  .env()
                  .Update([](WriteTxn& txn) -> Status {
                    VMC_RETURN_IF_ERROR(txn.Put("history", "sub/not-a-number", "{}"));
                    return txn.Put("lists", "other", "[]");
                  })
                  .ok());
  const Status accept = state().AcceptList("sub", List("3", "cc"), "bb", At(2), 20);
  ASSERT_FALSE(accept.ok());
  EXPECT_EQ(accept.error().code(), ErrorCode::kStorage);
  EXPECT_EQ(accept.error().message(),
            "the catcher database entry history/sub/not-a-number is damaged");
  EXPECT_EQ((*state().CurrentList("sub"))->version, "2");
  const auto other = state().CurrentList("other");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().message(), "the catcher database entry lists/other is damaged");
}

// A split is only ever a shortcut to the bytes held: one that does not
// decode, or has lost its part, reads as none (the next full verification
// makes it again) instead of stopping the list's update.
TEST_F(StateTest, ASplitThatDoesNotDecodeReadsAsNone) {
  AcceptedList list = List("1", "aa");
  list.split = Split("one");
  ASSERT_TRUE(state().AcceptList("sub", list, "", At(0), 20).ok());
  ASSERT_TRUE(state().AcceptList("other", list, "", At(0), 20).ok());
  ASSERT_TRUE(state()
                  .env()
                  .Update([](WriteTxn& txn) -> Status {
                    VMC_RETURN_IF_ERROR(txn.Put("list_split", "sub", R"({"reading":1})"));
                    auto deleted = txn.Delete("list_split_part", "other");
                    if (!deleted.ok()) return deleted.error();
                    return *deleted ? Ok() : Error(ErrorCode::kStorage, "no part to delete");
                  })
                  .ok());
  for (const char* name : {"sub", "other"}) {
    SCOPED_TRACE(name);
    const auto split = state().ListSplit(name);
    ASSERT_TRUE(split.ok()) << split.error().ToString();
    EXPECT_FALSE(split->has_value());
    EXPECT_EQ((*state().CurrentList(name))->version, "1");
  }
}

TEST_F(StateTest, CachedRecordsRoundTrip) {
  CachedImage c;
  c.sha512 = std::string(128, 'a');
  c.subscription = "sub";
  c.variables = {{"VMCATCHER_EVENT_DC_TITLE", "a \"quoted\" title\n"}};
  c.postfix_due = false;
  c.cached_at = At(3);
  ASSERT_TRUE(state().PutCached("img-a", c).ok());
  auto cached = state().Cached();
  ASSERT_TRUE(cached.ok());
  ASSERT_EQ(cached->count("img-a"), 1u);
  EXPECT_EQ(cached->at("img-a").variables, c.variables);
  EXPECT_FALSE(cached->at("img-a").postfix_due);
  EXPECT_EQ(cached->at("img-a").cached_at, At(3));
  ASSERT_TRUE(state().RemoveCached("img-a").ok());
  cached = state().Cached();
  ASSERT_TRUE(cached.ok());
  EXPECT_TRUE(cached->empty());
}

}  // namespace
}  // namespace vmc::catcher
