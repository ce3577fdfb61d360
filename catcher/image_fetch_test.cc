// FetchImage and FetchAll over file:// URLs: the content store receives only
// proven bytes, a partial download is resumed after re-hashing it from its
// first byte, and bytes that proved wrong are discarded.
#include "catcher/image_fetch.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/digest.h"
#include "test/support/temp_dir.h"

namespace vmc::catcher {
namespace {

namespace fs = std::filesystem;
using test::ReadFile;
using test::WriteFile;

std::string RandomBytes(std::size_t n, unsigned seed) {
  std::mt19937 random(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(random() & 0xff);
  return out;
}

std::string Sha(const std::string& data) {
  auto hex = Sha512Hex(data);
  EXPECT_TRUE(hex.ok());
  return hex.ok() ? *hex : "";
}

class ImageFetchTest : public testing::Test {
 protected:
  void SetUp() override {
    fs::permissions(dir_.path(), static_cast<fs::perms>(0755));
    auto dirs = OpenCacheDirs(CacheLayout(dir_.path()));
    ASSERT_TRUE(dirs.ok()) << dirs.error().ToString();
    dirs_.emplace(std::move(dirs).value());
    fs::create_directories(dir_ / "server");
    data_ = RandomBytes(3 * 1024 * 1024 + 123, 7);
    sha_ = Sha(data_);
    auto client = HttpClient::Create();
    ASSERT_TRUE(client.ok()) << client.error().ToString();
    client_.emplace(std::move(client).value());
  }

  // Puts `bytes` on the "server" and returns its file:// URL.
  std::string Serve(const std::string& name, const std::string& bytes) {
    WriteFile(dir_ / "server" / name, bytes);
    return "file://" + (dir_ / "server" / name).string();
  }

  FetchJob Job(const std::string& url, const std::string& sha, std::uint64_t size) {
    FetchJob job;
    job.url = url;
    job.sha512 = sha;
    job.size = size;
    job.label = "test-image";
    job.protocols = kLocalProtocols;  // the "server" is a local directory
    return job;
  }

  Status Fetch(const FetchJob& job) { return FetchImage(*client_, *dirs_, job, nullptr); }

  fs::path Content(const std::string& sha) const { return dirs_->content.path() / sha; }
  fs::path Partial(const std::string& sha) const { return dirs_->partial.path() / (sha + ".part"); }

  // Every file of the content store is named by its own SHA-512.
  void ExpectContentStoreProven() {
    for (const auto& e : fs::directory_iterator(dirs_->content.path())) {
      EXPECT_EQ(Sha(ReadFile(e.path())), e.path().filename().string()) << e.path();
    }
  }

  size_t ContentFiles() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(dirs_->content.path()), {}));
  }

  test::TempDir dir_;
  std::optional<CacheDirFds> dirs_;
  std::optional<HttpClient> client_;
  std::string data_;
  std::string sha_;
};

TEST_F(ImageFetchTest, DownloadsProvesAndRenamesIntoTheContentStore) {
  const Status s = Fetch(Job(Serve("a.img", data_), sha_, data_.size()));
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(ReadFile(Content(sha_)), data_);
  EXPECT_FALSE(fs::exists(Partial(sha_)));
  EXPECT_EQ(fs::status(Content(sha_)).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);
}

TEST_F(ImageFetchTest, UpperCaseDigestIsStoredUnderItsLowerCaseName) {
  std::string upper = sha_;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_TRUE(Fetch(Job(Serve("a.img", data_), upper, data_.size())).ok());
  EXPECT_TRUE(fs::exists(Content(sha_)));
}

TEST_F(ImageFetchTest, AlreadyCachedIsNotFetchedAgain) {
  WriteFile(Content(sha_), data_);
  const Status s = Fetch(Job("file:///nonexistent/a.img", sha_, data_.size()));
  EXPECT_TRUE(s.ok()) << s.error().ToString();
}

TEST_F(ImageFetchTest, ResumesAGoodPartialFromWhereItStopped) {
  WriteFile(Partial(sha_), data_.substr(0, data_.size() / 3));
  std::atomic<std::uint64_t> progress{0};
  const Status s = FetchImage(*client_, *dirs_, Job(Serve("a.img", data_), sha_, data_.size()),
                              nullptr, &progress);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(ReadFile(Content(sha_)), data_);
  EXPECT_FALSE(fs::exists(Partial(sha_)));
  EXPECT_EQ(progress.load(), data_.size());
}

// The held bytes are proven again, from the first one: a partial corrupted
// on disk (or written by someone else) cannot slip into the cache by being
// completed with good bytes.
TEST_F(ImageFetchTest, ResumeRehashesTheHeldBytes) {
  std::string held = data_.substr(0, data_.size() / 2);
  held[1000] = static_cast<char>(held[1000] ^ 0x01);
  WriteFile(Partial(sha_), held);
  const Status s = Fetch(Job(Serve("a.img", data_), sha_, data_.size()));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kChecksumMismatch) << s.error().ToString();
  EXPECT_FALSE(fs::exists(Content(sha_)));
  EXPECT_FALSE(fs::exists(Partial(sha_))) << "a partial that proved wrong must be deleted";
  // The next attempt starts from zero and succeeds.
  ASSERT_TRUE(Fetch(Job(Serve("a.img", data_), sha_, data_.size())).ok());
  EXPECT_EQ(ReadFile(Content(sha_)), data_);
}

// A complete partial (killed between the last write and the rename) is proven
// and committed without any transfer.
TEST_F(ImageFetchTest, CompletePartialIsCommittedWithoutTransfer) {
  WriteFile(Partial(sha_), data_);
  const Status s = Fetch(Job("file:///nonexistent/a.img", sha_, data_.size()));
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(ReadFile(Content(sha_)), data_);
  EXPECT_FALSE(fs::exists(Partial(sha_)));
}

TEST_F(ImageFetchTest, PartialBiggerThanTheImageIsTruncated) {
  WriteFile(Partial(sha_), data_ + RandomBytes(5000, 8));
  const Status s = Fetch(Job(Serve("a.img", data_), sha_, data_.size()));
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(ReadFile(Content(sha_)), data_);
  EXPECT_FALSE(fs::exists(Partial(sha_)));
}

TEST_F(ImageFetchTest, ChecksumMismatchDeletesThePartial) {
  std::string wrong = data_;
  wrong[wrong.size() - 1] = static_cast<char>(wrong.back() ^ 0x80);
  const Status s = Fetch(Job(Serve("a.img", wrong), sha_, data_.size()));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kChecksumMismatch) << s.error().ToString();
  EXPECT_NE(s.error().message().find(sha_), std::string::npos) << s.error().message();
  EXPECT_FALSE(fs::exists(Content(sha_)));
  EXPECT_FALSE(fs::exists(Partial(sha_)));
  EXPECT_EQ(ContentFiles(), 0u);
}

TEST_F(ImageFetchTest, LargerThanDeclaredIsAbortedAndDiscarded) {
  const Status s = Fetch(Job(Serve("a.img", data_ + "x"), sha_, data_.size()));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kSizeMismatch) << s.error().ToString();
  EXPECT_FALSE(fs::exists(Partial(sha_)));
  EXPECT_EQ(ContentFiles(), 0u);
}

TEST_F(ImageFetchTest, ShorterThanDeclaredIsRefused) {
  const Status s = Fetch(Job(Serve("a.img", data_.substr(0, 1000)), sha_, data_.size()));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kSizeMismatch) << s.error().ToString();
  EXPECT_EQ(ContentFiles(), 0u);
}

// A transfer failure keeps the partial for the next attempt.
TEST_F(ImageFetchTest, MissingSourceKeepsThePartial) {
  const std::string held = data_.substr(0, 4096);
  WriteFile(Partial(sha_), held);
  const Status s =
      Fetch(Job("file://" + (dir_ / "server/absent.img").string(), sha_, data_.size()));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(ReadFile(Partial(sha_)), held);
  EXPECT_EQ(ContentFiles(), 0u);
}

// A transfer cut off midway (here: the process is stopping) keeps every byte
// received in the partial file, the buffered ones included, for a resume.
TEST_F(ImageFetchTest, InterruptedTransferKeepsEveryByteReceived) {
  const std::string big = RandomBytes(40 * 1024 * 1024 + 4321, 8);
  const std::string url = Serve("big.img", big);
  const std::string sha = Sha(big);
  // Resumed from an unaligned size, so that where the transfer is cut is not
  // where a buffer was just written out.
  WriteFile(Partial(sha), big.substr(0, 5000));
  std::atomic<bool> cancel{false};
  std::atomic<std::uint64_t> progress{0};
  std::thread cutter([&] {
    while (progress.load() < 9 * 1024 * 1024 + 1000) std::this_thread::yield();
    cancel = true;
  });
  const Status s = FetchImage(*client_, *dirs_, Job(url, sha, big.size()), &cancel, &progress);
  cutter.join();
  ASSERT_FALSE(s.ok()) << "the transfer ended before it could be cut";
  EXPECT_EQ(s.error().code(), ErrorCode::kNetwork) << s.error().ToString();
  const std::string kept = ReadFile(Partial(sha));
  EXPECT_EQ(kept.size(), progress.load());
  EXPECT_EQ(kept, big.substr(0, kept.size()));
  EXPECT_NE((kept.size() - 8192) % (4 * 1024 * 1024), 0u) << "cut where nothing was buffered";
  // The next run resumes there and proves the whole.
  ASSERT_TRUE(Fetch(Job(url, sha, big.size())).ok());
  EXPECT_EQ(Sha(ReadFile(Content(sha))), sha);
}

TEST_F(ImageFetchTest, NotASha512IsRefusedBeforeAnyFileIsMade) {
  for (const std::string& bad : {std::string("../../etc/passwd"), std::string(127, 'a'),
                                 std::string(127, 'a') + "g", std::string()}) {
    const Status s = Fetch(Job(Serve("a.img", data_), bad, data_.size()));
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().code(), ErrorCode::kInvalidValue) << bad;
  }
  EXPECT_TRUE(fs::is_empty(dirs_->partial.path()));
  EXPECT_TRUE(fs::is_empty(dirs_->content.path()));
}

// No filesystem has an exabyte free: the free-space check refuses before
// the transfer and keeps whatever was held.
TEST_F(ImageFetchTest, NotEnoughFreeSpaceIsDiskFull) {
  const std::uint64_t huge = std::uint64_t{1} << 60;
  const Status s = Fetch(Job(Serve("a.img", data_), sha_, huge));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kDiskFull) << s.error().ToString();
  EXPECT_EQ(ContentFiles(), 0u);
}

TEST_F(ImageFetchTest, FetchAllReturnsOneResultPerJobInOrder) {
  std::vector<FetchJob> jobs;
  std::vector<std::string> datas;
  for (int i = 0; i < 5; ++i) {
    datas.push_back(RandomBytes(200'000 + static_cast<size_t>(i) * 1000, 100 + i));
    jobs.push_back(Job(Serve("img" + std::to_string(i), datas.back()), Sha(datas.back()),
                       datas.back().size()));
  }
  jobs[2].sha512 = Sha("something else");  // wrong bytes for job 2
  jobs.push_back(jobs[0]);                 // the same content twice
  FetchOptions options;
  options.concurrency = 3;
  options.progress = false;
  const auto results = FetchAll(*dirs_, jobs, options);
  ASSERT_EQ(results.size(), jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (i == 2) {
      ASSERT_FALSE(results[i].ok());
      EXPECT_EQ(results[i].error().code(), ErrorCode::kChecksumMismatch);
    } else {
      EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].error().ToString();
    }
  }
  EXPECT_EQ(ContentFiles(), 4u);
  ExpectContentStoreProven();
  EXPECT_TRUE(fs::is_empty(dirs_->partial.path()));
}

TEST_F(ImageFetchTest, FetchAllCancelledFetchesNothing) {
  std::atomic<bool> cancel{true};
  FetchOptions options;
  options.cancel = &cancel;
  options.progress = false;
  const auto results = FetchAll(*dirs_, {Job(Serve("a.img", data_), sha_, data_.size())}, options);
  ASSERT_EQ(results.size(), 1u);
  ASSERT_FALSE(results[0].ok());
  EXPECT_EQ(results[0].error().code(), ErrorCode::kNetwork);
  EXPECT_EQ(ContentFiles(), 0u);
}

}  // namespace
}  // namespace vmc::catcher
