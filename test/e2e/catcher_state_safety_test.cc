// End-to-end tests of the state directory's safety (issue 11, finding 7;
// DESIGN.md sections 5 and 6): catcher runs as root, so a symbolic link
// planted in its state directory must never be followed. Each test plants a
// link where catcher keeps a file or a directory of its own (partial/,
// cache/, cache/.sha512/, expired/), pointing at a victim file or directory
// outside the state directory, runs the real catcher against a real nginx,
// and proves that the victim is unchanged (content and mode), that nothing
// was created in it or renamed into it, and that no link ended up among
// catcher's files. catcher also refuses a state directory that others can
// write.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test/support/catcher_e2e.h"
#include "test/support/json_output.h"
#include "test/support/list_factory.h"
#include "test/support/nginx.h"
#include "test/support/pki.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {
namespace {

namespace fs = std::filesystem;

constexpr char kVictimText[] = "the victim's own bytes, which catcher must never touch\n";

std::string RandomBytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 random(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(random() & 0xff);
  return out;
}

std::string Sha512SumOf(const fs::path& file) {
  const RunResult r = Run({"sha512sum", "--", file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, 128);
}

mode_t ModeOf(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Every entry of a directory tree, with its type, mode and (files) content.
std::map<std::string, std::string> Snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(root, ec)) {
    const std::string rel = fs::relative(e.path(), root).string();
    std::string what = std::to_string(ModeOf(e.path())) + " ";
    if (e.is_symlink()) {
      what += "link " + fs::read_symlink(e.path()).string();
    } else if (e.is_regular_file()) {
      what += "file " + ReadFile(e.path());
    } else {
      what += "other";
    }
    out[rel] = what;
  }
  return out;
}

// No symbolic link anywhere among catcher's files.
void ExpectNoLinkUnder(const fs::path& root) {
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(root, ec)) {
    EXPECT_FALSE(e.is_symlink()) << e.path() << " is a link among catcher's files";
  }
}

class CatcherStateSafetyTest : public CatcherE2eTest<CatcherStateSafetyTest> {
 protected:
  void SetUp() override {
    CatcherE2eTest::SetUp();
    if (HasFatalFailure()) return;
    victim_ = dir_ / "victim";
    WriteFile(victim_, kVictimText);
    fs::permissions(victim_, fs::perms::owner_read | fs::perms::owner_write);
    victim_dir_ = dir_ / "victim-dir";
    fs::create_directories(victim_dir_);
    WriteFile(victim_dir_ / "keep", kVictimText);
    fs::permissions(victim_dir_ / "keep", fs::perms::owner_read | fs::perms::owner_write);
    victim_dir_before_ = Snapshot(victim_dir_);

    image_ = RandomBytes(300 * 1024, 11);
    PublishBytes("img.img", image_);
    sha_ = Sha512SumOf(server_->root() / name_ / "img.img");
    list_id_ = NewTestUuid();
    PublishVersion("1", true);
    WriteFile(config_, "expired-grace = 1s\n");
    WritePolicy(Sub("sub", Url("list"), "e1", R"(, "images": "all")"));
    UpdateOk();
    // The directories catcher makes, made before it runs so that links can
    // be planted in them (0755, as catcher makes them).
    for (const char* d : {"cache/.sha512", "partial", "expired"}) {
      fs::create_directories(state_ / d);
    }
    for (const char* d : {"cache", "cache/.sha512", "partial", "expired"}) {
      fs::permissions(state_ / d, static_cast<fs::perms>(0755));
    }
  }

  // Version `version` of the list, with the image or without it.
  void PublishVersion(const std::string& version, bool with_image) {
    ListSpec spec;
    spec.identifier = list_id_;
    spec.version = version;
    if (with_image) {
      ImageSpec image;
      image.identifier = "img";
      image.uri = Url("img.img");
      image.size = image_.size();
      image.sha512 = sha_;
      spec.images.push_back(image);
    }
    Publish("list", spec);
  }

  fs::path View() const { return state_ / "cache" / "img"; }
  fs::path Content() const { return state_ / "cache" / ".sha512" / sha_; }

  // The victim file and directory are as SetUp() made them.
  void ExpectVictimsUnchanged() {
    EXPECT_FALSE(fs::is_symlink(victim_));
    EXPECT_EQ(ReadFile(victim_), kVictimText) << "catcher wrote through a link";
    EXPECT_EQ(ModeOf(victim_), 0600u) << "catcher changed the mode through a link";
    EXPECT_EQ(Snapshot(victim_dir_), victim_dir_before_)
        << "catcher created, renamed or removed something through a link";
  }

  // The image is cached, properly: a view that is a hard link of the
  // content file, both holding its bytes, and no link anywhere.
  void ExpectCachedProperly() {
    ASSERT_TRUE(fs::is_regular_file(fs::symlink_status(View()))) << View();
    ASSERT_TRUE(fs::is_regular_file(fs::symlink_status(Content()))) << Content();
    EXPECT_EQ(Sha512SumOf(View()), sha_);
    EXPECT_TRUE(fs::equivalent(View(), Content()));
    ExpectNoLinkUnder(state_);
  }

  // A run that meets a planted link: refused, naming the link, exit 7.
  void ExpectRefused(const RunResult& r, const fs::path& link) {
    EXPECT_EQ(r.exit_code, 7) << Describe(r);
    EXPECT_NE(r.err.find(link.string()), std::string::npos) << Describe(r);
    EXPECT_NE(r.err.find("unsafe-path"), std::string::npos) << Describe(r);
  }

  fs::path victim_;
  fs::path victim_dir_;
  std::map<std::string, std::string> victim_dir_before_;
  std::string image_;
  std::string sha_;
  std::string list_id_;
};

// partial/<sha512>.part planted as a link to a root-only file: the old code
// opened it, appended the download to the victim, chmod-ed it 0644 and renamed
// the link into the content store.
TEST_F(CatcherStateSafetyTest, PlantedSymlinkIsNeverFollowedInPartial) {
  const fs::path link = state_ / "partial" / (sha_ + ".part");
  fs::create_symlink(victim_, link);
  const RunResult r = Catcher({"cache"});
  ExpectRefused(r, link);
  ExpectVictimsUnchanged();
  EXPECT_FALSE(fs::exists(fs::symlink_status(link))) << "the planted link is kept";
  EXPECT_FALSE(fs::is_symlink(Content())) << "a link was renamed into the content store";

  // With the link gone, the next run caches the image as usual.
  const RunResult again = Catcher({"cache"});
  EXPECT_EQ(again.exit_code, 0) << Describe(again);
  ExpectCachedProperly();
  ExpectVictimsUnchanged();

  // A hard link of another file is no partial download of catcher's either.
  fs::remove(Content());
  fs::remove(View());
  fs::create_hard_link(victim_, link);
  ExpectRefused(Catcher({"cache"}), link);
  ExpectVictimsUnchanged();
}

// cache/.sha512/<sha512> planted as a link: the old code took it for the
// downloaded image and hard-linked the link itself as the view, so the
// middleware would import the victim file as the image.
TEST_F(CatcherStateSafetyTest, PlantedSymlinkIsNeverFollowedInContentStore) {
  fs::create_symlink(victim_, Content());
  const RunResult r = Catcher({"cache"});
  ExpectRefused(r, Content());
  ExpectVictimsUnchanged();
  EXPECT_FALSE(fs::exists(fs::symlink_status(View()))) << "a view was made of a planted link";
  EXPECT_FALSE(fs::is_symlink(Content()));

  const RunResult again = Catcher({"cache"});
  EXPECT_EQ(again.exit_code, 0) << Describe(again);
  ExpectCachedProperly();

  // `cache --check` meets a link planted over the cached content: it is
  // removed, never hashed (read) through, and its view leaves the cache.
  fs::remove(Content());
  fs::create_symlink(victim_, Content());
  const RunResult check = Catcher({"cache", "--check"});
  EXPECT_NE(check.exit_code, 0) << Describe(check);
  EXPECT_NE(check.err.find(Content().string()), std::string::npos) << Describe(check);
  EXPECT_FALSE(fs::exists(fs::symlink_status(Content())));
  ExpectNoLinkUnder(state_);
  ExpectVictimsUnchanged();
}

// cache/<identifier> planted as a link, and cache/ itself as a link to
// another directory.
TEST_F(CatcherStateSafetyTest, PlantedSymlinkIsNeverFollowedInCache) {
  ASSERT_EQ(Catcher({"cache"}).exit_code, 0);
  ExpectCachedProperly();
  // The view replaced by a link: when the image expires, the old code renamed
  // the link into expired/ as if it were catcher's view.
  fs::remove(View());
  fs::create_symlink(victim_, View());
  PublishVersion("2", false);
  UpdateOk();
  const RunResult r = Catcher({"cache"});
  ExpectRefused(r, View());
  EXPECT_FALSE(fs::exists(fs::symlink_status(View())));
  EXPECT_FALSE(fs::exists(fs::symlink_status(state_ / "expired" / "img")))
      << "the planted link was renamed into expired/";
  ExpectNoLinkUnder(state_);
  ExpectVictimsUnchanged();

  // cache/ itself a link: catcher refuses to start, and neither creates the
  // content store nor links views through it.
  PublishVersion("3", true);
  UpdateOk();
  fs::remove_all(state_ / "cache");
  fs::create_directory_symlink(victim_dir_, state_ / "cache");
  const RunResult through = Catcher({"cache"});
  ExpectRefused(through, state_ / "cache");
  ExpectVictimsUnchanged();
}

// expired/ as a link to another directory: the old code renamed expiring
// views into it and purged what it held; a link planted as expired/<id> is
// removed, not followed.
TEST_F(CatcherStateSafetyTest, PlantedSymlinkIsNeverFollowedInExpired) {
  ASSERT_EQ(Catcher({"cache"}).exit_code, 0);
  ExpectCachedProperly();
  PublishVersion("2", false);
  UpdateOk();
  fs::remove_all(state_ / "expired");
  fs::create_directory_symlink(victim_dir_, state_ / "expired");
  const RunResult r = Catcher({"cache"});
  ExpectRefused(r, state_ / "expired");
  ExpectVictimsUnchanged();
  EXPECT_TRUE(fs::exists(View())) << "expired through a link";

  // A link inside a real expired/ is purged as an entry: removed, its
  // target untouched.
  fs::remove(state_ / "expired");
  fs::create_directory(state_ / "expired");
  fs::permissions(state_ / "expired", static_cast<fs::perms>(0755));
  fs::create_symlink(victim_, state_ / "expired" / "planted");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the grace
  const RunResult purge = Catcher({"cache"});
  EXPECT_EQ(purge.exit_code, 0) << Describe(purge);
  EXPECT_FALSE(fs::exists(View()));
  EXPECT_FALSE(fs::exists(fs::symlink_status(state_ / "expired" / "planted")));
  ExpectNoLinkUnder(state_);
  ExpectVictimsUnchanged();
}

// A state directory (or a directory in it) that others can write, or that
// another user owns, is refused before anything is read or written.
TEST_F(CatcherStateSafetyTest, StateDirectoryOthersCanWriteIsRefused) {
  for (const std::string sub : {"", "db", "cache", "cache/.sha512", "partial", "expired"}) {
    SCOPED_TRACE("directory " + sub);
    const fs::path dir = sub.empty() ? state_ : state_ / sub;
    const fs::perms before = fs::status(dir).permissions();
    for (const fs::perms mode : {static_cast<fs::perms>(0777), static_cast<fs::perms>(0775),
                                 static_cast<fs::perms>(01777)}) {
      fs::permissions(dir, mode);
      const RunResult r = Catcher({"--json", "images"});
      EXPECT_EQ(r.exit_code, 7) << Describe(r);
      EXPECT_EQ(ErrorCodeOf(r), "unsafe-path") << Describe(r);
      EXPECT_NE(r.out.find(dir.string()), std::string::npos) << Describe(r);
      char text[8];
      std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode));
      EXPECT_NE(r.out.find(text), std::string::npos) << "the mode is not named: " << Describe(r);
    }
    fs::permissions(dir, before);
    EXPECT_EQ(Catcher({"images"}).exit_code, 0);
  }
  if (geteuid() == 0) {
    // Owned by another user (nobody): refused though its mode is 0755.
    ASSERT_EQ(chown(state_.c_str(), 65534, 65534), 0);
    const RunResult r = Catcher({"--json", "images"});
    EXPECT_EQ(r.exit_code, 7) << Describe(r);
    EXPECT_EQ(ErrorCodeOf(r), "unsafe-path") << Describe(r);
    EXPECT_NE(r.out.find("owned by user 65534"), std::string::npos) << Describe(r);
    ASSERT_EQ(chown(state_.c_str(), 0, 0), 0);
  }
  // db/ as a link: LMDB would open data.mdb through it.
  fs::rename(state_ / "db", dir_ / "db-elsewhere");
  fs::create_directory_symlink(dir_ / "db-elsewhere", state_ / "db");
  const RunResult link = Catcher({"--json", "images"});
  EXPECT_EQ(link.exit_code, 7) << Describe(link);
  EXPECT_EQ(ErrorCodeOf(link), "unsafe-path") << Describe(link);
  EXPECT_NE(link.out.find((state_ / "db").string() + " is a symbolic link"), std::string::npos)
      << Describe(link);
}

}  // namespace
}  // namespace vmc::test
