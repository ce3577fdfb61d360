#include "catcher/image_fetch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "catcher/direct_file_writer.h"
#include "common/atomic_file.h"
#include "common/chunk_pipeline.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/unique_fd.h"

namespace vmc::catcher {
namespace {

namespace fs = std::filesystem;

ChunkPipeline::Stage HashStage(Sha512& sha) {
  return [&sha](const char* data, std::size_t size) {
    sha.Update(data, size);
    return Ok();
  };
}

// Feeds the first `bytes` of the partial file to the hasher: a resumed
// download is proven from its first byte, not trusted from an earlier run.
Status Rehash(int fd, std::uint64_t bytes, Sha512& sha, const fs::path& path) {
  if (bytes == 0) return Ok();           // a fresh download: no thread, no pool
  ChunkPipeline hash({HashStage(sha)});  // reads while it hashes
  std::vector<char> buffer(1 << 20);
  std::uint64_t offset = 0;
  while (offset < bytes) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), bytes - offset));
    const ssize_t n = pread(fd, buffer.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return SystemError("read", path, n < 0 ? errno : EIO);
    VMC_RETURN_IF_ERROR(hash.Append(buffer.data(), static_cast<std::size_t>(n)));
    offset += static_cast<std::uint64_t>(n);
  }
  return hash.Drain();
}

Status CheckFreeSpace(int fd, const fs::path& dir, std::uint64_t needed, const FetchJob& job) {
  struct statvfs fs {};
  if (fstatvfs(fd, &fs) != 0) return SystemError("statvfs", dir, errno);
  const std::uint64_t available = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (available >= needed) return Ok();
  return Error(ErrorCode::kDiskFull, "image " + job.label + " needs " + std::to_string(needed) +
                                         " more bytes in " + dir.string() + ", which has " +
                                         std::to_string(available) + " free")
      .With("image", job.label)
      .With("path", dir.string());
}

// Hands the body to the hasher and to the partial file, each on a core of
// its own (ChunkPipeline): the receiving thread only copies it once.
class PartialSink : public DownloadSink {
 public:
  PartialSink(int fd, const fs::path& path, std::uint64_t held, Sha512& sha,
              std::atomic<std::uint64_t>* progress)
      : fd_(fd),
        path_(path),
        held_(held),
        sha_(sha),
        progress_(progress),
        file_(fd, path),
        pipeline_({HashStage(sha_), [this](const char* data, std::size_t size) {
                     return file_.Append(data, size);
                   }}) {}

  Status Begin(std::uint64_t first_byte) override {
    if (first_byte == held_) return Ok();
    // The server ignored the range: start over.
    VMC_RETURN_IF_ERROR(pipeline_.Drain());
    if (ftruncate(fd_, 0) != 0 || lseek(fd_, 0, SEEK_SET) != 0) {
      return SystemError("truncate", path_, errno);
    }
    sha_.Reset();
    file_.Discard();
    held_ = 0;
    return Ok();
  }

  Status Write(const char* data, std::size_t size) override {
    VMC_RETURN_IF_ERROR(pipeline_.Append(data, size));
    held_ += size;
    if (progress_ != nullptr) progress_->fetch_add(size, std::memory_order_relaxed);
    return Ok();
  }

  // Every byte received is in the file: before the proof, and when a
  // transfer broke off (the next run resumes after the last byte kept).
  Status Flush() {
    VMC_RETURN_IF_ERROR(pipeline_.Drain());
    return file_.Flush();
  }

  // Bytes of the image received (resumed and this transfer's): in the file
  // once Flush returns.
  std::uint64_t held() const { return held_; }

 private:
  int fd_;
  const fs::path& path_;
  std::uint64_t held_;
  Sha512& sha_;
  std::atomic<std::uint64_t>* progress_;
  DirectFileWriter file_;
  ChunkPipeline pipeline_;  // last: its stages use sha_ and file_ until it ends
};

// Whether `name` in `dir` is still the file open as `fd`.
bool StillNames(const SafeDir& dir, const std::string& name, int fd) {
  struct stat open_st {
  }, named{};
  return fstat(fd, &open_st) == 0 && dir.Stat(name, &named).ok() &&
         open_st.st_dev == named.st_dev && open_st.st_ino == named.st_ino;
}

// Proves the partial file and moves it into the content store.
Status Commit(int fd, const CacheDirFds& dirs, const std::string& partial_name, Sha512& sha,
              const FetchJob& job, const std::string& expected) {
  const fs::path partial = dirs.partial.PathOf(partial_name);
  VMC_ASSIGN_OR_RETURN(const std::string actual, sha.FinishHex());
  if (actual != expected) {
    (void)dirs.partial.Unlink(partial_name);
    return Error(ErrorCode::kChecksumMismatch,
                 "image " + job.label + " from " + RedactUrl(job.url) + " has SHA-512 " + actual +
                     ", not the " + expected + " its signed list declares; discarded")
        .With("image", job.label)
        .With("url", RedactUrl(job.url));
  }
  if (fchmod(fd, 0644) != 0) return SystemError("chmod", partial, errno);
  if (fsync(fd) != 0) return SystemError("sync", partial, errno);
  // Only the proven file moves: never an entry swapped in under its name.
  if (!StillNames(dirs.partial, partial_name, fd)) {
    return UnsafePathError(partial, "no longer the file that was downloaded and proven");
  }
  VMC_RETURN_IF_ERROR(dirs.partial.Rename(partial_name, dirs.content, expected));
  return dirs.content.Sync();
}

// Opens (creating it) the partial file of a download, refusing anything but
// catcher's own regular file there. A planted entry is removed, not followed.
Result<UniqueFd> OpenPartial(const SafeDir& dir, const std::string& name) {
  auto fd = dir.OpenFile(name, O_RDWR | O_CREAT, 0600, /*sole_link=*/true);
  if (fd.ok() || fd.error().code() != ErrorCode::kUnsafePath) return fd;
  if (Status removed = dir.Unlink(name); !removed.ok()) {
    LogWarning("cannot remove " + dir.PathOf(name).string() + ": " + removed.error().message());
  }
  return std::move(fd).error().Prefix("partial download refused and removed: ");
}

// Whether the content file is there: a regular file. Anything else under its
// name (a planted link) is removed and refused.
Result<bool> HaveContent(const SafeDir& dir, const std::string& sha512) {
  VMC_ASSIGN_OR_RETURN(const EntryType type, dir.Stat(sha512));
  if (type == EntryType::kRegular) return true;
  if (type == EntryType::kMissing) return false;
  const fs::path path = dir.PathOf(sha512);
  if (type == EntryType::kOther) VMC_RETURN_IF_ERROR(dir.Unlink(sha512));
  return UnsafePathError(path, type == EntryType::kDirectory
                                   ? "a directory, not a file of the content store"
                                   : "not a regular file (removed)");
}

// A transfer timeout at the budget, not the low-speed limit or the connect
// timeout: libcurl's total timeout counts from before the connection, so the
// budget has passed by the time it fires.
bool BudgetRanOut(const Error& error, const FetchJob& job, std::chrono::nanoseconds took) {
  return error.code() == ErrorCode::kTransferTimeout && job.budget.count() > 0 &&
         took >= job.budget;
}

Error BudgetError(const FetchJob& job, std::uint64_t held) {
  const auto ms = job.budget.count();
  return Error(ErrorCode::kTransferTimeout,
               "download from " + RedactUrl(job.url) + " stopped at byte " + std::to_string(held) +
                   " of " + std::to_string(job.size) + ": its time budget of " +
                   std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) +
                   " s (hv:size over download-min-rate, at least download-min-time) ran out; "
                   "the partial file is kept and a later run resumes it")
      .With("url", RedactUrl(job.url))
      .With("budget_ms", std::to_string(ms))
      .With("bytes_held", std::to_string(held));
}

bool DiscardsPartial(ErrorCode code) {
  return code == ErrorCode::kSizeMismatch || code == ErrorCode::kChecksumMismatch;
}

}  // namespace

Status FetchImage(HttpClient& client, const CacheDirFds& dirs, const FetchJob& job,
                  const std::atomic<bool>* cancel, std::atomic<std::uint64_t>* progress) {
  VMC_ASSIGN_OR_RETURN(const std::string sha512, NormalizeSha512Hex(job.sha512));
  // A scheme the job may not use is refused before any file is touched.
  VMC_ASSIGN_OR_RETURN(const UrlOrigin origin, ParseOrigin(job.url));
  if (!SchemeAllowed(origin.scheme, job.protocols)) {
    return Error(ErrorCode::kInvalidValue,
                 "image " + job.label + ": the scheme \"" + origin.scheme +
                     "\" is not allowed here (allowed: " + job.protocols + "); not downloaded")
        .With("image", job.label);
  }
  VMC_ASSIGN_OR_RETURN(const bool have, HaveContent(dirs.content, sha512));
  if (have) return Ok();
  const std::string partial_name = sha512 + ".part";
  const fs::path partial = dirs.partial.PathOf(partial_name);
  VMC_ASSIGN_OR_RETURN(const UniqueFd fd, OpenPartial(dirs.partial, partial_name));
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return SystemError("stat", partial, errno);
  auto held = static_cast<std::uint64_t>(st.st_size);
  if (held > job.size && ftruncate(fd.get(), 0) != 0)
    return SystemError("truncate", partial, errno);
  if (held > job.size) held = 0;

  Sha512 sha;
  VMC_RETURN_IF_ERROR(Rehash(fd.get(), held, sha, partial));
  if (lseek(fd.get(), static_cast<off_t>(held), SEEK_SET) < 0) {
    return SystemError("seek", partial, errno);
  }
  if (progress != nullptr) progress->fetch_add(held, std::memory_order_relaxed);
  if (held < job.size) {
    VMC_RETURN_IF_ERROR(CheckFreeSpace(fd.get(), dirs.partial.path(), job.size - held, job));
    if (held > 0) LogInfo("resuming image " + job.label + " at byte " + std::to_string(held));
    PartialSink sink(fd.get(), partial, held, sha, progress);
    DownloadRequest request;
    request.url = job.url;
    request.credentials = job.credentials;
    request.protocols = job.protocols;
    request.resume_offset = held;
    request.expected_size = job.size;
    request.cancel = cancel;
    request.timeout = job.budget;
    const auto started = std::chrono::steady_clock::now();
    auto downloaded = client.Download(request, sink);
    if (!downloaded.ok()) {
      Error error = std::move(downloaded).error();
      if (BudgetRanOut(error, job, std::chrono::steady_clock::now() - started)) {
        error = BudgetError(job, sink.held());
      }
      if (DiscardsPartial(error.code())) {
        (void)dirs.partial.Unlink(partial_name);
      } else if (const Status kept = sink.Flush(); !kept.ok()) {
        LogWarning("image " + job.label +
                   ": keeping the bytes received for a resume: " + kept.error().message());
      }
      return std::move(error).Prefix("image " + job.label + ": ");
    }
    VMC_RETURN_IF_ERROR(sink.Flush());
  }
  return Commit(fd.get(), dirs, partial_name, sha, job, sha512);
}

std::vector<Status> FetchAll(const CacheDirFds& dirs, const std::vector<FetchJob>& jobs,
                             const FetchOptions& options) {
  std::vector<Status> results(jobs.size());
  if (jobs.empty()) return results;
  // Each content once: two jobs for one SHA-512 would share one partial file.
  // A repeat takes the result of the first job for its content.
  std::vector<std::size_t> first(jobs.size());
  std::vector<std::size_t> unique;
  std::map<std::string, std::size_t> by_content;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    std::string key = jobs[i].sha512;
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto [it, inserted] = by_content.emplace(std::move(key), i);
    first[i] = it->second;
    if (!inserted) continue;
    unique.push_back(i);
    total += jobs[i].size;
  }
  ProgressBar bar(jobs.size() == 1 ? jobs[0].label : std::to_string(jobs.size()) + " images", total,
                  options.progress && isatty(STDERR_FILENO) == 1);
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::size_t> next{0};

  auto worker = [&] {
    auto client = HttpClient::Create(options.http);
    for (std::size_t n = next++; n < unique.size(); n = next++) {
      const std::size_t i = unique[n];
      if (!client.ok()) {
        results[i] = client.error();
      } else if (options.cancel != nullptr && options.cancel->load()) {
        results[i] = Error(ErrorCode::kNetwork,
                           "image " + jobs[i].label + ": not downloaded: the process is stopping");
      } else {
        results[i] = FetchImage(*client, dirs, jobs[i], options.cancel, &done);
      }
    }
  };
  const unsigned threads = static_cast<unsigned>(
      std::min<std::size_t>(std::max(options.concurrency, 1u), unique.size()));
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
  if (bar.enabled()) {
    std::atomic<bool> finished{false};
    std::thread drawer([&] {
      while (!finished.load()) {
        bar.Update(done.load());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    for (auto& t : pool) t.join();
    finished = true;
    drawer.join();
  } else {
    for (auto& t : pool) t.join();
  }
  bar.Update(done.load());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (first[i] != i) results[i] = results[first[i]];
  }
  return results;
}

}  // namespace vmc::catcher
