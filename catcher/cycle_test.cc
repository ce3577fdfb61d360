#include "catcher/cycle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "catcher/cache.h"
#include "common/digest.h"
#include "test/support/json_output.h"
#include "test/support/list_factory.h"
#include "test/support/pki.h"
#include "test/support/temp_dir.h"

namespace vmc::catcher {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// Cycles driven in-process at chosen instants (FixedClock): what takes time
// (a list expiring, expired/ purged after its grace period) is tested
// without waiting for it. The list and its image are local files (a list
// read from a file may name file:// images), the handler a shell script that
// records each event.
class CycleTest : public testing::Test {
 protected:
  void SetUp() override {
    const fs::path server = dir_ / "server";
    fs::create_directories(server);
    image_ = "image bytes of the cycle test\n";
    test::WriteFile(server / "image.img", image_);
    sha_ = Sha512Hex(image_).value();
    list_url_ = "file://" + (server / "list").string();
    handler_log_ = dir_ / "events.log";
    test::WriteFile(dir_ / "handler.sh",
                    "echo \"$VMCATCHER_EVENT_TYPE $VMCATCHER_EVENT_DC_IDENTIFIER\" >> \"$1\"\n");
    const test::Names e1 = test::NamesOf(test::TestPki::Get().endorser1());
    test::WriteFile(dir_ / "policy.json",
                    R"({"endorsers": {"e1": {"dn": )" + test::Quote(e1.dn) +
                        ", \"ca\": " + test::Quote(e1.ca) + "}}, \"subscriptions\": [" +
                        R"({"name": "sub", "url": )" + test::Quote(list_url_) +
                        ", \"endorser\": \"e1\", \"images\": \"all\"}]}\n");
  }

  // Signs and "serves" the list: created an hour before t0, expiring at
  // `expires`, with the one image.
  void PublishList(TimePoint expires, const std::string& version = "1") {
    test::ListSpec spec;
    spec.identifier = "4e186b44-2c64-40ea-97d5-e9e5c0bce059";
    spec.version = version;
    spec.created = t0_ - hours(1);
    spec.expires = expires;
    test::ImageSpec image;
    image.identifier = "img";
    image.uri = "file://" + (dir_ / "server" / "image.img").string();
    image.size = image_.size();
    image.sha512 = sha_;
    spec.images.push_back(image);
    auto signed_list = test::BuildSignedList(spec, test::TestPki::Get().endorser1());
    ASSERT_TRUE(signed_list.ok()) << signed_list.error().ToString();
    test::WriteFile(dir_ / "server" / "list", *signed_list);
  }

  Context OpenContext() const {
    Settings settings;
    settings.state_dir = dir_ / "state";
    settings.policy_path = dir_ / "policy.json";
    settings.ca_dir = test::TestPki::Get().ca_dir();
    settings.event_command =
        "/bin/sh " + (dir_ / "handler.sh").string() + " " + handler_log_.string();
    settings.expired_grace = hours(1);
    settings.downloads = 1;
    auto policy = LoadPolicy(settings.policy_path, true);
    EXPECT_TRUE(policy.ok()) << policy.error().ToString();
    EXPECT_TRUE(CheckStateDirectory(settings.state_dir).ok());
    auto state = State::Open(settings.state_dir);
    EXPECT_TRUE(state.ok()) << state.error().ToString();
    std::vector<std::string> warnings;
    auto subscriptions = AllSubscriptions(*policy, *state, &warnings);
    EXPECT_TRUE(subscriptions.ok()) << subscriptions.error().ToString();
    return Context{std::move(settings), std::move(policy).value(), std::move(state).value(),
                   std::move(subscriptions).value()};
  }

  // One `run --once` at `at`: the updates' results, the cache's report.
  struct Outcome {
    std::vector<SubscriptionUpdate> updates;
    CacheReport report;
    std::map<std::string, std::string> states;  // image -> inventory state
  };
  Outcome RunOnce(Context& ctx, TimePoint at, CacheSteps steps = {false, true, true}) {
    Outcome out;
    auto cycle = Cycle::Begin(ctx, FixedClock(at));
    EXPECT_TRUE(cycle.ok()) << cycle.error().ToString();
    if (!cycle.ok()) return out;
    if (steps.download) {
      auto updates = cycle->Update(ctx.subscriptions, UnchangedLists::kVerifyInFull);
      EXPECT_TRUE(updates.ok()) << updates.error().ToString();
      if (updates.ok()) out.updates = std::move(updates).value();
    }
    const Status cache = RunCache(*cycle, steps, nullptr, out.report);
    EXPECT_TRUE(cache.ok()) << cache.error().ToString();
    // What `catcher images` shows afterwards (the cycle's own inventory was
    // taken before its downloads).
    auto inventory = Cycle::Observe(ctx, FixedClock(at)).TakeInventory();
    EXPECT_TRUE(inventory.ok());
    if (!inventory.ok()) return out;
    for (const auto& item : inventory->images) {
      const ImageList& list = inventory->lists[item.list_index].list;
      out.states[list.image(item.index).identifier()] = std::string(InventoryStateName(item.state));
    }
    return out;
  }

  std::vector<std::string> Events() const {
    std::vector<std::string> out;
    std::istringstream in(fs::exists(handler_log_) ? test::ReadFile(handler_log_) : "");
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  test::TempDir dir_;
  const TimePoint t0_ = std::chrono::floor<seconds>(std::chrono::system_clock::now());
  std::string image_;
  std::string sha_;
  std::string list_url_;
  fs::path handler_log_;
};

// A list that expires takes its images out of the cache (to expired/, with
// ExpirePrefix/ExpirePostfix); expired/ is purged after the grace period.
// The cycles run at t0, past the list's expiry, and past the grace period.
TEST_F(CycleTest, ImagesOfAnExpiredListLeaveTheCacheAndArePurgedAfterTheGrace) {
  PublishList(t0_ + minutes(10));
  Context ctx = OpenContext();
  const fs::path view = ctx.settings.state_dir / "cache" / "img";
  const fs::path content = ctx.settings.state_dir / "cache" / ".sha512" / sha_;
  const fs::path expired = ctx.settings.state_dir / "expired" / "img";

  Outcome first = RunOnce(ctx, t0_);
  ASSERT_EQ(first.updates.size(), 1u);
  EXPECT_FALSE(first.updates[0].error) << first.updates[0].error->ToString();
  EXPECT_EQ(first.report.downloaded, 1);
  EXPECT_EQ(first.report.made_available, 1);
  EXPECT_EQ(first.states["img"], "cached");
  EXPECT_EQ(test::ReadFile(view), image_);

  // Ten minutes and a second later the list has expired: refused by the
  // update, its image expired by the same cycle.
  Outcome second = RunOnce(ctx, t0_ + minutes(10) + seconds(1));
  ASSERT_EQ(second.updates.size(), 1u);
  ASSERT_TRUE(second.updates[0].error);
  EXPECT_EQ(ErrorCodeName(second.updates[0].error->code()), "list-expired");
  EXPECT_EQ(ExitStatusFor(WorstFailure(second.updates).error().code()), 5);
  EXPECT_EQ(second.report.expired, 1);
  EXPECT_EQ(second.report.purged, 0);
  EXPECT_EQ(second.states["img"], "expired");
  EXPECT_FALSE(fs::exists(view));
  EXPECT_FALSE(fs::exists(content));
  EXPECT_EQ(test::ReadFile(expired), image_);
  const std::vector<std::string> events = Events();
  EXPECT_EQ(std::count(events.begin(), events.end(), "ExpirePrefix img"), 1);
  EXPECT_EQ(std::count(events.begin(), events.end(), "ExpirePostfix img"), 1);

  // Within the grace period expired/ keeps it; past it, it is purged.
  Outcome within = RunOnce(ctx, t0_ + minutes(50), {false, false, true});
  EXPECT_EQ(within.report.purged, 0);
  EXPECT_TRUE(fs::exists(expired));
  Outcome past = RunOnce(ctx, t0_ + hours(1) + minutes(11), {false, false, true});
  EXPECT_EQ(past.report.purged, 1);
  EXPECT_TRUE(fs::is_empty(ctx.settings.state_dir / "expired"));
}

// One cycle, one trust store and one S/MIME verification of the list,
// however many consumers: the update's, reused by the inventory that
// announcements, downloads and expiry share.
TEST_F(CycleTest, ACycleVerifiesTheListOnceForAllItsConsumers) {
  PublishList(t0_ + hours(24));
  Context ctx = OpenContext();
  auto cycle = Cycle::Begin(ctx, FixedClock(t0_));
  ASSERT_TRUE(cycle.ok());
  ASSERT_TRUE(cycle->Update(ctx.subscriptions, UnchangedLists::kVerifyInFull).ok());
  CacheReport report;
  ASSERT_TRUE(RunCache(*cycle, {true, true, true}, nullptr, report).ok());
  EXPECT_EQ(report.made_available, 1);
  const CycleWork work = cycle->Work();
  EXPECT_EQ(work.smime_verifications, 1u);
  EXPECT_EQ(work.trust_stores, 1u);
  EXPECT_EQ(work.inventories, 1u);

  // The next cycle: the same bytes again (a local file has no 304), verified
  // by the update; the inventory takes that list.
  auto next = Cycle::Begin(ctx, FixedClock(t0_ + minutes(1)));
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(next->Update(ctx.subscriptions, UnchangedLists::kVerifyInFull).ok());
  ASSERT_TRUE(next->TheInventory().ok());
  EXPECT_EQ(next->Work().smime_verifications, 1u);
  EXPECT_EQ(next->Work().inventories, 1u);
}

// The inventory takes the list its cycle's update judged only while that
// list is still the one stored: one stored by another update meanwhile is
// verified again, and the inventory shows it.
TEST_F(CycleTest, AListStoredMeanwhileIsVerifiedByTheInventory) {
  PublishList(t0_ + hours(24), "1");
  Context ctx = OpenContext();
  auto cycle = Cycle::Begin(ctx, FixedClock(t0_));
  ASSERT_TRUE(cycle.ok());
  ASSERT_TRUE(cycle->Update(ctx.subscriptions, UnchangedLists::kVerifyInFull).ok());

  PublishList(t0_ + hours(24), "2");
  auto other = Cycle::Begin(ctx, FixedClock(t0_));
  ASSERT_TRUE(other.ok());
  auto updates = other->Update(ctx.subscriptions, UnchangedLists::kVerifyInFull);
  ASSERT_TRUE(updates.ok() && updates->size() == 1);
  ASSERT_FALSE(updates->front().error) << updates->front().error->ToString();
  ASSERT_TRUE(updates->front().outcome.changed);

  auto inventory = cycle->TheInventory();
  ASSERT_TRUE(inventory.ok()) << inventory.error().ToString();
  ASSERT_EQ((*inventory)->lists.size(), 1u);
  EXPECT_EQ((*inventory)->lists.front().list.version(), "2");
  EXPECT_EQ(cycle->Work().smime_verifications, 3u);  // both updates, then the inventory
}

// A cycle's consumers share one reading of the cache records, which follows
// what this process writes: an offer, a download, an expiry.
TEST_F(CycleTest, CachedSummariesFollowThisProcesssWrites) {
  Context ctx = OpenContext();
  Cycle cycle = Cycle::Observe(ctx, FixedClock(t0_));
  auto summaries = cycle.CachedSummaries();
  ASSERT_TRUE(summaries.ok()) << summaries.error().ToString();
  EXPECT_TRUE((*summaries)->empty());

  const std::string sha(128, 'a');
  ASSERT_TRUE(ctx.state.PutCachedBatch({{"img-x", CachedImage{sha, "s", {}, true, t0_}}}).ok());
  summaries = cycle.CachedSummaries();
  ASSERT_TRUE(summaries.ok());
  ASSERT_EQ((*summaries)->count("img-x"), 1u);
  EXPECT_EQ((*summaries)->at("img-x").sha512, sha);

  ASSERT_TRUE(ctx.state.RemoveCachedBatch({"img-x"}).ok());
  summaries = cycle.CachedSummaries();
  ASSERT_TRUE(summaries.ok());
  EXPECT_EQ((*summaries)->count("img-x"), 0u);
}

// Steps 2-8 judge at the instant they are given, nothing else: the same
// signed bytes at instants around the list's dates (created an hour before
// t0, expiring ten minutes after it; skew 300 s).
TEST_F(CycleTest, VerifyCandidateJudgesAtTheInstantItIsGiven) {
  PublishList(t0_ + minutes(10));
  Context ctx = OpenContext();
  const std::string bytes = test::ReadFile(dir_ / "server" / "list");
  const TimePoint created = t0_ - hours(1);
  struct Instant {
    const char* what;
    TimePoint at;
    std::optional<std::string> refusal;
  };
  const std::vector<Instant> instants = {
      {"created beyond the skew ahead", created - seconds(301), "list-future-dated"},
      {"created just within the skew", created - seconds(300), std::nullopt},
      {"now", t0_, std::nullopt},
      {"a second before it expires", t0_ + minutes(10) - seconds(1), std::nullopt},
      {"the instant it expires", t0_ + minutes(10), "list-expired"},
      {"long after", t0_ + hours(24 * 365), "list-expired"},
  };
  for (const Instant& i : instants) {
    SCOPED_TRACE(i.what);
    const auto verified =
        VerifyCandidate(bytes, ctx.subscriptions.at(0), nullptr, UpdateParametersFor(ctx, i.at));
    if (!i.refusal) {
      EXPECT_TRUE(verified.ok()) << verified.error().ToString();
      continue;
    }
    ASSERT_FALSE(verified.ok());
    EXPECT_EQ(ErrorCodeName(verified.error().code()), *i.refusal) << verified.error().ToString();
  }
}

}  // namespace
}  // namespace vmc::catcher
