// End-to-end tests of catcher on big lists (issue 11, finding 8): every
// command is linear in the images of a list, and a cache run commits in
// batches. Time is never measured here (bench/run list-75k does that, with
// its baseline); what is counted instead is what made the old code slow and
// can be counted exactly: LMDB commits (mdb_stat's last transaction id grows
// by one per commit), which were two per image made available and one per
// image expired. The events must stay what they were: each image hears its
// AvailablePrefix and AvailablePostfix (then ExpirePrefix, ExpirePostfix)
// exactly once, in the list's order.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "common/digest.h"
#include "test/support/catcher_e2e.h"
#include "test/support/list_factory.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {
namespace {

namespace fs = std::filesystem;

// More than one batch of the cache (512), with a partial last one.
constexpr int kImages = 600;
// Commits a cache run of kImages may make: two per batch, with room for a
// few more; the old code made two per image.
constexpr std::uint64_t kMaxCommits = 12;

class CatcherScaleTest : public CatcherE2eTest<CatcherScaleTest> {
 protected:
  void SetUp() override {
    CatcherE2eTest::SetUp();
    if (HasFatalFailure()) return;
    events_ = dir_ / "events.log";
    const fs::path handler = dir_ / "handler.sh";
    WriteFile(handler,
              "#!/bin/sh\n"
              "printf '%s %s\\n' \"$VMCATCHER_EVENT_TYPE\" \"$VMCATCHER_EVENT_DC_IDENTIFIER\" "
              ">> \"$1\"\n");
    WriteFile(config_, "event-command = /bin/sh " + handler.string() + " " + events_.string() +
                           "\nevent-timeout = 30s\n");
  }

  // A cache run: two handler runs per image, which on a loaded machine
  // take longer than the fixture's minute.
  RunResult CacheRun(const std::vector<std::string>& args) const {
    RunOptions options = CatcherOptions();
    options.timeout = std::chrono::minutes(10);
    return test::Run(Argv(args), options);
  }

  // LMDB's last transaction id of the state: one more per commit.
  std::uint64_t LastTransaction() const {
    const RunResult r = test::Run({"mdb_stat", "-e", (state_ / "db").string()});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    for (const auto& line : Lines(r.out)) {
      const std::string key = "Last transaction ID: ";
      const auto at = line.find(key);
      if (at != std::string::npos) return std::stoull(line.substr(at + key.size()));
    }
    ADD_FAILURE() << "no transaction id in: " << r.out;
    return 0;
  }

  // A list of kImages images of a few bytes each, their content already in
  // the content store as a download leaves it (cache/.sha512/<sha512>), so
  // that the cache run only makes them available: what is counted is the
  // bookkeeping per image, not the transfers.
  void PublishBigList() {
    ListSpec spec;
    spec.identifier = NewTestUuid();
    const fs::path content = state_ / "cache" / ".sha512";
    fs::create_directories(content);
    for (int i = 0; i < kImages; ++i) {
      const std::string bytes = "image " + std::to_string(i) + "\n";
      auto sha = Sha512Hex(bytes);
      ASSERT_TRUE(sha.ok());
      WriteFile(content / *sha, bytes);
      ImageSpec image;
      image.identifier = "img-" + std::to_string(i);
      image.uri = Url(image.identifier);
      image.size = bytes.size();
      image.sha512 = *sha;
      spec.images.push_back(image);
      ids_.push_back(image.identifier);
    }
    Publish("list", spec);
    WritePolicy(Sub("big", Url("list"), "e1", R"(, "images": "all")"));
  }

  // The image events the handler heard, "TYPE IDENTIFIER" each, then clears
  // the record.
  std::vector<std::string> TakeImageEvents() {
    std::vector<std::string> out;
    if (!fs::exists(events_)) return out;
    for (const auto& line : Lines(ReadFile(events_))) {
      if (line.rfind("Process", 0) != 0) out.push_back(line);
    }
    fs::remove(events_);
    return out;
  }

  // Each image in list order: "<first> id", "<second> id".
  std::vector<std::string> PairsInOrder(const std::string& first, const std::string& second) {
    std::vector<std::string> out;
    for (const auto& id : ids_) {
      out.emplace_back(first).append(" ").append(id);
      out.emplace_back(second).append(" ").append(id);
    }
    return out;
  }

  int FilesIn(const fs::path& dir) const {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
    return n;
  }

  fs::path events_;
  std::vector<std::string> ids_;
};

TEST_F(CatcherScaleTest, CacheRunCommitsInBatchesNotPerImage) {
  PublishBigList();
  if (HasFatalFailure()) return;
  UpdateOk();

  std::uint64_t before = LastTransaction();
  RunResult r = CacheRun({"--json", "cache"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.out.find("\"made_available\":" + std::to_string(kImages)), std::string::npos)
      << r.out;
  EXPECT_LE(LastTransaction() - before, kMaxCommits)
      << "commits of a cache run that made " << kImages << " images available";
  EXPECT_EQ(FilesIn(state_ / "cache"), kImages);
  EXPECT_EQ(TakeImageEvents(), PairsInOrder("AvailablePrefix", "AvailablePostfix"));
  const auto states = ImageStates();
  ASSERT_EQ(states.size(), static_cast<std::size_t>(kImages));
  for (const auto& [id, state] : states) EXPECT_EQ(state, "cached") << id;

  // Nothing to do: nothing is written, nothing announced again.
  before = LastTransaction();
  r = CacheRun({"cache"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_LE(LastTransaction() - before, 1u);
  EXPECT_TRUE(TakeImageEvents().empty());

  // The subscription goes: every image expires, in batches too.
  WritePolicy("");
  before = LastTransaction();
  r = CacheRun({"--json", "cache"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.out.find("\"expired\":" + std::to_string(kImages)), std::string::npos) << r.out;
  EXPECT_LE(LastTransaction() - before, kMaxCommits)
      << "commits of a cache run that expired " << kImages << " images";
  EXPECT_EQ(FilesIn(state_ / "cache"), 0);
  EXPECT_EQ(FilesIn(state_ / "expired"), kImages);
  // The state's records are sorted by identifier, so expiry goes in that
  // order; each image hears the pair once.
  auto expired = TakeImageEvents();
  ASSERT_EQ(expired.size(), 2u * kImages);
  std::vector<std::string> sorted_ids = ids_;
  std::sort(sorted_ids.begin(), sorted_ids.end());
  for (std::size_t i = 0; i < sorted_ids.size(); ++i) {
    EXPECT_EQ(expired[2 * i], "ExpirePrefix " + sorted_ids[i]);
    EXPECT_EQ(expired[2 * i + 1], "ExpirePostfix " + sorted_ids[i]);
  }
}

// Finding 13: "seen" kept every identifier ever seen. After updates that
// keep changing the identifiers it holds those of the list held, and
// SubscriptionImageNew is still announced once per genuinely new identifier:
// never for one that stays, never on the first update.
TEST_F(CatcherScaleTest, SeenIsPrunedAndNewImagesAreAnnouncedOnce) {
  ListSpec spec;
  spec.identifier = NewTestUuid();
  auto image = [&](const std::string& id) {
    ImageSpec i;
    i.identifier = id;
    i.uri = Url(id);
    return i;
  };
  std::vector<std::string> expected_new;
  for (int v = 1; v <= 6; ++v) {
    spec.version = std::to_string(v);
    spec.images = {image("img-keep")};
    // Version v names img-<2v-2> .. img-<2v+7>: two new ones each time.
    for (int i = 2 * v - 2; i < 2 * v + 8; ++i)
      spec.images.push_back(image("img-" + std::to_string(i)));
    if (v > 1) {
      expected_new.push_back("SubscriptionImageNew img-" + std::to_string(2 * v + 6));
      expected_new.push_back("SubscriptionImageNew img-" + std::to_string(2 * v + 7));
    }
    Publish("list", spec);
    if (v == 1) WritePolicy(Sub("rolling", Url("list"), "e1", R"(, "images": "all")"));
    UpdateOk();
    const RunResult stat = test::Run({"mdb_stat", "-s", "seen", (state_ / "db").string()});
    ASSERT_EQ(stat.exit_code, 0) << Describe(stat);
    EXPECT_NE(stat.out.find("Entries: 11\n"), std::string::npos)
        << "version " << v << " names 11 images; seen: " << stat.out;
  }
  EXPECT_EQ(TakeImageEvents(), expected_new);
}

}  // namespace
}  // namespace vmc::test
