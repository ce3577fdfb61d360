// End-to-end tests of catcher's image cache, events, daemon, status and export
// (issue 5): the real catcher executable against lists signed with the test
// PKI and images served by a real nginx over HTTPS on loopback, with an event
// handler (a shell script the test writes) that records the environment of
// every event it is run for.
//
// After every fault (bytes too many or wrong, a dropped connection, a process
// killed with SIGKILL) the test proves the cache's invariant with sha512sum:
// every file of the content store is named by its own SHA-512, and every view
// cache/<identifier> is a hard link to one of them.
//
// nginx serves /slow/... at 256 KiB/s to requests without a Range header and
// at full speed to ranged requests, so that a first download lasts long
// enough to be interrupted and the resumed one is quick.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/smime.h"
#include "test/support/catcher_e2e.h"
#include "test/support/event_log.h"
#include "test/support/json_output.h"
#include "test/support/list_factory.h"
#include "test/support/nginx.h"
#include "test/support/pki.h"
#include "test/support/sha512sum.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

TimePoint Now() { return std::chrono::time_point_cast<seconds>(std::chrono::system_clock::now()); }

const TestPki& Pki() { return TestPki::Get(); }

constexpr std::uint64_t kMiB = 1024 * 1024;

// --- small helpers -------------------------------------------------------------

std::uint64_t U64(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject()) return ~std::uint64_t{0};
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsUint64()) return ~std::uint64_t{0};
  return it->value.GetUint64();
}

std::string RandomBytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 random(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(random() & 0xff);
  return out;
}

std::uint64_t FileSize(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

ino_t Inode(const fs::path& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

std::vector<std::string> DirNames(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The processes whose parent is `parent` (from /proc/*/stat).
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    long ppid = 0;
    if (rest >> state >> ppid && ppid == parent) out.push_back(std::stoi(name));
  }
  return out;
}

// Whether process `pid` holds a POSIX or flock lock on `file` (/proc/locks).
bool HoldsLock(pid_t pid, const fs::path& file) {
  struct stat st {};
  if (stat(file.c_str(), &st) != 0) return false;
  const std::string inode = ":" + std::to_string(st.st_ino);
  std::ifstream in("/proc/locks");
  std::string line;
  while (std::getline(in, line)) {
    // "1: POSIX  ADVISORY  READ 1234 fd:01:5678 0 0"
    std::istringstream f(line);
    std::string n, kind, mode, access, device;
    long holder = 0;
    if (!(f >> n >> kind)) continue;
    if (kind == "->") f >> kind;  // a blocked waiter
    if (!(f >> mode >> access >> holder >> device)) continue;
    if (holder == pid && device.size() > inode.size() &&
        device.compare(device.size() - inode.size(), inode.size(), inode) == 0) {
      return true;
    }
  }
  return false;
}

// The one ranged response (206) of `log`, beside one whole-file response
// (200) that was cut short.
std::optional<AccessLogEntry> Resumed(const std::vector<AccessLogEntry>& log) {
  std::optional<AccessLogEntry> out;
  int whole = 0;
  for (const auto& e : log) {
    if (e.status == 206) {
      EXPECT_FALSE(out) << "two ranged responses";
      out = e;
    } else {
      EXPECT_EQ(e.status, 200);
      ++whole;
    }
  }
  EXPECT_EQ(whole, 1);
  return out;
}

// --- a loopback server for faults nginx cannot make ------------------------------

// Answers every request with 200, no Content-Length, and an endless body:
// the "endless data" attack. Counts what it managed to send before the
// client hung up.
class EndlessServer {
 public:
  EndlessServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(fd_, 8) != 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on loopback";
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~EndlessServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
  }
  EndlessServer(const EndlessServer&) = delete;
  EndlessServer& operator=(const EndlessServer&) = delete;

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::uint64_t sent() const { return sent_.load(); }
  int connections() const { return connections_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++connections_;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      const std::string head =
          "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n";
      send(c, head.data(), head.size(), MSG_NOSIGNAL);
      const std::string chunk = RandomBytes(64 * 1024, 99);
      // At most 256 MiB, so that a client that never stops cannot hang the test.
      for (int i = 0; i < 4096 && !stop_; ++i) {
        const ssize_t n = send(c, chunk.data(), chunk.size(), MSG_NOSIGNAL);
        if (n <= 0) break;
        sent_ += static_cast<std::uint64_t>(n);
      }
      close(c);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<int> connections_{0};
};

// --- the fixture -------------------------------------------------------------------

// An image file on the server and what a list says about it.
struct Published {
  std::string id;
  std::string data;
  std::string sha;  // sha512sum of the served file
  std::string url;
  fs::path file;
};

class CatcherCacheTest : public CatcherE2eTest<CatcherCacheTest> {
 protected:
  static void SetUpTestSuite() {
    NginxOptions options;
    // Slow for a whole-file GET, full speed for a ranged one (a resume).
    options.http_config = "  map $http_range $vmc_slow_rate { \"\" 256k; default 0; }\n";
    options.server_config = "    location /slow/ { limit_rate $vmc_slow_rate; }\n";
    StartServer(std::move(options));
  }

  void SetUp() override {
    CatcherE2eTest::SetUp();
    if (HasFatalFailure()) return;
    events_ = dir_ / "events.log";
    handler_ = dir_ / "handler.sh";
    list_id_ = NewTestUuid();
    // Records every event: its whole environment, verbatim, and what it sees
    // of the image's file in the cache and in expired/, and its blocked
    // signals. List data is only ever read from the environment.
    WriteFile(handler_,
              "#!/bin/sh\n"
              "log=$1\n"
              "f=\"$VMCATCHER_EVENT_FILENAME\"\n"
              "HANDLER_IN_CACHE=no; HANDLER_IN_EXPIRED=no\n"
              "if [ -n \"$f\" ] && [ -f \"$VMCATCHER_CACHE_DIR_CACHE/$f\" ]; then "
              "HANDLER_IN_CACHE=yes; fi\n"
              "if [ -n \"$f\" ] && [ -f \"$VMCATCHER_CACHE_DIR_EXPIRE/$f\" ]; then "
              "HANDLER_IN_EXPIRED=yes; fi\n"
              "HANDLER_SIGBLK=$(sed -n 's/^SigBlk:[[:space:]]*//p' /proc/$$/status)\n"
              "export HANDLER_IN_CACHE HANDLER_IN_EXPIRED HANDLER_SIGBLK\n" +
                  std::string(kRecordEventLine) +
                  // Faults on request: <log>.fail.<type> makes it fail,
                  // <log>.hang.<type> makes it (and a child) hang.
                  "if [ -f \"$log.fail.$VMCATCHER_EVENT_TYPE\" ]; then exit 3; fi\n"
                  "if [ -f \"$log.hang.$VMCATCHER_EVENT_TYPE\" ]; then\n"
                  "  sleep 60 & echo $! > \"$log.hang-pid\"; wait\n"
                  "fi\n");
    WriteConfig();
    WritePolicy();
  }

  void WriteConfig(const std::string& event_timeout = "30s", const std::string& extra = "") {
    WriteFile(config_, "event-command = /bin/sh " + handler_.string() + " " + events_.string() +
                           "\nevent-timeout = " + event_timeout + "\ndownloads = 2\n" + extra);
  }

  // The policy: endorsers e1 and e2 and one subscription "sub" to this
  // test's list, trusting e1, all images. `rest`: more top-level members.
  void WritePolicy(const std::string& rest = "") {
    CatcherE2eTest::WritePolicy(Sub("sub", ListUrl(), "e1", R"(, "images": "all")"), rest);
  }

  std::string ListUrl() const { return server_->Url("/" + name_ + "/list"); }

  // Makes an image of `size` random bytes and serves it under /<test>/ or,
  // when `slow`, under /slow/<test>/.
  Published MakeImage(const std::string& id, std::size_t size, bool slow = false) {
    Published p;
    p.id = id;
    p.data = RandomBytes(size, static_cast<std::uint32_t>(std::hash<std::string>()(name_ + id)));
    const std::string path = (slow ? "/slow/" : "/") + name_ + "/" + id + ".img";
    p.file = server_->root() / path.substr(1);
    Serve(p.file, p.data);
    p.sha = Sha512SumOf(p.file);
    p.url = server_->Url(path);
    return p;
  }

  // The list's entry for `p`, with every field the events pass on.
  static ImageSpec Entry(const Published& p) {
    ImageSpec s;
    s.identifier = p.id;
    s.uri = p.url;
    s.size = p.data.size();
    s.sha512 = p.sha;
    s.title = "Image " + p.id;
    s.text = {{"dc:description", "The image " + p.id + " for tests"},
              {"hv:format", "raw"},
              {"hv:version", "1.0-" + p.id},
              {"hv:hypervisor", "KVM"},
              {"sl:os", "Linux"},
              {"sl:osversion", "12"},
              {"sl:arch", "x86_64"},
              {"sl:comments", "comment on " + p.id},
              {"ad:mpuri", "https://appdb.example/store/vm/" + p.id},
              {"ad:vo", "vo.example.org"}};
    return s;
  }

  ListSpec Spec(const std::string& version, std::vector<ImageSpec> images) const {
    ListSpec s;
    s.identifier = list_id_;
    s.version = version;
    s.expires = expires_;
    s.images = std::move(images);
    return s;
  }

  void PublishList(const ListSpec& spec) {
    auto signed_list = BuildSignedList(spec, Pki().endorser1());
    ASSERT_TRUE(signed_list.ok()) << signed_list.error().ToString();
    Serve(server_->root() / name_ / "list", *signed_list);
  }

  void PublishList(const std::string& version, const std::vector<Published>& images) {
    std::vector<ImageSpec> specs;
    specs.reserve(images.size());
    for (const auto& p : images) specs.push_back(Entry(p));
    PublishList(Spec(version, std::move(specs)));
  }

  fs::path ContentFile(const std::string& sha) const { return state_ / "cache" / ".sha512" / sha; }
  fs::path ViewFile(const std::string& id) const { return state_ / "cache" / id; }
  fs::path PartialFile(const std::string& sha) const {
    return state_ / "partial" / (sha + ".part");
  }

  // The cache invariant, proven with sha512sum: every content file is named
  // by its SHA-512, every other entry of cache/ is a hard link to one.
  void ExpectCacheProven() {
    const fs::path content = state_ / "cache" / ".sha512";
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(content, ec)) {
      EXPECT_TRUE(e.is_regular_file()) << e.path();
      files.push_back(e.path());
    }
    for (const auto& [file, sha] : Sha512Sum(files)) {
      EXPECT_EQ(file.filename().string(), sha) << "an unproven file in the content store";
    }
    for (const auto& e : fs::directory_iterator(state_ / "cache", ec)) {
      if (e.path() == content) continue;
      const std::string sha = Sha512SumOf(e.path());
      EXPECT_TRUE(fs::exists(content / sha))
          << e.path() << " is not a view of a file of the content store";
      EXPECT_EQ(Inode(e.path()), Inode(content / sha)) << e.path();
    }
  }

  // `p` is cached: its content file and its view hold exactly its bytes.
  void ExpectCached(const Published& p) {
    SCOPED_TRACE("image " + p.id);
    ASSERT_TRUE(fs::exists(ContentFile(p.sha)));
    ASSERT_TRUE(fs::exists(ViewFile(p.id)));
    const auto sums = Sha512Sum({ContentFile(p.sha), ViewFile(p.id)});
    EXPECT_EQ(sums.at(ContentFile(p.sha)), p.sha);
    EXPECT_EQ(sums.at(ViewFile(p.id)), p.sha);
    EXPECT_EQ(Inode(ContentFile(p.sha)), Inode(ViewFile(p.id)));
  }

  // The access log entries of `p`'s URL, once there are at least `count`
  // (nginx logs a request just after its response), or after `timeout`.
  std::vector<AccessLogEntry> Requests(const Published& p, size_t count,
                                       milliseconds timeout = seconds(5)) const {
    const std::string uri = p.url.substr(p.url.find('/', std::string("https://").size()));
    return server_->WaitForLog(uri, count, timeout);
  }

  // The same, to prove that there are no more than `count - 1`: a short wait
  // for a request that should not have been made.
  std::vector<AccessLogEntry> NoMoreRequests(const Published& p, size_t count) const {
    return Requests(p, count, milliseconds(500));
  }

  // Runs `run --once --json`, expecting success.
  void RunOnceOk() {
    const RunResult r = Catcher({"--json", "run", "--once"});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
  }

  std::string list_id_;
  TimePoint expires_ = Now() + hours(24 * 30);
  fs::path events_;
  fs::path handler_;
};

// --- the main job --------------------------------------------------------------------

// A list of three images is published; one cycle updates, downloads, proves
// and caches them and tells the handler with vmcatcher's events and
// variables; a new version without one image expires it.
TEST_F(CatcherCacheTest, CachesImagesFiresEventsAndExpiresDroppedImage) {
  const std::vector<Published> images = {MakeImage("img-a", 300 * 1024),
                                         MakeImage("img-b", 1536 * 1024),
                                         MakeImage("img-c", 700 * 1024 + 5)};
  PublishList("1", images);
  RunOnceOk();

  for (const auto& p : images) ExpectCached(p);
  ExpectCacheProven();
  EXPECT_TRUE(fs::is_empty(state_ / "partial"));
  for (const auto& [id, state] : ImageStates()) EXPECT_EQ(state, "cached") << id;
  EXPECT_EQ(ImageStates().size(), 3u);

  const auto events = ReadEvents(events_);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(TypeOf(events.front()), "ProcessPrefix") << testing::PrintToString(Types(events));
  EXPECT_EQ(TypeOf(events.back()), "ProcessPostfix") << testing::PrintToString(Types(events));
  EXPECT_EQ(events.size(), 2u + 2 * images.size()) << testing::PrintToString(Types(events));
  const std::string cache_dir = (state_ / "cache").string();
  for (const auto& e : events) {
    EXPECT_EQ(Var(e, "VMCATCHER_CACHE_DIR_CACHE"), cache_dir);
    EXPECT_EQ(Var(e, "VMCATCHER_CACHE_DIR_DOWNLOAD"), (state_ / "partial").string());
    EXPECT_EQ(Var(e, "VMCATCHER_CACHE_DIR_EXPIRE"), (state_ / "expired").string());
  }
  for (const auto& p : images) {
    SCOPED_TRACE("image " + p.id);
    const auto prefix = EventsFor(events, "AvailablePrefix", p.id);
    const auto postfix = EventsFor(events, "AvailablePostfix", p.id);
    ASSERT_EQ(prefix.size(), 1u);
    ASSERT_EQ(postfix.size(), 1u);
    for (const auto& e : {prefix[0], postfix[0]}) {
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_DC_IDENTIFIER"), p.id);
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_DC_TITLE"), "Image " + p.id);
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_DC_DESCRIPTION"), "The image " + p.id + " for tests");
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_HV_URI"), p.url);
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_HV_SIZE"), std::to_string(p.data.size()));
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_HV_VERSION"), "1.0-" + p.id);
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_HV_HYPERVISOR"), "KVM");
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_HV_FORMAT"), "raw");
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_SL_ARCH"), "x86_64");
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_SL_OS"), "Linux");
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_SL_OSVERSION"), "12");
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_SL_COMMENTS"), "comment on " + p.id);
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_SL_CHECKSUM_SHA512"), p.sha);
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_FILENAME"), p.id);
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_IL_DC_IDENTIFIER"), list_id_);
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_AD_MPURI"), "https://appdb.example/store/vm/" + p.id);
      EXPECT_EQ(Var(e, "VMCATCHER_EVENT_VO"), "vo.example.org");
    }
    // vmcatcher's order: the file appears between the prefix and the postfix.
    EXPECT_EQ(Var(prefix[0], "HANDLER_IN_CACHE"), "no");
    EXPECT_EQ(Var(postfix[0], "HANDLER_IN_CACHE"), "yes");
    EXPECT_EQ(Requests(p, 1).size(), 1u);
  }

  // A second cycle has nothing to do: no transfer, no Available event.
  RunOnceOk();
  const auto again = ReadEvents(events_);
  ASSERT_EQ(again.size(), events.size() + 2) << testing::PrintToString(Types(again));
  EXPECT_EQ(TypeOf(again[events.size()]), "ProcessPrefix");
  EXPECT_EQ(TypeOf(again.back()), "ProcessPostfix");
  for (const auto& p : images) EXPECT_EQ(NoMoreRequests(p, 2).size(), 1u) << p.id;

  // Version 2 drops img-b: it is expired, its file moved to expired/.
  PublishList("2", {images[0], images[2]});
  RunOnceOk();
  const auto after = ReadEvents(events_);
  const std::vector<EventRecord> fresh(after.begin() + static_cast<long>(again.size()),
                                       after.end());
  const auto expire_prefix = EventsFor(fresh, "ExpirePrefix", "img-b");
  const auto expire_postfix = EventsFor(fresh, "ExpirePostfix", "img-b");
  ASSERT_EQ(expire_prefix.size(), 1u) << testing::PrintToString(Types(fresh));
  ASSERT_EQ(expire_postfix.size(), 1u);
  for (const auto& e : {expire_prefix[0], expire_postfix[0]}) {
    EXPECT_EQ(Var(e, "VMCATCHER_EVENT_SL_CHECKSUM_SHA512"), images[1].sha);
    EXPECT_EQ(Var(e, "VMCATCHER_EVENT_HV_URI"), images[1].url);
    EXPECT_EQ(Var(e, "VMCATCHER_EVENT_FILENAME"), "img-b");
    EXPECT_EQ(Var(e, "VMCATCHER_EVENT_DC_TITLE"), "Image img-b");
  }
  EXPECT_EQ(Var(expire_prefix[0], "HANDLER_IN_CACHE"), "yes");
  EXPECT_EQ(Var(expire_postfix[0], "HANDLER_IN_CACHE"), "no");
  EXPECT_EQ(Var(expire_postfix[0], "HANDLER_IN_EXPIRED"), "yes");
  // ProcessPrefix and ProcessPostfix bracket the whole cache run, expiry
  // included, as vmcatcher's do.
  EXPECT_EQ(Types(fresh),
            (std::vector<std::string>{"ProcessPrefix:<unset>", "ExpirePrefix:img-b",
                                      "ExpirePostfix:img-b", "ProcessPostfix:<unset>"}));

  EXPECT_FALSE(fs::exists(ViewFile("img-b")));
  EXPECT_FALSE(fs::exists(ContentFile(images[1].sha)));
  ASSERT_TRUE(fs::exists(state_ / "expired" / "img-b"));
  EXPECT_EQ(Sha512SumOf(state_ / "expired" / "img-b"), images[1].sha);
  ExpectCached(images[0]);
  ExpectCached(images[2]);
  ExpectCacheProven();
  const auto states = ImageStates();
  EXPECT_EQ(states.count("img-b"), 0u);
  EXPECT_EQ(states.at("img-a"), "cached");
  EXPECT_EQ(states.at("img-c"), "cached");
}

// The same job with `catcher update` and `catcher cache` run by hand, and a
// subscription made with `catcher subscribe`.
// One cycle verifies each stored list's S/MIME exactly once, with one trust
// store and one inventory, whatever consumes it (announcements, downloads,
// expiry): a new list is verified by its update only, an unchanged one (304)
// in full by its update too (on the other cores, while the next lists are
// fetched), refused or not, and a subscription without a list costs nothing.
// `run --once` and the daemon's cycles alike (issue 12).
TEST_F(CatcherCacheTest, ACycleVerifiesEachStoredListOnce) {
  const std::vector<std::string> names = {"a", "b", "c"};
  std::map<std::string, ListSpec> specs;
  std::string subs;
  for (const auto& n : names) {
    ListSpec spec = Spec("1", {Entry(MakeImage("img-" + n, 1024))});
    spec.identifier = NewTestUuid();
    Publish("list-" + n, spec);
    specs[n] = spec;
    subs += Sub(n, Url("list-" + n), "e1", R"(, "images": "all")") + ",";
  }
  // Never served: a failed fetch, and no stored list to verify.
  subs += Sub("gone", Url("missing"), "e1", R"(, "images": "all")");
  CatcherE2eTest::WritePolicy(subs);
  const auto cycle_work = [](const std::string& log) {
    std::vector<std::string> lines;
    for (const auto& line : Lines(log)) {
      if (line.find("cycle work: ") != std::string::npos) {
        lines.push_back(line.substr(line.find("cycle work: ")));
      }
    }
    return lines;
  };
  // A list's MIME structure is split only when its bytes are new: an
  // unchanged list is verified again from the split kept with it.
  const auto once = [](int splits) {
    return "cycle work: S/MIME verifications 3 (messages split " + std::to_string(splits) +
           "), trust stores opened 1, inventories built 1";
  };

  // New lists: each verified by its update, its images downloaded.
  RunResult r = Catcher({"-v", "run", "--once"});
  EXPECT_EQ(r.exit_code, 3) << Describe(r);  // the missing list's 404
  EXPECT_EQ(cycle_work(r.err), std::vector<std::string>{once(3)}) << r.err;
  EXPECT_EQ(ImageStates().size(), 3u);
  for (const auto& n : names) EXPECT_EQ(ImageStates()["img-" + n], "cached") << n;

  // Unchanged (304): each verified in full once, by the update.
  r = Catcher({"-v", "run", "--once"});
  EXPECT_EQ(r.exit_code, 3) << Describe(r);
  EXPECT_EQ(cycle_work(r.err), std::vector<std::string>{once(0)}) << r.err;

  // One new list with a new image, announced from the list its update
  // verified (SubscriptionImageNew), the other two unchanged.
  specs["b"].version = "2";
  specs["b"].images.push_back(Entry(MakeImage("img-b2", 1024)));
  Publish("list-b", specs["b"]);
  r = Catcher({"-v", "run", "--once"});
  EXPECT_EQ(r.exit_code, 3) << Describe(r);
  EXPECT_EQ(cycle_work(r.err), std::vector<std::string>{once(1)}) << r.err;
  EXPECT_EQ(EventsFor(ReadEvents(events_), "SubscriptionImageNew", "img-b2").size(), 1u);
  EXPECT_EQ(ImageStates()["img-b2"], "cached");

  // The daemon's cycle: one pass of updates, offers, plans and expiry.
  const fs::path log = dir_ / "daemon.log";
  auto daemon = Start({"-v", "run", "--interval", "1h"}, log);
  ASSERT_TRUE(
      WaitFor([&] { return ReadFile(log).find("cycle done") != std::string::npos; }, seconds(30)))
      << ReadFile(log);
  EXPECT_EQ(daemon->Stop(), 0) << ReadFile(log);
  EXPECT_EQ(cycle_work(ReadFile(log)), std::vector<std::string>{once(0)}) << ReadFile(log);

  // Images and status look at one inventory of their own.
  r = Catcher({"-v", "--json", "images"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(cycle_work(r.err), std::vector<std::string>{once(0)}) << r.err;

  // An unchanged list the policy now refuses (it pins another identifier
  // for "a"): refused by the update's verification in full, which the
  // inventory takes as it is (its image expired), not verified again.
  std::string pinned;
  for (const auto& n : names) {
    const std::string pin = n == "a" ? R"(, "identifier": ")" + NewTestUuid() + "\"" : "";
    pinned += Sub(n, Url("list-" + n), "e1", R"(, "images": "all")" + pin) + ",";
  }
  pinned += Sub("gone", Url("missing"), "e1", R"(, "images": "all")");
  CatcherE2eTest::WritePolicy(pinned);
  r = Catcher({"-v", "run", "--once"});
  EXPECT_EQ(r.exit_code, 5) << Describe(r);  // identifier-mismatch outranks the 404's 3
  EXPECT_EQ(cycle_work(r.err), std::vector<std::string>{once(0)}) << r.err;
  EXPECT_NE(r.err.find("served image list " + specs["a"].identifier + " instead of"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(ImageStates()["img-a"], "expired");
  EXPECT_EQ(ImageStates()["img-c"], "cached");
}

TEST_F(CatcherCacheTest, SubscribeUpdateAndCacheByHand) {
  WriteFile(policy_, "{}\n");
  const std::vector<Published> images = {MakeImage("one", 400 * 1024),
                                         MakeImage("two", 100 * 1024)};
  PublishList("1", images);
  const RunResult sub = Catcher({"--json", "subscribe", ListUrl(), "--name", "mine",
                                 "--endorser-dn", e1_.dn, "--endorser-ca", e1_.ca});
  ASSERT_EQ(sub.exit_code, 0) << Describe(sub);
  const auto before = ImageStates();
  EXPECT_EQ(before.at("one"), "wanted");
  EXPECT_EQ(before.at("two"), "wanted");

  const RunResult cache = Catcher({"--json", "cache"});
  ASSERT_EQ(cache.exit_code, 0) << Describe(cache);
  auto report = ParseJson(Lines(cache.out).front());
  ASSERT_TRUE(report && report->IsObject()) << cache.out;
  EXPECT_EQ(U64(*report, "downloaded"), 2u);
  EXPECT_EQ(U64(*report, "made_available"), 2u);
  for (const auto& p : images) ExpectCached(p);
  ExpectCacheProven();

  // `cache --download` and `--expire` alone.
  PublishList("2", {images[0]});
  ASSERT_EQ(Catcher({"update"}).exit_code, 0);
  ASSERT_EQ(Catcher({"cache", "--download"}).exit_code, 0);
  EXPECT_TRUE(fs::exists(ViewFile("two"))) << "--download alone expired an image";
  ASSERT_EQ(Catcher({"cache", "--expire"}).exit_code, 0);
  EXPECT_FALSE(fs::exists(ViewFile("two")));
  EXPECT_TRUE(fs::exists(state_ / "expired" / "two"));
  ExpectCached(images[0]);

  // Unsubscribed: its images leave the cache.
  ASSERT_EQ(Catcher({"unsubscribe", "mine"}).exit_code, 0);
  const RunResult after = Catcher({"--json", "cache"});
  ASSERT_EQ(after.exit_code, 0) << Describe(after);
  EXPECT_FALSE(fs::exists(ViewFile("one")));
  EXPECT_TRUE(fs::exists(state_ / "expired" / "one"));
  EXPECT_TRUE(fs::is_empty(state_ / "cache" / ".sha512"));
  EXPECT_EQ(EventsFor(ReadEvents(events_), "ExpirePostfix", "one").size(), 1u);
  EXPECT_TRUE(ImageStates().empty());
}

// Two identifiers name the same bytes: they share one content file. One of
// them leaving, coming back and leaving again must take its view out of the
// cache each time, however often its content stayed.
TEST_F(CatcherCacheTest, SharedContentExpiresEachView) {
  const Published x = MakeImage("shared-x", 200 * 1024);
  Published y = x;
  y.id = "shared-y";
  const auto cache_entries = [&] { return DirNames(state_ / "cache"); };
  PublishList("1", {x, y});
  RunOnceOk();
  ExpectCached(x);
  ExpectCached(y);
  EXPECT_EQ(DirNames(state_ / "cache" / ".sha512").size(), 1u);

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    PublishList(std::to_string(2 + 2 * round), {y});
    RunOnceOk();
    EXPECT_FALSE(fs::exists(ViewFile(x.id))) << "an expired image's view stayed in the cache";
    EXPECT_TRUE(fs::exists(state_ / "expired" / x.id));
    EXPECT_EQ(cache_entries(), (std::vector<std::string>{".sha512", y.id}));
    EXPECT_EQ(ImageStates().count(x.id), 0u);
    ExpectCached(y);
    ExpectCacheProven();

    PublishList(std::to_string(3 + 2 * round), {x, y});
    RunOnceOk();
    ExpectCached(x);
    ExpectCached(y);
    EXPECT_EQ(cache_entries(), (std::vector<std::string>{".sha512", x.id, y.id}));
    ExpectCacheProven();
  }
  const auto events = ReadEvents(events_);
  EXPECT_EQ(EventsFor(events, "AvailablePostfix", x.id).size(), 3u);
  EXPECT_EQ(EventsFor(events, "ExpirePostfix", x.id).size(), 2u);
  EXPECT_EQ(EventsFor(events, "AvailablePostfix", y.id).size(), 1u);
  EXPECT_TRUE(EventsFor(events, "ExpirePrefix", y.id).empty());
  // One download for both identifiers, all along.
  EXPECT_EQ(NoMoreRequests(x, 2).size(), 1u);
}

// --- faults ------------------------------------------------------------------------------

// Endless data: nginx announces more than hv:size (aborted before any byte
// is written), and a server without Content-Length streams on (aborted at
// the first byte past hv:size).
TEST_F(CatcherCacheTest, ImageLargerThanDeclaredAborted) {
  Published big = MakeImage("big", 600 * 1024);
  ImageSpec announced = Entry(big);
  announced.size = 500 * 1024;  // the server has more
  EndlessServer endless;
  Published streamed = MakeImage("streamed", 400 * 1024);
  ImageSpec stream = Entry(streamed);
  stream.uri = endless.Url("/streamed.img");
  PublishList(Spec("1", {announced, stream}));
  ASSERT_EQ(Catcher({"update"}).exit_code, 0);

  const RunResult r = Catcher({"--json", "cache"});
  EXPECT_EQ(r.exit_code, 6) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "size-mismatch") << Describe(r);
  auto report = ParseJson(Lines(r.out).front());
  ASSERT_TRUE(report && report->IsObject()) << r.out;
  EXPECT_EQ((*report)["failures"].Size(), 2u) << r.out;
  EXPECT_EQ(U64(*report, "downloaded"), 0u);
  EXPECT_TRUE(DirNames(state_ / "cache").size() == 1 && fs::is_empty(state_ / "cache" / ".sha512"))
      << testing::PrintToString(DirNames(state_ / "cache"));
  EXPECT_TRUE(fs::is_empty(state_ / "partial"))
      << testing::PrintToString(DirNames(state_ / "partial"));
  EXPECT_EQ(endless.connections(), 1);
  // The transfer stopped at once, not after the server gave up: what was
  // sent is hv:size plus what the socket buffers held.
  EXPECT_LT(endless.sent(), 400 * 1024 + 16 * kMiB);
  const auto states = ImageStates();
  EXPECT_EQ(states.at("big"), "wanted");
  EXPECT_EQ(states.at("streamed"), "wanted");
  for (const auto& e : ReadEvents(events_)) {
    EXPECT_NE(TypeOf(e), "AvailablePrefix");
    EXPECT_NE(TypeOf(e), "AvailablePostfix");
  }
}

// A remote list naming a local file (whose SHA-512 its endorser knows) must
// not get that file copied into the world-readable cache.
TEST_F(CatcherCacheTest, RemoteListCannotCacheALocalFile) {
  const fs::path secret = dir_ / "secret.txt";
  {
    std::ofstream out(secret, std::ios::binary);
    out << "a local secret\n";
  }
  Published local = MakeImage("local", 16);
  ImageSpec spec = Entry(local);
  spec.uri = "file://" + secret.string();
  spec.size = fs::file_size(secret);
  spec.sha512 = Sha512SumOf(secret);
  PublishList(Spec("1", {spec}));
  ASSERT_EQ(Catcher({"update"}).exit_code, 0);

  const RunResult r = Catcher({"--json", "cache"});
  EXPECT_EQ(r.exit_code, 5) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "invalid-value") << Describe(r);
  EXPECT_NE(r.err.find("only a list read from a local file"), std::string::npos) << Describe(r);
  EXPECT_TRUE(fs::is_empty(state_ / "cache" / ".sha512"));
  EXPECT_FALSE(fs::exists(state_ / "cache" / "local"));
  EXPECT_TRUE(fs::is_empty(state_ / "partial"));
}

// Wrong bytes of the right size: refused, deleted, never in the cache; the
// good image of the same list is cached all the same.
TEST_F(CatcherCacheTest, ImageChecksumMismatchRejected) {
  const Published good = MakeImage("good", 300 * 1024);
  Published bad = MakeImage("bad", 500 * 1024);
  const std::string declared = bad.sha;
  std::string wrong = bad.data;
  wrong[wrong.size() / 2] = static_cast<char>(wrong[wrong.size() / 2] ^ 0x20);
  Serve(bad.file, wrong);
  PublishList("1", {good, bad});

  const RunResult r = Catcher({"--json", "run", "--once"});
  EXPECT_EQ(r.exit_code, 6) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "checksum-mismatch") << Describe(r);
  EXPECT_NE(ErrorDetailOf(r, "message").find(declared), std::string::npos) << Describe(r);
  EXPECT_FALSE(fs::exists(ContentFile(declared)));
  EXPECT_FALSE(fs::exists(ViewFile("bad")));
  EXPECT_FALSE(fs::exists(PartialFile(declared)));
  EXPECT_TRUE(fs::is_empty(state_ / "partial"));
  ExpectCached(good);
  ExpectCacheProven();
  EXPECT_EQ(ImageStates().at("bad"), "wanted");
  EXPECT_TRUE(EventsFor(ReadEvents(events_), "AvailablePrefix", "bad").empty());

  // The server is fixed: the next run caches it.
  Serve(bad.file, bad.data);
  RunOnceOk();
  ExpectCached(bad);
}

// The connection drops midway (nginx's worker dies): the partial is kept,
// and the next run resumes it with a range request (206) and caches it.
TEST_F(CatcherCacheTest, DroppedConnectionResumedWithRange) {
  const Published p = MakeImage("dropped", 3 * kMiB, true);
  PublishList("1", {p});
  ASSERT_EQ(Catcher({"update"}).exit_code, 0);

  RunResult first;
  std::thread run([&] { first = Catcher({"--json", "cache"}); });
  const bool started =
      WaitFor([&] { return FileSize(PartialFile(p.sha)) > 64 * 1024; }, seconds(20));
  const pid_t master = std::stoi(ReadFile(server_->dir() / "nginx.pid"));
  const auto workers = ChildrenOf(master);
  EXPECT_EQ(workers.size(), 1u);
  for (const pid_t w : workers) kill(w, SIGKILL);
  run.join();
  ASSERT_TRUE(started);
  EXPECT_EQ(first.exit_code, 3) << Describe(first);
  EXPECT_EQ(ErrorCodeOf(first), "network-error") << Describe(first);
  const std::uint64_t held = FileSize(PartialFile(p.sha));
  EXPECT_GT(held, 0u);
  EXPECT_LT(held, p.data.size());
  EXPECT_EQ(ReadFile(PartialFile(p.sha)), p.data.substr(0, held));
  EXPECT_FALSE(fs::exists(ContentFile(p.sha)));
  ExpectCacheProven();

  // nginx's master has started a new worker.
  ASSERT_TRUE(WaitFor([&] { return ChildrenOf(master).size() == 1; }, seconds(5)));
  const RunResult second = Catcher({"--json", "cache"});
  ASSERT_EQ(second.exit_code, 0) << Describe(second);
  ExpectCached(p);
  ExpectCacheProven();
  // The killed worker logged nothing; the resume is a ranged request.
  const auto log = Requests(p, 1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].status, 206);
  EXPECT_EQ(static_cast<std::uint64_t>(log[0].bytes_sent), p.data.size() - held);
}

// catcher killed with SIGKILL in the middle of a download: the next run
// resumes the partial file (a 206) and caches the image.
TEST_F(CatcherCacheTest, KilledDuringDownloadResumes) {
  const Published p = MakeImage("killed", 3 * kMiB, true);
  const Published small = MakeImage("small", 200 * 1024);
  PublishList("1", {p, small});

  auto run = Start({"run", "--once"}, dir_ / "killed.log");
  ASSERT_TRUE(WaitFor([&] { return FileSize(PartialFile(p.sha)) > 64 * 1024; }, seconds(20)))
      << ReadFile(dir_ / "killed.log");
  kill(run->pid(), SIGKILL);
  EXPECT_EQ(run->Stop(), 128 + SIGKILL);
  const std::uint64_t held = FileSize(PartialFile(p.sha));
  EXPECT_GT(held, 0u);
  EXPECT_FALSE(fs::exists(ContentFile(p.sha)));
  ExpectCacheProven();

  RunOnceOk();
  ExpectCached(p);
  ExpectCached(small);
  ExpectCacheProven();
  EXPECT_TRUE(fs::is_empty(state_ / "partial"));
  // The killed run's request (200, cut short) and the resume (206), logged
  // in whichever order nginx saw them end.
  const auto log = Requests(p, 2);
  ASSERT_EQ(log.size(), 2u);
  const auto resumed = Resumed(log);
  ASSERT_TRUE(resumed);
  EXPECT_EQ(static_cast<std::uint64_t>(resumed->bytes_sent), p.data.size() - held);
  // Every image made available had its AvailablePostfix.
  const auto events = ReadEvents(events_);
  for (const auto& image : {p, small}) {
    EXPECT_FALSE(EventsFor(events, "AvailablePostfix", image.id).empty()) << image.id;
  }
}

// catcher killed at random moments of a cycle (during the update's database
// commit, the downloads, the events, the expiry), again and again while the
// list changes: after each kill the cache holds only proven files, and the
// next complete run reaches the list's state.
TEST_F(CatcherCacheTest, KilledAtRandomMomentsRecovers) {
  std::vector<Published> images;
  images.reserve(5);
  for (int i = 0; i < 5; ++i) {
    images.push_back(
        MakeImage("r" + std::to_string(i), (150 + 90 * static_cast<size_t>(i)) * 1024));
  }
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("random seed " + std::to_string(seed));
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> delay_ms(0, 300);
  std::vector<Published> current;
  for (int round = 0; round < 10; ++round) {
    current = {images[static_cast<size_t>(round) % 5], images[static_cast<size_t>(round + 1) % 5],
               images[static_cast<size_t>(round + 3) % 5]};
    PublishList(std::to_string(round + 1), current);
    const int delay = delay_ms(random);
    SCOPED_TRACE("round " + std::to_string(round) + ", killed after " + std::to_string(delay) +
                 " ms");
    auto run = Start({"run", "--once"}, dir_ / "random.log");
    std::this_thread::sleep_for(milliseconds(delay));
    kill(run->pid(), SIGKILL);
    run->Stop();
    ExpectCacheProven();
    // The database is intact: every command still reads it.
    ASSERT_EQ(Catcher({"--json", "status"}).exit_code, 0);
  }
  RunOnceOk();
  ExpectCacheProven();
  const auto states = ImageStates();
  EXPECT_EQ(states.size(), current.size());
  for (const auto& p : current) {
    ExpectCached(p);
    EXPECT_EQ(states.at(p.id), "cached");
  }
  EXPECT_EQ(DirNames(state_ / "cache").size(), current.size() + 1)
      << testing::PrintToString(DirNames(state_ / "cache"));
  EXPECT_EQ(DirNames(state_ / "cache" / ".sha512").size(), current.size());
  EXPECT_TRUE(fs::is_empty(state_ / "partial"));
  // What the handler last heard of each cached image is that it is
  // available: a killed run's due AvailablePostfix is run again, and an
  // expiry cut short before its ExpirePostfix never completed (the image
  // stayed, or was offered again). SubscriptionImageNew is news about the
  // list, and ExpirePrefix only an announcement.
  const auto events = ReadEvents(events_);
  for (const auto& p : current) {
    std::string last;
    for (const auto& e : events) {
      const std::string type = TypeOf(e);
      if (Var(e, "VMCATCHER_EVENT_DC_IDENTIFIER") == p.id &&
          (type == "AvailablePrefix" || type == "AvailablePostfix" || type == "ExpirePostfix")) {
        last = type;
      }
    }
    EXPECT_EQ(last, "AvailablePostfix") << p.id;
  }
}

// The policy's cache quota: what does not fit is not downloaded.
TEST_F(CatcherCacheTest, CacheQuotaRefusesWhatDoesNotFit) {
  WritePolicy(R"(, "limits": {"cache_quota_bytes": 600000})");
  const Published a = MakeImage("quota-a", 300 * 1024);
  const Published b = MakeImage("quota-b", 400 * 1024);
  PublishList("1", {a, b});
  const RunResult r = Catcher({"--json", "run", "--once"});
  EXPECT_EQ(r.exit_code, 7) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "disk-full") << Describe(r);
  ExpectCached(a);
  EXPECT_FALSE(fs::exists(ContentFile(b.sha)));
  EXPECT_TRUE(fs::is_empty(state_ / "partial"));
  EXPECT_TRUE(NoMoreRequests(b, 1).empty()) << "a download over the quota was started";
  EXPECT_EQ(ImageStates().at(b.id), "wanted");
}

// --- event handlers --------------------------------------------------------------------

// A failed AvailablePostfix is reported and run again by the next run, once.
TEST_F(CatcherCacheTest, FailedAvailablePostfixRetriedNextRun) {
  const Published p = MakeImage("retried", 100 * 1024);
  PublishList("1", {p});
  WriteFile(events_.string() + ".fail.AvailablePostfix", "");
  const RunResult r = Catcher({"--json", "run", "--once"});
  EXPECT_EQ(r.exit_code, 7) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "io-error") << Describe(r);
  EXPECT_NE(ErrorDetailOf(r, "message").find("AvailablePostfix"), std::string::npos);
  ExpectCached(p);  // the image is there; only the handler has to hear of it again
  fs::remove(events_.string() + ".fail.AvailablePostfix");

  RunOnceOk();
  auto events = ReadEvents(events_);
  EXPECT_EQ(EventsFor(events, "AvailablePrefix", p.id).size(), 1u);
  EXPECT_EQ(EventsFor(events, "AvailablePostfix", p.id).size(), 2u);
  RunOnceOk();
  events = ReadEvents(events_);
  EXPECT_EQ(EventsFor(events, "AvailablePostfix", p.id).size(), 2u) << "retried after success";
}

// A handler that outlives event-timeout is killed with its children.
TEST_F(CatcherCacheTest, EventHandlerTimeoutKillsItsProcessGroup) {
  WriteConfig("1s");
  WriteFile(events_.string() + ".hang.ProcessPrefix", "");
  const Published p = MakeImage("patient", 100 * 1024);
  PublishList("1", {p});
  const auto start = Clock::now();
  const RunResult r = Catcher({"--json", "run", "--once"});
  EXPECT_LT(Clock::now() - start, seconds(10));
  EXPECT_EQ(r.exit_code, 7) << Describe(r);
  EXPECT_NE(ErrorDetailOf(r, "message").find("timed out"), std::string::npos) << Describe(r);
  ExpectCached(p);  // the cycle went on
  const pid_t child = std::stoi(ReadFile(events_.string() + ".hang-pid"));
  const auto gone = [&] {
    std::ifstream in("/proc/" + std::to_string(child) + "/stat");
    std::string stat;
    std::getline(in, stat);
    const auto close = stat.rfind(')');
    return !in || close == std::string::npos || stat.substr(close + 2, 1) == "Z";
  };
  EXPECT_TRUE(WaitFor(gone, seconds(5))) << "the handler's child survived the timeout";
  if (!gone()) kill(child, SIGKILL);
}

// --- hook injection ----------------------------------------------------------------------

// List data reaches the handler only through its environment, verbatim; no
// shell ever reads it.
TEST_F(CatcherCacheTest, HookReceivesHostileTitleVerbatim) {
  const fs::path marker = dir_ / "pwned";
  const std::string m = marker.string();
  const std::string title = "$(touch " + m + "1) `touch " + m + "2`; touch " + m + "3 | touch " +
                            m + "4 && touch " + m + "5 || touch " + m +
                            R"(6 'single' "double" \ back\slash $HOME ${PATH} * ? [a] ~ # <>)";
  const std::string description = "line one\ntouch " + m + "7\n$(touch " + m + "8)\r\n\t`touch " +
                                  m + "9`\n\"; touch " + m + "10; \"\n" + "' ; touch " + m +
                                  "11 ; '\nlast line";
  Published p = MakeImage("hostile", 100 * 1024);
  ImageSpec spec = Entry(p);
  spec.title = title;
  spec.text["dc:description"] = description;
  spec.text["sl:comments"] = "$(touch " + m + "12)";
  spec.text["hv:format"] = "`touch " + m + "13`";
  PublishList(Spec("1", {spec}));
  RunOnceOk();

  ExpectCached(p);
  const auto events = ReadEvents(events_);
  const auto prefix = EventsFor(events, "AvailablePrefix", "hostile");
  const auto postfix = EventsFor(events, "AvailablePostfix", "hostile");
  ASSERT_EQ(prefix.size(), 1u);
  ASSERT_EQ(postfix.size(), 1u);
  for (const auto& e : {prefix[0], postfix[0]}) {
    EXPECT_EQ(Var(e, "VMCATCHER_EVENT_DC_TITLE"), title);
    EXPECT_EQ(Var(e, "VMCATCHER_EVENT_DC_DESCRIPTION"), description);
    EXPECT_EQ(Var(e, "VMCATCHER_EVENT_SL_COMMENTS"), "$(touch " + m + "12)");
    EXPECT_EQ(Var(e, "VMCATCHER_EVENT_HV_FORMAT"), "`touch " + m + "13`");
    // No format catcher knows: taken as what its bytes are.
    EXPECT_EQ(Var(e, "CATCHER_EVENT_FORMAT"), "raw");
  }
  // The list data did not add variables of its own either: each is an
  // event's, or the service's own (catcher's environment, which handlers
  // inherit as vmcatcher's do).
  for (const auto& [name, value] : prefix[0]) {
    const bool services = std::getenv(name.c_str()) != nullptr && !name.starts_with("VMCATCHER_") &&
                          !name.starts_with("CATCHER_");
    EXPECT_TRUE(services || name.rfind("VMCATCHER_", 0) == 0 || name.rfind("HANDLER_", 0) == 0 ||
                name == "CATCHER_EVENT_METADATA_FILE" || name == "CATCHER_EVENT_FORMAT" ||
                name == "CATCHER_EVENT_SOURCE_SHA512" || name == "CATCHER_EVENT_FILE_SHA512" ||
                name == "PATH" || name == "HOME" || name == "LANG" || name == "LC_ALL" ||
                name == "TZ" || name == "PWD" || name == "OLDPWD" || name == "SHLVL" || name == "_")
        << name;
  }
  for (int i = 1; i <= 13; ++i) {
    EXPECT_FALSE(fs::exists(m + std::to_string(i))) << "executed: " << m << i;
  }
  // The same for the expiry events.
  PublishList(Spec("2", {}));
  RunOnceOk();
  const auto expired = EventsFor(ReadEvents(events_), "ExpirePostfix", "hostile");
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(Var(expired[0], "VMCATCHER_EVENT_DC_TITLE"), title);
  EXPECT_EQ(Var(expired[0], "VMCATCHER_EVENT_DC_DESCRIPTION"), description);
  for (int i = 1; i <= 13; ++i) EXPECT_FALSE(fs::exists(m + std::to_string(i)));
}

// --- the daemon ------------------------------------------------------------------------------

// SIGTERM during a slow download: the daemon exits 0 within seconds, keeps
// the partial file without calling it a failure, and the next run resumes it.
TEST_F(CatcherCacheTest, DaemonStopsPromptlyOnSigterm) {
  const Published p = MakeImage("slow", 3 * kMiB, true);
  PublishList("1", {p});
  const fs::path log = dir_ / "daemon.log";
  auto daemon = Start({"-v", "run", "--interval", "1s"}, log);
  ASSERT_TRUE(WaitFor([&] { return FileSize(PartialFile(p.sha)) > 64 * 1024; }, seconds(20)))
      << ReadFile(log);
  const auto start = Clock::now();
  const int code = daemon->Stop();  // SIGTERM, then SIGKILL after 5 s
  const auto took = Clock::now() - start;
  EXPECT_EQ(code, 0) << ReadFile(log);
  EXPECT_LT(took, seconds(3)) << ReadFile(log);
  const std::uint64_t held = FileSize(PartialFile(p.sha));
  EXPECT_GT(held, 0u);
  EXPECT_LT(held, p.data.size());
  EXPECT_EQ(ReadFile(PartialFile(p.sha)), p.data.substr(0, held));
  EXPECT_FALSE(fs::exists(ContentFile(p.sha)));
  // A download the stop cut short is no failure: said once, at info level.
  const std::string text = ReadFile(log);
  EXPECT_NE(text.find("SIGTERM"), std::string::npos) << text;
  EXPECT_EQ(text.find("catcher: error"), std::string::npos) << text;
  EXPECT_NE(text.find("catcher: info: image slow: "), std::string::npos) << text;
  EXPECT_NE(text.find("; the next run resumes it where it stopped"), std::string::npos) << text;
  EXPECT_NE(text.find("0 failures, 1 download stopped for the exit"), std::string::npos) << text;

  RunOnceOk();
  ExpectCached(p);
  const auto requests = Requests(p, 2);
  ASSERT_EQ(requests.size(), 2u);
  const auto resumed = Resumed(requests);
  ASSERT_TRUE(resumed);
  EXPECT_EQ(static_cast<std::uint64_t>(resumed->bytes_sent), p.data.size() - held);
}

// At the default level the daemon says what it does, and nothing more: its
// start (version, state, subscriptions, interval), each cycle, the signal
// and its stop; `run --once`, a command of cron, stays silent.
TEST_F(CatcherCacheTest, TheDaemonSaysWhatItDoesByDefault) {
  const Published p = MakeImage("small", 64 * 1024);
  PublishList("1", {p});
  const fs::path log = dir_ / "daemon.log";
  auto daemon = Start({"run", "--interval", "1h"}, log);
  ASSERT_TRUE(
      WaitFor([&] { return ReadFile(log).find("cycle done") != std::string::npos; }, seconds(20)))
      << ReadFile(log);
  EXPECT_EQ(daemon->Stop(), 0) << ReadFile(log);
  const std::vector<std::string> lines = Lines(ReadFile(log));
  ASSERT_EQ(lines.size(), 4u) << ReadFile(log);
  EXPECT_TRUE(std::regex_search(
      lines[0], std::regex("^catcher: notice: catcher run: catcher [0-9]+\\.[0-9]+\\.[0-9]+ "
                           "\\(commit [0-9a-f]+(-dirty)?\\), ")))
      << lines[0];
  EXPECT_NE(lines[0].find("), state " + state_.string() + ", 1 subscription, a cycle every 3600 s"),
            std::string::npos)
      << lines[0];
  EXPECT_EQ(lines[1].rfind("catcher: notice: cycle done: 1 subscription, ", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2],
            "catcher: notice: SIGTERM: stopping (transfers abort, partial downloads "
            "are kept)");
  EXPECT_EQ(lines[3], "catcher: notice: catcher run: stopped");
  // -q: errors only.
  auto quiet = Start({"-q", "run", "--interval", "1h"}, dir_ / "quiet.log");
  ASSERT_TRUE(WaitFor([&] { return fs::exists(state_ / "daemon.lock"); }, seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(quiet->Stop(), 0);
  EXPECT_EQ(ReadFile(dir_ / "quiet.log"), "");
  const RunResult once = Catcher({"run", "--once"});
  EXPECT_EQ(once.exit_code, 0) << Describe(once);
  EXPECT_EQ(once.err, "");
}

// A daemon cycle that must expire an image while a download is slow: the
// expiry does not wait for the download (issue 11, finding 5), and after
// SIGTERM no handler runs; the next run finishes the download.
TEST_F(CatcherCacheTest, DaemonExpiresDuringADownloadAndStopsCleanly) {
  const Published old = MakeImage("old", 200 * 1024);
  PublishList("1", {old});
  RunOnceOk();
  ExpectCached(old);
  const Published slow = MakeImage("slow", 3 * kMiB, true);
  PublishList("2", {slow});
  const fs::path log = dir_ / "daemon.log";
  auto daemon = Start({"-v", "run", "--interval", "1h"}, log);
  ASSERT_TRUE(WaitFor([&] { return FileSize(PartialFile(slow.sha)) > 64 * 1024; }, seconds(20)))
      << ReadFile(log);
  ASSERT_TRUE(
      WaitFor([&] { return ReadFile(log).find("cycle done") != std::string::npos; }, seconds(5)))
      << ReadFile(log);
  EXPECT_FALSE(fs::exists(ViewFile(old.id))) << ReadFile(log);
  EXPECT_EQ(EventsFor(ReadEvents(events_), "ExpirePostfix", old.id).size(), 1u) << ReadFile(log);
  const std::size_t events = ReadEvents(events_).size();
  EXPECT_EQ(daemon->Stop(), 0) << ReadFile(log);
  EXPECT_EQ(ReadEvents(events_).size(), events) << ReadFile(log);
  EXPECT_FALSE(fs::exists(ContentFile(slow.sha)));

  RunOnceOk();
  ExpectCached(slow);
  EXPECT_EQ(EventsFor(ReadEvents(events_), "ExpirePrefix", old.id).size(), 1u);
}

// SIGTERM while the daemon waits for the cache, held by a `catcher cache`
// run by hand: it stops at once all the same, and says so without an error.
TEST_F(CatcherCacheTest, DaemonStopsPromptlyWhileTheCacheIsHeld) {
  const Published p = MakeImage("held", 3 * kMiB, true);
  PublishList("1", {p});
  ASSERT_EQ(Catcher({"update"}).exit_code, 0);
  auto by_hand = Start({"cache"}, dir_ / "by-hand.log");
  ASSERT_TRUE(WaitFor([&] { return FileSize(PartialFile(p.sha)) > 64 * 1024; }, seconds(20)))
      << ReadFile(dir_ / "by-hand.log");
  const fs::path log = dir_ / "daemon.log";
  auto daemon = Start({"-v", "run", "--interval", "1s"}, log);
  EXPECT_TRUE(
      WaitFor([&] { return ReadFile(log).find("waiting") != std::string::npos; }, seconds(5)))
      << ReadFile(log);
  const auto start = Clock::now();
  EXPECT_EQ(daemon->Stop(), 0) << ReadFile(log);
  EXPECT_LT(Clock::now() - start, seconds(3)) << ReadFile(log);
  // Stopping before its turn came is no failure either.
  const std::string text = ReadFile(log);
  EXPECT_EQ(text.find("catcher: error"), std::string::npos) << text;
  EXPECT_NE(text.find("catcher: info: the cache was not run: the process is stopping"),
            std::string::npos)
      << text;
  kill(by_hand->pid(), SIGKILL);
  by_hand->Stop();
  RunOnceOk();
  ExpectCached(p);
}

// The daemon at work: CLI commands run beside it, a second daemon is
// refused, SIGHUP with a broken policy keeps the running one (and says why),
// SIGHUP with a good one applies it, and the handlers it runs can be
// signalled.
TEST_F(CatcherCacheTest, DaemonReloadsLocksAndServesTheCli) {
  const std::vector<Published> images = {MakeImage("d-one", 200 * 1024),
                                         MakeImage("d-two", 300 * 1024)};
  PublishList("1", images);
  const fs::path log = dir_ / "daemon.log";
  auto daemon = Start({"-v", "run", "--interval", "1s"}, log);
  auto cycles = [&] {
    const std::string text = ReadFile(log);
    size_t n = 0;
    for (size_t at = text.find("cycle done"); at != std::string::npos;
         at = text.find("cycle done", at + 1)) {
      ++n;
    }
    return n;
  };
  // Downloads run beside the cycles: wait for them, not for a cycle.
  ASSERT_TRUE(WaitFor(
      [&] {
        return cycles() >= 1 && fs::exists(ViewFile(images[0].id)) &&
               fs::exists(ViewFile(images[1].id));
      },
      seconds(20)))
      << ReadFile(log);
  for (const auto& p : images) ExpectCached(p);

  // The CLI works beside the daemon.
  EXPECT_EQ(ImageStates().at("d-one"), "cached");
  const RunResult subs = Catcher({"--json", "subscriptions"});
  EXPECT_EQ(subs.exit_code, 0) << Describe(subs);
  EXPECT_NE(subs.out.find("\"sub\""), std::string::npos) << subs.out;
  EXPECT_EQ(Catcher({"status"}).exit_code, 0);

  // One daemon per state directory.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--json", "run", "--interval", "1s"},
        std::vector<std::string>{"--json", "run", "--once"}}) {
    const RunResult second = Catcher(args);
    EXPECT_EQ(second.exit_code, 7) << Describe(second);
    EXPECT_EQ(ErrorCodeOf(second), "locked") << Describe(second);
    EXPECT_NE(ErrorDetailOf(second, "message").find(std::to_string(daemon->pid())),
              std::string::npos)
        << Describe(second);
  }

  // The handlers it runs have no signal blocked: a handler can be stopped
  // with SIGTERM like any process.
  for (const auto& e : ReadEvents(events_)) {
    EXPECT_EQ(Var(e, "HANDLER_SIGBLK"), "0000000000000000") << TypeOf(e);
  }

  // The daemon holds LMDB's lock on the database (checked here so that the
  // check after the reload below means something).
  const fs::path lmdb_lock = state_ / "db" / "lock.mdb";
  EXPECT_TRUE(HoldsLock(daemon->pid(), lmdb_lock));

  // A broken policy: the error is logged, the running policy stays.
  const std::string good_policy = ReadFile(policy_);
  WriteFile(policy_, "{\n  \"endorsers\": {\n    \"e1\": {\"dn\": \"x\",}\n  }\n}\n");
  const RunResult broken = Catcher({"--json", "images"});
  ASSERT_EQ(broken.exit_code, 2);
  const std::string why = ErrorDetailOf(broken, "message");
  ASSERT_NE(why.find(policy_.string()), std::string::npos) << why;
  kill(daemon->pid(), SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return ReadFile(log).find("reload failed") != std::string::npos; },
                      seconds(10)))
      << ReadFile(log);
  const std::string logged = ReadFile(log);
  const std::string failure = logged.substr(logged.find("reload failed"));
  EXPECT_NE(failure.find(why), std::string::npos) << failure << "\nexpected: " << why;
  // Still subscribed with the old policy: a new image is cached.
  const Published three = MakeImage("d-three", 250 * 1024);
  PublishList("2", {images[0], images[1], three});
  ASSERT_TRUE(WaitFor([&] { return fs::exists(ViewFile("d-three")); }, seconds(15)))
      << ReadFile(log);
  ExpectCached(three);

  // A good policy that denies d-one: applied at the next SIGHUP.
  WriteFile(policy_, good_policy);
  WritePolicy(R"(, "deny": [{"image": "d-one", "comment": "withdrawn"}])");
  kill(daemon->pid(), SIGHUP);
  ASSERT_TRUE(
      WaitFor([&] { return !EventsFor(ReadEvents(events_), "ExpirePostfix", "d-one").empty(); },
              seconds(15)))
      << ReadFile(log);
  EXPECT_TRUE(fs::exists(state_ / "expired" / "d-one"));
  EXPECT_FALSE(fs::exists(ViewFile("d-one")));
  EXPECT_EQ(EventsFor(ReadEvents(events_), "ExpirePostfix", "d-one").size(), 1u);
  EXPECT_EQ(ImageStates().at("d-one"), "denied");
  // The reload did not drop the daemon's hold on the database: LMDB must
  // never be opened twice in one process (closing one handle drops the
  // process's locks, and the next process would reset the lock table under
  // the daemon's feet).
  const size_t before = cycles();
  ASSERT_TRUE(WaitFor([&] { return cycles() > before; }, seconds(10)));
  EXPECT_TRUE(HoldsLock(daemon->pid(), lmdb_lock)) << "the daemon lost its lock on " << lmdb_lock;
  EXPECT_EQ(Catcher({"--json", "status"}).exit_code, 0);

  EXPECT_EQ(daemon->Stop(), 0) << ReadFile(log);
  ExpectCacheProven();
}

// --- status and export ------------------------------------------------------------------------

// One Prometheus sample: name, labels, value.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses node_exporter's textfile format strictly enough for a test: every
// sample follows a # TYPE line for its name, names and label names are
// well-formed, label values are quoted with \\, \" and \n escapes, values are
// numbers, and no series appears twice.
std::vector<Sample> ParsePrometheus(const std::string& text) {
  std::vector<Sample> out;
  std::set<std::string> typed, helped, series;
  auto name_ok = [](const std::string& n, bool colon) {
    if (n.empty() || (n[0] >= '0' && n[0] <= '9')) return false;
    return std::all_of(n.begin(), n.end(), [&](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || (colon && c == ':');
    });
  };
  EXPECT_TRUE(!text.empty() && text.back() == '\n') << "the last line must end with a newline";
  for (const auto& line : Lines(text)) {
    SCOPED_TRACE(line);
    if (line.rfind("# HELP ", 0) == 0) {
      const std::string rest = line.substr(7);
      const std::string name = rest.substr(0, rest.find(' '));
      EXPECT_TRUE(name_ok(name, true));
      EXPECT_TRUE(helped.insert(name).second) << "HELP twice";
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream f(line.substr(7));
      std::string name, type;
      f >> name >> type;
      EXPECT_TRUE(name_ok(name, true));
      EXPECT_TRUE(type == "gauge" || type == "counter") << type;
      EXPECT_TRUE(typed.insert(name).second) << "TYPE twice";
      continue;
    }
    EXPECT_NE(line[0], '#') << "a comment that is neither HELP nor TYPE";
    Sample s;
    size_t at = 0;
    while (at < line.size() && line[at] != '{' && line[at] != ' ') ++at;
    s.name = line.substr(0, at);
    EXPECT_TRUE(name_ok(s.name, true));
    EXPECT_EQ(typed.count(s.name), 1u) << "a sample without a TYPE line before it";
    std::string key = s.name + "{";
    if (at < line.size() && line[at] == '{') {
      ++at;
      while (at < line.size() && line[at] != '}') {
        const size_t eq = line.find('=', at);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          ADD_FAILURE() << "malformed label";
          return out;
        }
        const std::string label = line.substr(at, eq - at);
        EXPECT_TRUE(name_ok(label, false)) << label;
        std::string value;
        at = eq + 2;
        for (; at < line.size() && line[at] != '"'; ++at) {
          if (line[at] == '\\' && at + 1 < line.size()) {
            const char e = line[++at];
            EXPECT_TRUE(e == '\\' || e == '"' || e == 'n') << "bad escape \\" << e;
            value += e == 'n' ? '\n' : e;
          } else {
            value += line[at];
          }
        }
        ++at;  // the closing quote
        if (at < line.size() && line[at] == ',') ++at;
        EXPECT_TRUE(s.labels.emplace(label, value).second) << "label twice: " << label;
        key.append(label).append("=").append(value).append(",");
      }
      ++at;  // '}'
    }
    EXPECT_TRUE(at < line.size() && line[at] == ' ') << "no space before the value";
    const std::string value = line.substr(std::min(at + 1, line.size()));
    char* end = nullptr;
    s.value = std::strtod(value.c_str(), &end);
    EXPECT_TRUE(!value.empty() && end != nullptr && *end == '\0') << "value: " << value;
    EXPECT_TRUE(std::isfinite(s.value));
    EXPECT_TRUE(series.insert(key).second) << "series twice";
    out.push_back(std::move(s));
  }
  for (const auto& name : typed) EXPECT_EQ(helped.count(name), 1u) << "no HELP for " << name;
  return out;
}

std::optional<double> Value(const std::vector<Sample>& samples, const std::string& name,
                            const std::map<std::string, std::string>& labels = {}) {
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      const auto it = s.labels.find(k);
      match = match && it != s.labels.end() && it->second == v;
    }
    if (match) return s.value;
  }
  return std::nullopt;
}

// An OpenNebula template "KEY=\"value\"" per line (values may span lines),
// with \" and \\ unescaped.
std::map<std::string, std::string> ParseTemplate(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    const size_t eq = text.find('=', at);
    if (eq == std::string::npos) break;
    const std::string key = text.substr(at, eq - at);
    EXPECT_TRUE(eq + 1 < text.size() && text[eq + 1] == '"') << "unquoted value of " << key;
    std::string value;
    size_t i = eq + 2;
    for (; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) ++i;
      value += text[i];
    }
    EXPECT_LT(i, text.size()) << "unterminated value of " << key;
    EXPECT_TRUE(out.emplace(key, value).second) << key << " twice";
    at = i + 1;
    EXPECT_TRUE(at >= text.size() || text[at] == '\n') << "junk after " << key;
    ++at;
  }
  return out;
}

std::string Base64Decode(const std::string& text) {
  RunOptions options;
  options.stdin_data = text;
  const RunResult r = Run({"base64", "-d"}, options);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

TEST_F(CatcherCacheTest, StatusAndExport) {
  const auto started = Now();
  std::vector<Published> images = {MakeImage("s-one", 300 * 1024),
                                   MakeImage("s-two", 1536 * 1024 + 1),
                                   MakeImage("s-three", 2 * kMiB)};
  std::vector<ImageSpec> specs;
  specs.reserve(images.size());
  for (const auto& p : images) specs.push_back(Entry(p));
  specs[0].title = R"(Base "stable" image \ v2)";
  specs[0].text["dc:description"] = "Two lines:\nthe second one";
  const Published wanted = MakeImage("s-missing", 100 * 1024);
  specs.push_back(Entry(wanted));
  specs.back().uri = server_->Url("/" + name_ + "/absent.img");  // never cached
  expires_ = Now() + hours(24 * 20);
  PublishList(Spec("7", specs));
  const RunResult run = Catcher({"--json", "run", "--once"});
  ASSERT_EQ(run.exit_code, 3) << Describe(run);  // s-missing: 404
  EXPECT_EQ(ErrorCodeOf(run), "http-status") << Describe(run);
  std::uint64_t bytes = 0;
  for (const auto& p : images) {
    ExpectCached(p);
    bytes += p.data.size();
  }

  // status --json
  const RunResult status = Catcher({"--json", "status"});
  ASSERT_EQ(status.exit_code, 0) << Describe(status);
  auto doc = ParseJson(Lines(status.out).front());
  ASSERT_TRUE(doc && doc->IsObject()) << status.out;
  const auto& subs = (*doc)["subscriptions"];
  ASSERT_TRUE(subs.IsArray() && subs.Size() == 1) << status.out;
  EXPECT_EQ(Str(subs[0], "name"), "sub");
  EXPECT_EQ(Str(subs[0], "origin"), "policy");
  EXPECT_EQ(Str(subs[0], "result"), "updated");
  EXPECT_EQ(Str(subs[0], "version"), "7");
  EXPECT_EQ(Str(subs[0], "expires"), FormatDate(expires_));
  std::map<std::string, std::string> states;
  for (const auto& i : (*doc)["images"].GetArray()) states[Str(i, "identifier")] = Str(i, "state");
  EXPECT_EQ(states, (std::map<std::string, std::string>{{"s-one", "cached"},
                                                        {"s-two", "cached"},
                                                        {"s-three", "cached"},
                                                        {"s-missing", "wanted"}}));
  const auto& cache = (*doc)["cache"];
  EXPECT_EQ(U64(cache, "bytes"), bytes);
  EXPECT_EQ(U64(cache, "files"), 3u);
  struct statvfs vfs {};
  ASSERT_EQ(statvfs(state_.c_str(), &vfs), 0);
  const double free_now = static_cast<double>(vfs.f_bavail) * static_cast<double>(vfs.f_frsize);
  EXPECT_NEAR(static_cast<double>(U64(cache, "free_bytes")), free_now, 512.0 * kMiB);

  // status --prometheus
  const RunResult prom = Catcher({"status", "--prometheus"});
  ASSERT_EQ(prom.exit_code, 0) << Describe(prom);
  const auto samples = ParsePrometheus(prom.out);
  const std::map<std::string, std::string> sub = {{"subscription", "sub"}};
  EXPECT_EQ(Value(samples, "catcher_subscription_up", sub), 1.0) << prom.out;
  // One series per subscription, whatever its result: no result label.
  EXPECT_NE(prom.out.find("\ncatcher_subscription_up{subscription=\"sub\"} 1\n"), std::string::npos)
      << prom.out;
  const auto updated = Value(samples, "catcher_subscription_last_update_timestamp_seconds", sub);
  ASSERT_TRUE(updated) << prom.out;
  EXPECT_GE(*updated, static_cast<double>(started.time_since_epoch().count()));
  EXPECT_LE(*updated, static_cast<double>(Now().time_since_epoch().count()));
  EXPECT_EQ(Value(samples, "catcher_list_expiry_timestamp_seconds", sub),
            static_cast<double>(expires_.time_since_epoch().count()));
  EXPECT_EQ(Value(samples, "catcher_images", {{"state", "cached"}}), 3.0);
  EXPECT_EQ(Value(samples, "catcher_images", {{"state", "wanted"}}), 1.0);
  EXPECT_EQ(Value(samples, "catcher_images", {{"state", "expired"}}), 0.0);
  EXPECT_EQ(Value(samples, "catcher_cache_bytes"), static_cast<double>(bytes));
  EXPECT_EQ(Value(samples, "catcher_cache_files"), 3.0);
  const auto free_bytes = Value(samples, "catcher_cache_free_bytes");
  ASSERT_TRUE(free_bytes);
  EXPECT_NEAR(*free_bytes, free_now, 512.0 * kMiB);
  for (const auto& s : samples) EXPECT_EQ(s.name.rfind("catcher_", 0), 0u) << s.name;

  // export --format json
  const RunResult json = Catcher({"export", "--format", "json"});
  ASSERT_EQ(json.exit_code, 0) << Describe(json);
  auto index = ParseJson(Lines(json.out).front());
  ASSERT_TRUE(index && index->IsArray()) << json.out;
  ASSERT_EQ(index->Size(), 3u) << json.out;
  for (const auto& item : index->GetArray()) {
    const std::string id = Str(item, "identifier");
    const auto p =
        std::find_if(images.begin(), images.end(), [&](const Published& x) { return x.id == id; });
    ASSERT_NE(p, images.end()) << id;
    EXPECT_EQ(Str(item, "path"), ViewFile(id).string());
    EXPECT_EQ(Sha512SumOf(Str(item, "path")), p->sha);
    EXPECT_EQ(Str(item, "sha512"), p->sha);
    EXPECT_EQ(U64(item, "size"), p->data.size());
    EXPECT_EQ(Str(item, "version"), "1.0-" + id);
    EXPECT_EQ(Str(item, "format"), "raw");
    EXPECT_EQ(Str(item, "subscription"), "sub");
    EXPECT_EQ(Str(item, "list"), list_id_);
    EXPECT_EQ(Str(item, "vo"), "vo.example.org");
    EXPECT_EQ(Str(item, "title"), id == "s-one" ? specs[0].title : "Image " + id);
  }

  // export --format opennebula
  const RunResult one = Catcher({"export", "--format", "opennebula"});
  ASSERT_EQ(one.exit_code, 0) << Describe(one);
  std::map<std::string, std::string> figures;
  std::map<std::string, std::map<std::string, std::string>> apps;
  for (const auto& line : Lines(one.out)) {
    SCOPED_TRACE(line);
    if (line.rfind("APP=\"", 0) == 0) {
      ASSERT_EQ(line.back(), '"');
      const std::string encoded = line.substr(5, line.size() - 6);
      EXPECT_EQ(encoded.find_first_not_of(
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
                std::string::npos);
      auto t = ParseTemplate(Base64Decode(encoded));
      apps[t["IMPORT_ID"]] = t;
    } else {
      const auto eq = line.find('=');
      ASSERT_NE(eq, std::string::npos);
      figures[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  ASSERT_EQ(figures.size(), 3u) << one.out;
  const double total_mb =
      static_cast<double>(vfs.f_blocks) * static_cast<double>(vfs.f_frsize) / kMiB;
  EXPECT_NEAR(std::stod(figures.at("TOTAL_MB")), total_mb, 1.0);
  EXPECT_EQ(figures.at("USED_MB"), std::to_string(bytes / kMiB));
  EXPECT_NEAR(std::stod(figures.at("FREE_MB")), free_now / kMiB, 512.0);
  ASSERT_EQ(apps.size(), 3u) << one.out;
  for (size_t i = 0; i < images.size(); ++i) {
    const auto& p = images[i];
    SCOPED_TRACE(p.id);
    const auto& t = apps.at(p.id);
    EXPECT_EQ(t.at("NAME"), specs[i].title);
    EXPECT_EQ(t.at("SOURCE"), ViewFile(p.id).string());
    EXPECT_EQ(t.at("IMPORT_ID"), p.id);
    EXPECT_EQ(t.at("PUBLISHER"), e1_.dn);
    EXPECT_EQ(t.at("FORMAT"), "raw");
    EXPECT_EQ(t.at("DESCRIPTION"), specs[i].text.at("dc:description"));
    EXPECT_EQ(t.at("VERSION"), "1.0-" + p.id);
    EXPECT_EQ(t.at("SIZE"), std::to_string((p.data.size() + kMiB - 1) / kMiB));
    EXPECT_EQ(t.at("SHA512"), p.sha);
    EXPECT_EQ(t.at("TYPE"), "IMAGE");
  }
  EXPECT_EQ(apps.at("s-one").at("SIZE"), "1");
  EXPECT_EQ(apps.at("s-two").at("SIZE"), "2");
  EXPECT_EQ(apps.at("s-three").at("SIZE"), "2");

  const RunResult bad = Catcher({"--json", "export", "--format", "yaml"});
  EXPECT_EQ(bad.exit_code, 1) << Describe(bad);
  EXPECT_EQ(ErrorCodeOf(bad), "usage");
}

// --- cache --check ------------------------------------------------------------------------------

// A cached file corrupted on disk: --check moves it out and reports it, the
// handler is told that the image left the cache, and the next run downloads
// it again.
TEST_F(CatcherCacheTest, CheckMovesCorruptFileOut) {
  const std::vector<Published> images = {MakeImage("c-one", 400 * 1024),
                                         MakeImage("c-two", 200 * 1024)};
  PublishList("1", images);
  RunOnceOk();
  for (const auto& p : images) ExpectCached(p);

  // A clean check changes nothing.
  const RunResult clean = Catcher({"--json", "cache", "--check"});
  EXPECT_EQ(clean.exit_code, 0) << Describe(clean);
  for (const auto& p : images) ExpectCached(p);

  const fs::path victim = ContentFile(images[0].sha);
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1234);
    f.put('\xAA');
  }
  ASSERT_EQ(FileSize(victim), images[0].data.size());
  ASSERT_NE(Sha512SumOf(victim), images[0].sha);
  const size_t events_before = ReadEvents(events_).size();

  const RunResult check = Catcher({"--json", "cache", "--check"});
  EXPECT_EQ(check.exit_code, 6) << Describe(check);
  EXPECT_EQ(ErrorCodeOf(check), "checksum-mismatch") << Describe(check);
  EXPECT_NE(ErrorDetailOf(check, "message").find(images[0].sha), std::string::npos);
  EXPECT_FALSE(fs::exists(victim));
  EXPECT_FALSE(fs::exists(ViewFile("c-one")));
  ExpectCached(images[1]);
  ExpectCacheProven();
  // The corrupt bytes are in expired/, out of the cache.
  bool found = false;
  for (const auto& e : fs::directory_iterator(state_ / "expired")) {
    found = found || FileSize(e.path()) == images[0].data.size();
  }
  EXPECT_TRUE(found) << testing::PrintToString(DirNames(state_ / "expired"));
  EXPECT_EQ(ImageStates().at("c-one"), "wanted");
  // The middleware imported the image: it hears that it left the cache.
  const auto events = ReadEvents(events_);
  const std::vector<EventRecord> fresh(events.begin() + static_cast<long>(events_before),
                                       events.end());
  EXPECT_EQ(Types(fresh),
            (std::vector<std::string>{"ProcessPrefix:<unset>", "ExpirePrefix:c-one",
                                      "ExpirePostfix:c-one", "ProcessPostfix:<unset>"}));
  for (const auto& e : EventsFor(fresh, "ExpirePostfix", "c-one")) {
    EXPECT_EQ(Var(e, "VMCATCHER_EVENT_SL_CHECKSUM_SHA512"), images[0].sha);
    EXPECT_EQ(Var(e, "HANDLER_IN_CACHE"), "no");
  }

  // The next cache run downloads it again.
  const RunResult again = Catcher({"--json", "cache"});
  ASSERT_EQ(again.exit_code, 0) << Describe(again);
  ExpectCached(images[0]);
  ExpectCached(images[1]);
  ExpectCacheProven();
  EXPECT_EQ(Requests(images[0], 2).size(), 2u);
  EXPECT_EQ(EventsFor(ReadEvents(events_), "AvailablePostfix", "c-one").size(), 2u);
}

}  // namespace
}  // namespace vmc::test
