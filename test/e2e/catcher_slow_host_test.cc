// End-to-end tests of a slow image host (issue 11, finding 5): the real
// catcher daemon against a real nginx on loopback whose /slow/ location sends
// 2 KiB/s, above the low-speed limit, so that only a time budget stops it.
//
// - Image downloads never hold up the daemon's cycles: while one trickles, a
//   CRL revoking the endorser of its list is applied within a cycle or two,
//   the list's cached image leaves the cache and the download is cancelled.
// - A trickling download holds one slot: the fast images beside it are
//   downloaded and made available meanwhile; it stops at its time budget,
//   keeps its partial file, and a later run resumes it with a range request.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/digest.h"
#include "test/support/catcher_e2e.h"
#include "test/support/list_factory.h"
#include "test/support/nginx.h"
#include "test/support/pki.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

const TestPki& Pki() { return TestPki::Get(); }

std::string PseudoRandomBytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(random() & 0xff);
  return out;
}

std::uint64_t FileSize(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<std::uint64_t>(size);
}

class CatcherSlowHostTest : public CatcherE2eTest<CatcherSlowHostTest> {
 protected:
  static void SetUpTestSuite() {
    NginxOptions options;
    options.server_config = "    location /slow/ { limit_rate 2k; }\n";
    StartServer(std::move(options));
  }

  struct Served {
    ImageSpec spec;
    std::string path;  // the request URI
    std::string bytes;
  };

  // Serves `size` pseudo-random bytes at [/slow]/<test>/images/<id>.
  Served ServeImage(const std::string& id, std::size_t size, bool slow = false) {
    Served out;
    out.path = std::string(slow ? "/slow" : "") + "/" + name_ + "/images/" + id;
    out.bytes = PseudoRandomBytes(size, std::hash<std::string>()(out.path));
    Serve(server_->root() / out.path.substr(1), out.bytes);
    out.spec.identifier = id;
    out.spec.uri = server_->Url(out.path);
    out.spec.size = size;
    out.spec.sha512 = Sha512Hex(out.bytes).value();
    return out;
  }

  static ListSpec Spec(const std::string& id, const std::string& version,
                       const std::vector<Served>& images) {
    ListSpec s;
    s.identifier = id;
    s.version = version;
    for (const auto& i : images) s.images.push_back(i.spec);
    return s;
  }

  fs::path ContentFile(const Served& i) const {
    return state_ / "cache" / ".sha512" / i.spec.sha512;
  }
  fs::path ViewFile(const Served& i) const { return state_ / "cache" / i.spec.identifier; }
  fs::path PartialFile(const Served& i) const {
    return state_ / "partial" / (i.spec.sha512 + ".part");
  }

  // The CA directory copied for the test; returns its file holding the
  // intermediate's CRL.
  fs::path CopyCaDir() {
    ca_dir_ = dir_ / "cadir";
    fs::copy(Pki().ca_dir(), ca_dir_);
    const std::string current = ReadFile(Pki().intermediate_crl());
    for (const auto& e : fs::directory_iterator(ca_dir_)) {
      if (e.path().extension() == ".r0" && ReadFile(e.path()) == current) return e.path();
    }
    ADD_FAILURE() << "no .r0 holds the intermediate's CRL";
    return {};
  }
};

// Finding 5: a daemon whose download of one image trickles at 2 KiB/s (2 MiB:
// 17 minutes, well inside its default budget) still updates every interval:
// the CRL that now revokes the endorser is applied, the list is refused, its
// image already cached leaves the cache at once, and the trickling download,
// no longer wanted, is cancelled and its partial file dropped.
TEST_F(CatcherSlowHostTest, RevocationAppliesWhileADownloadIsSlow) {
  const fs::path crl = CopyCaDir();
  ASSERT_FALSE(crl.empty());
  WritePolicy(Sub("sub", Url("list"), "e2"));
  const std::string id = NewTestUuid();
  const Served cached = ServeImage("img-cached", 20000);
  const Served slow = ServeImage("img-slow", std::size_t{2} << 20, true);
  Publish("list", Spec(id, "1", {cached}), Pki().endorser2());
  UpdateOk();
  const RunResult first = Catcher({"--json", "cache"});
  ASSERT_EQ(first.exit_code, 0) << Describe(first);
  ASSERT_TRUE(fs::exists(ViewFile(cached)));

  Publish("list", Spec(id, "2", {cached, slow}), Pki().endorser2());
  const fs::path log = dir_ / "daemon.log";
  auto daemon = Start({"-v", "run", "--interval", "2s"}, log);
  ASSERT_TRUE(WaitFor([&] { return FileSize(PartialFile(slow)) > 0; }, seconds(20)))
      << ReadFile(log);

  const fs::path tmp = crl.string() + ".new";
  fs::copy_file(Pki().intermediate_crl_revoking_endorser2(), tmp);
  fs::rename(tmp, crl);
  const auto revoked_at = Clock::now();
  // Within a few intervals: the list is refused and its cached image gone.
  EXPECT_TRUE(
      WaitFor([&] { return Subscriptions()["sub"]["result"] == "signer-revoked"; }, seconds(15)))
      << ReadFile(log);
  EXPECT_TRUE(WaitFor(
      [&] {
        return !fs::exists(ViewFile(cached)) &&
               fs::exists(state_ / "expired" / cached.spec.identifier);
      },
      seconds(10)))
      << ReadFile(log);
  EXPECT_LT(Clock::now() - revoked_at, seconds(15));
  EXPECT_EQ(ImageStates().at("img-cached"), "expired");
  // The slow download was cancelled, not finished: it is no longer wanted.
  EXPECT_TRUE(WaitFor([&] { return !fs::exists(PartialFile(slow)); }, seconds(10)))
      << ReadFile(log);
  EXPECT_FALSE(fs::exists(ContentFile(slow)));
  EXPECT_FALSE(fs::exists(ViewFile(slow)));
  // Expiry drops the partial file at once; the transfer notices its cancel
  // flag within about a second and then says so.
  EXPECT_TRUE(WaitFor(
      [&] {
        return ReadFile(log).find(
                   "image img-slow: download cancelled: its content is no "
                   "longer wanted") != std::string::npos;
      },
      seconds(10)))
      << ReadFile(log);
  EXPECT_TRUE(daemon->Running()) << ReadFile(log);
  EXPECT_EQ(daemon->Stop(), 0) << ReadFile(log);
}

// Finding 5: with two download slots, a trickling image holds one of them:
// the four fast images are downloaded and made available by the daemon while
// it trickles. At its budget (download-min-time 5 s here, its hv:size being
// far below what download-min-rate would need longer for) it stops, keeps the
// bytes it has, and says so; a later run resumes it with a range request for
// the rest only.
TEST_F(CatcherSlowHostTest, TricklingMirrorHoldsOneSlotOnly) {
  WriteFile(config_, "downloads = 2\ndownload-min-rate = 1048576\ndownload-min-time = 5s\n");
  WritePolicy(Sub("sub", Url("list")));
  const Served slow = ServeImage("img-slow", 24 * 1024, true);
  std::vector<Served> images = {slow};
  for (int i = 1; i <= 4; ++i) images.push_back(ServeImage("img-fast" + std::to_string(i), 300000));
  Publish("list", Spec(NewTestUuid(), "1", images));

  const fs::path log = dir_ / "daemon.log";
  const auto start = Clock::now();
  auto daemon = Start({"-v", "run", "--interval", "1h"}, log);
  auto fast_available = [&] {
    for (std::size_t i = 1; i < images.size(); ++i) {
      if (!fs::exists(ViewFile(images[i]))) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(fast_available, seconds(4))) << ReadFile(log);
  // ... while the trickling one is still on its way.
  EXPECT_LT(Clock::now() - start, seconds(5));
  EXPECT_FALSE(fs::exists(ContentFile(slow))) << ReadFile(log);
  for (std::size_t i = 1; i < images.size(); ++i) {
    EXPECT_EQ(HashFile(ViewFile(images[i])).value().sha512_hex, images[i].spec.sha512);
  }

  // Its budget runs out: the transfer stops, the partial file stays.
  const std::string budget_said = "image img-slow: download from " + slow.spec.uri;
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string text = ReadFile(log);
        return text.find(budget_said) != std::string::npos &&
               text.find("its time budget of 5.0 s") != std::string::npos;
      },
      seconds(15)))
      << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("ran out; the partial file is kept and a later run resumes it"),
            std::string::npos)
      << ReadFile(log);
  const auto stopped_after = Clock::now() - start;
  EXPECT_LT(stopped_after, seconds(10)) << ReadFile(log);
  const std::uint64_t held = FileSize(PartialFile(slow));
  EXPECT_GT(held, 0u);
  EXPECT_LT(held, slow.bytes.size());
  EXPECT_EQ(ReadFile(PartialFile(slow)), slow.bytes.substr(0, held));
  EXPECT_FALSE(fs::exists(ContentFile(slow)));
  EXPECT_TRUE(daemon->Running()) << ReadFile(log);
  EXPECT_EQ(daemon->Stop(), 0) << ReadFile(log);
  EXPECT_EQ(FileSize(PartialFile(slow)), held);

  // A later run, with time enough, asks for the rest only.
  WriteFile(config_, "downloads = 2\ndownload-min-rate = 1048576\ndownload-min-time = 60s\n");
  const RunResult again = Catcher({"--json", "run", "--once"});
  EXPECT_EQ(again.exit_code, 0) << Describe(again);
  ASSERT_TRUE(fs::exists(ViewFile(slow)));
  EXPECT_EQ(HashFile(ViewFile(slow)).value().sha512_hex, slow.spec.sha512);
  const auto requests = server_->WaitForLog(slow.path, 2);
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].status, 200);
  EXPECT_EQ(requests[1].status, 206);
  EXPECT_EQ(static_cast<std::uint64_t>(requests[1].bytes_sent), slow.bytes.size() - held);
  for (std::size_t i = 1; i < images.size(); ++i) {
    EXPECT_EQ(server_->WaitForLog(images[i].path, 1).size(), 1u) << images[i].path;
  }
}

}  // namespace
}  // namespace vmc::test
