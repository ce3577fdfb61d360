// End-to-end tests of catcher's daemon and commands running at once (issue 6):
// the real catcher executable, lists signed with the test PKI and images
// served by a real nginx over HTTPS on loopback, one state directory shared
// by `catcher run` and the commands an admin types meanwhile.
//
// The design (DESIGN.md section 6, catcher/lock.h): LMDB serializes writers
// and never blocks readers, so no command needs a lock on the database; only
// the cache directories have one (cache.lock, held by a cache run, waited
// for). So no command may fail with `locked` because another process works on
// the same state, and no interleaving may corrupt the state: the database
// opens, every list stored is one that verified, nothing of an unsubscribed
// subscription stays behind, and the cache holds only proven files and hard
// links to them.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "common/smime.h"
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
using std::chrono::milliseconds;
using std::chrono::seconds;

const TestPki& Pki() { return TestPki::Get(); }

// Violations of the cache's invariants: every file of cache/.sha512/ is named
// by its own SHA-512, every entry of cache/ is a hard link to one of them.
std::vector<std::string> CacheViolations(const fs::path& state) {
  std::vector<std::string> problems;
  std::set<ino_t> inodes;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(state / "cache" / ".sha512", ec)) {
    const std::string name = e.path().filename().string();
    auto digest = HashFile(e.path());
    if (!digest.ok() || digest->sha512_hex != name) {
      problems.push_back("cache/.sha512/" + name + " does not hold its SHA-512");
    }
    struct stat st {};
    if (lstat(e.path().c_str(), &st) == 0) inodes.insert(st.st_ino);
  }
  for (const auto& e : fs::directory_iterator(state / "cache", ec)) {
    const std::string name = e.path().filename().string();
    if (name == ".sha512") continue;
    struct stat st {};
    if (lstat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !inodes.contains(st.st_ino)) {
      problems.push_back("cache/" + name + " is not a hard link to a file of cache/.sha512/");
    }
  }
  return problems;
}

// Commands run by several threads: every failure, one line each.
class Failures {
 public:
  void Check(const std::string& what, const RunResult& r) {
    ++runs_;
    if (r.exit_code == 0) return;
    const std::lock_guard lock(mutex_);
    lines_.push_back(what + ": exit " + std::to_string(r.exit_code) + " [" + ErrorCodeOf(r.out) +
                     "] " + r.out + r.err);
  }
  std::vector<std::string> lines() const {
    const std::lock_guard lock(mutex_);
    return lines_;
  }
  int runs() const { return runs_.load(); }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
  std::atomic<int> runs_{0};
};

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

class CatcherConcurrencyTest : public CatcherE2eTest<CatcherConcurrencyTest> {
 protected:
  static void SetUpTestSuite() {
    NginxOptions options;
    // Lists that take about a second and a half to arrive.
    options.server_config = "    location /slow/ { limit_rate 2k; }\n";
    StartServer(std::move(options));
  }

  // <test>/<path> under the root, or under /slow/ (2 KiB/s).
  std::string Path(const std::string& path, bool slow = false) const {
    return std::string(slow ? "/slow/" : "/") + name_ + "/" + path;
  }
  std::string Url(const std::string& path, bool slow = false) const {
    return server_->Url(Path(path, slow));
  }

  void Publish(const std::string& path, const ListSpec& spec, bool slow = false) {
    auto signed_list = BuildSignedList(spec, Pki().endorser1());
    ASSERT_TRUE(signed_list.ok()) << signed_list.error().ToString();
    Serve(server_->root() / Path(path, slow).substr(1), *signed_list);
  }

  // A small image with distinct bytes, served at <test>/images/<id>.
  ImageSpec ServeImage(const std::string& id) {
    const std::string bytes = "image " + id + " of " + name_ + "\n" + std::string(4096, 'i');
    Serve(server_->root() / Path("images/" + id).substr(1), bytes);
    ImageSpec spec;
    spec.identifier = id;
    spec.uri = Url("images/" + id);
    spec.size = bytes.size();
    spec.sha512 = Sha512Hex(bytes).value();
    return spec;
  }

  static ListSpec Spec(const std::string& id, int version, std::vector<ImageSpec> images) {
    ListSpec s;
    s.identifier = id;
    s.version = std::to_string(version);
    s.images = std::move(images);
    return s;
  }

  std::vector<std::string> Subscribe(const std::string& url, const std::string& name) const {
    return {"--json", "subscribe",     url,   "--name", name, "--endorser-dn",
            e1_.dn,   "--endorser-ca", e1_.ca};
  }

  // `subscriptions --json`: name -> version ("" when none is held).
  std::map<std::string, std::string> Versions() const {
    std::map<std::string, std::string> out;
    const RunResult r = Catcher({"--json", "subscriptions"});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    auto doc = ParseJson(r.out);
    if (!doc || !doc->IsArray()) return out;
    for (const auto& item : doc->GetArray()) out[Str(item, "name")] = Str(item, "version");
    return out;
  }

  // The keys of each database (mdb_dump -p), by database name.
  std::map<std::string, std::set<std::string>> Keys() const {
    const RunResult r = test::Run({"mdb_dump", "-a", "-p", (state_ / "db").string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, std::set<std::string>> out;
    std::string name;
    bool data = false;
    bool key = true;
    for (const auto& line : Lines(r.out)) {
      if (line.rfind("database=", 0) == 0) name = line.substr(9);
      if (line == "HEADER=END") {
        data = true;
        key = true;
        out[name];
        continue;
      }
      if (line == "DATA=END") {
        data = false;
        continue;
      }
      if (!data) continue;
      if (key) out[name].insert(line.substr(1));  // printable form, one leading space
      key = !key;
    }
    return out;
  }

  // Every key of a database that names a subscription belongs to one of
  // `names` (the "name/..." keys of "history" and "seen" included).
  void ExpectStateOnlyOf(const std::set<std::string>& names) const {
    const auto keys = Keys();
    for (const char* db : {"subscriptions", "lists", "list_bytes", "attempts", "history", "seen"}) {
      ASSERT_EQ(keys.count(db), 1u) << db;
      for (const auto& key : keys.at(db)) {
        const std::string owner = key.substr(0, key.find('/'));
        EXPECT_EQ(names.count(owner), 1u) << db << "/" << key << " belongs to no subscription";
      }
    }
  }
};

// Two updates of one subscription at once, both fetching the same new list:
// one stores it, and the other, which verified it against the list held
// before, must not fail (it finds the list it fetched already stored).
TEST_F(CatcherConcurrencyTest, ConcurrentUpdatesOfOneListBothSucceed) {
  WritePolicy(Sub("sub", Url("list", /*slow=*/true)));
  const std::string id = NewTestUuid();
  const std::vector<ImageSpec> images = {ServeImage("img-a"), ServeImage("img-b")};
  Publish("list", Spec(id, 1, images), /*slow=*/true);
  ASSERT_EQ(Catcher({"--json", "update"}).exit_code, 0);

  for (int version = 2; version <= 3; ++version) {
    SCOPED_TRACE("version " + std::to_string(version));
    Publish("list", Spec(id, version, images), /*slow=*/true);
    const fs::path log = dir_ / ("first-" + std::to_string(version) + ".log");
    auto first = Start({"-v", "--json", "update"}, log);
    // The second starts while the first is fetching, slowly (2 KiB/s): both
    // verify the new list against the one held.
    ASSERT_TRUE(WaitFor(
        [&] { return ReadFile(log).find("fetching the list") != std::string::npos; }, seconds(20)))
        << ReadFile(log);
    const RunResult second = Catcher({"-v", "--json", "update"});
    EXPECT_EQ(first->Wait(), 0) << ReadFile(log);
    EXPECT_EQ(second.exit_code, 0) << Describe(second);
    EXPECT_EQ(Versions()["sub"], std::to_string(version));
    // The race ran: the one that stored second found the list changed under
    // it and updated again.
    const std::string again = "; updating it again";
    EXPECT_TRUE(ReadFile(log).find(again) != std::string::npos ||
                second.err.find(again) != std::string::npos)
        << ReadFile(log) << Describe(second);
  }
  ExpectStateOnlyOf({"sub"});
}

// `unsubscribe` while an update of that subscription is fetching: the update
// does not bring the subscription's state back, nor fail for a lock.
TEST_F(CatcherConcurrencyTest, UnsubscribeDuringUpdateLeavesNoState) {
  const std::string id = NewTestUuid();
  const std::vector<ImageSpec> images = {ServeImage("img-a")};
  Publish("list", Spec(id, 1, images), /*slow=*/true);
  Publish("other", Spec(NewTestUuid(), 1, {ServeImage("img-o")}));
  ASSERT_EQ(Catcher(Subscribe(Url("list", true), "mine")).exit_code, 0);
  ASSERT_EQ(Catcher(Subscribe(Url("other"), "other")).exit_code, 0);

  Publish("list", Spec(id, 2, images), /*slow=*/true);
  const fs::path log = dir_ / "update.log";
  auto update = Start({"-v", "--json", "update"}, log);
  const std::string fetching = "fetching the list " + Url("list", true);
  ASSERT_TRUE(
      WaitFor([&] { return ReadFile(log).find(fetching) != std::string::npos; }, seconds(20)))
      << ReadFile(log);
  const RunResult unsubscribe = Catcher({"--json", "unsubscribe", "mine"});
  EXPECT_EQ(unsubscribe.exit_code, 0) << Describe(unsubscribe);
  EXPECT_EQ(update->Wait(), 0) << ReadFile(log);
  // The race ran: the update found its subscription gone when it came to
  // store the list it fetched.
  EXPECT_NE(ReadFile(log).find("subscription mine was removed meanwhile"), std::string::npos)
      << ReadFile(log);
  EXPECT_EQ(Versions(), (std::map<std::string, std::string>{{"other", "1"}}));
  ExpectStateOnlyOf({"other"});
  EXPECT_EQ(ImageStates(), (std::map<std::string, std::string>{{"img-o", "wanted"}}));
}

// A subscription made, and one removed, with `catcher subscribe` and
// `unsubscribe` while the daemon runs: the daemon's next cycles cache the new
// one's images and let the removed one's go, without a restart or SIGHUP.
TEST_F(CatcherConcurrencyTest, SubscriptionsChangedWhileDaemonRuns) {
  Publish("old", Spec(NewTestUuid(), 1, {ServeImage("img-old")}));
  Publish("new", Spec(NewTestUuid(), 1, {ServeImage("img-new")}));
  ASSERT_EQ(Catcher(Subscribe(Url("old"), "old")).exit_code, 0);
  const fs::path log = dir_ / "daemon.log";
  auto daemon = Start({"-v", "run", "--interval", "1s"}, log);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(state_ / "cache" / "img-old"); }, seconds(20)))
      << ReadFile(log);

  const RunResult sub = Catcher(Subscribe(Url("new"), "new"));
  EXPECT_EQ(sub.exit_code, 0) << Describe(sub);
  const RunResult unsub = Catcher({"--json", "unsubscribe", "old"});
  EXPECT_EQ(unsub.exit_code, 0) << Describe(unsub);
  EXPECT_TRUE(WaitFor([&] { return fs::exists(state_ / "cache" / "img-new"); }, seconds(10)))
      << "the daemon did not cache the images of a subscription made while it runs\n"
      << ReadFile(log);
  EXPECT_TRUE(WaitFor([&] { return !fs::exists(state_ / "cache" / "img-old"); }, seconds(10)))
      << "the daemon kept the images of a removed subscription\n"
      << ReadFile(log);
  EXPECT_TRUE(daemon->Running());
  EXPECT_EQ(daemon->Stop(), 0) << ReadFile(log);
  EXPECT_EQ(Versions(), (std::map<std::string, std::string>{{"new", "1"}}));
  ExpectStateOnlyOf({"new"});
  EXPECT_TRUE(CacheViolations(state_).empty());
}

// The daemon cycles every second while, for about twenty seconds, new list
// versions are published, two threads run `update` in a loop and another
// subscribes, unsubscribes and lists (`images`, `subscriptions`, `status`,
// `export`). No command fails, and the state is whole afterwards.
TEST_F(CatcherConcurrencyTest, DaemonAndCommandsRunTogether) {
  const std::string p1 = NewTestUuid();
  const std::string p2 = NewTestUuid();
  const std::vector<ImageSpec> images1 = {ServeImage("p1-a"), ServeImage("p1-b")};
  const std::vector<ImageSpec> images2 = {ServeImage("p2-a")};
  Publish("p1", Spec(p1, 1, images1));
  Publish("p2", Spec(p2, 1, images2));
  WritePolicy(Sub("p1", Url("p1")) + ", " + Sub("p2", Url("p2")));
  constexpr int kLists = 8;
  for (int k = 0; k < kLists; ++k) {
    Publish("c" + std::to_string(k),
            Spec(NewTestUuid(), 1, {ServeImage("c" + std::to_string(k) + "-img")}));
  }

  const fs::path log = dir_ / "daemon.log";
  auto daemon = Start({"-v", "run", "--interval", "1s"}, log);
  std::this_thread::sleep_for(milliseconds(500));

  Failures failures;
  std::atomic<bool> done{false};
  std::atomic<int> version{1};
  std::thread publisher([&] {
    while (!done.load()) {
      std::this_thread::sleep_for(milliseconds(400));
      const int v = ++version;
      Publish("p1", Spec(p1, v, images1));
      Publish("p2", Spec(p2, v, images2));
    }
  });
  // Two updaters, so that updates of one subscription also race each other.
  std::vector<std::thread> updaters;
  updaters.reserve(2);
  for (int t = 0; t < 2; ++t) {
    updaters.emplace_back([&] {
      while (!done.load()) failures.Check("update", Catcher({"--json", "update"}));
    });
  }
  std::set<std::string> subscribed;
  // 20 s of racing, and at least 100 commands however slow a build is
  // (under ASan on a loaded machine a command takes three times as long),
  // bounded by a minute.
  const auto start = std::chrono::steady_clock::now();
  const auto enough = [&] {
    const auto now = std::chrono::steady_clock::now();
    return now - start >= seconds(60) || (now - start >= seconds(20) && failures.runs() > 100);
  };
  for (int i = 0; !enough(); ++i) {
    const int k = i % kLists;
    const std::string name = "c" + std::to_string(k);
    if (!subscribed.contains(name)) {
      failures.Check("subscribe " + name, Catcher(Subscribe(Url(name), name)));
      subscribed.insert(name);
    } else if (i % 5 == 0) {
      failures.Check("unsubscribe " + name, Catcher({"--json", "unsubscribe", name}));
      subscribed.erase(name);
    }
    for (const char* command : {"images", "subscriptions", "status"}) {
      const RunResult r = Catcher({"--json", command});
      failures.Check(command, r);
      if (r.exit_code == 0 &&
          ParseJson(Lines(r.out).empty() ? "" : Lines(r.out).front()) == nullptr) {
        failures.Check(std::string(command) + " printed no JSON", RunResult{1, false, r.out, ""});
      }
    }
    failures.Check("export", Catcher({"--json", "export", "--format", "json"}));
  }
  done = true;
  publisher.join();
  for (auto& t : updaters) t.join();
  EXPECT_TRUE(daemon->Running()) << ReadFile(log);
  EXPECT_EQ(daemon->Stop(), 0) << ReadFile(log);

  EXPECT_GT(failures.runs(), 100);
  EXPECT_TRUE(failures.lines().empty())
      << failures.lines().size() << " of " << failures.runs() << " commands failed:\n"
      << Join(failures.lines());
  const std::string text = ReadFile(log);
  EXPECT_EQ(text.find("catcher: error"), std::string::npos) << text;

  // Whole afterwards: the latest versions, nothing of removed subscriptions,
  // and one clean cycle caches every wanted image.
  const RunResult update = Catcher({"--json", "update"});
  EXPECT_EQ(update.exit_code, 0) << Describe(update);
  std::set<std::string> names = subscribed;
  names.insert("p1");
  names.insert("p2");
  auto versions = Versions();
  EXPECT_EQ(versions.size(), names.size());
  EXPECT_EQ(versions["p1"], std::to_string(version.load()));
  EXPECT_EQ(versions["p2"], std::to_string(version.load()));
  for (const auto& name : subscribed) EXPECT_EQ(versions[name], "1") << name;
  ExpectStateOnlyOf(names);
  const RunResult once = Catcher({"--json", "run", "--once"});
  EXPECT_EQ(once.exit_code, 0) << Describe(once);
  for (const auto& [image, state] : ImageStates()) EXPECT_EQ(state, "cached") << image;
  EXPECT_TRUE(CacheViolations(state_).empty()) << Join(CacheViolations(state_));
}

}  // namespace
}  // namespace vmc::test
