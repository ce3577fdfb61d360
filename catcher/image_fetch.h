// Downloads images into the content store and proves them (DESIGN.md
// sections 5 step 9 and 6): bytes go to partial/<sha512>.part while a second
// core hashes them; the transfer stops at once when the server sends more
// than the declared size; only a file whose size and SHA-512 match the signed
// list is renamed into cache/.sha512/<sha512>. Nothing unproven ever reaches
// the content store. The partial file is written around the page cache where
// the filesystem allows it (direct_file_writer.h), so the fsync before the
// rename finds the bytes already on disk.
//
// Resume: a partial file left by a crash, a signal or a dropped connection is
// re-hashed from its first byte and continued with an HTTP range request. A
// partial whose bytes proved wrong (checksum or size) is deleted.
//
// Thread-safety: FetchAll runs its jobs on its own threads, one HttpClient
// each. The caller holds the cache lock, so no other process writes partial/.
#ifndef VMC_CATCHER_IMAGE_FETCH_H_
#define VMC_CATCHER_IMAGE_FETCH_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "catcher/cache_layout.h"
#include "common/error.h"
#include "common/http.h"

namespace vmc::catcher {

struct FetchJob {
  std::string url;
  // Which origin gets which credentials is decided by the job's maker
  // (cache.cc): they go with this transfer only.
  Credentials credentials;
  // The schemes this download may use (see DownloadRequest::protocols):
  // "file" only for an image of a list read from a local file.
  std::string protocols = kRemoteProtocols;
  std::string sha512;  // from the verified list, any case
  std::uint64_t size = 0;
  std::string label;  // the image identifier, for messages and the progress bar
  // The transfer's time budget (download_budget.h); zero: none. When it runs
  // out the transfer stops, the partial file stays and a later run resumes it.
  std::chrono::milliseconds budget{0};
};

struct FetchOptions {
  HttpOptions http;
  unsigned concurrency = 1;
  const std::atomic<bool>* cancel = nullptr;
  // Draw a progress bar (only ever on a terminal).
  bool progress = true;
};

// Fetches one image with `client`, reaching its files (the content store and
// partial/) from `dirs`, never through a link. Ok when the content file exists
// afterwards (already there, or downloaded and proven).
// A link or other non-regular entry where the content file or the partial
// file belongs, or a partial file with other hard links, is kUnsafePath: it
// is removed (unlinkat removes the entry, not its target), never followed.
// Errors: kInvalidValue (not a SHA-512), kDiskFull (not enough free space for
// the rest of the image, or ENOSPC while writing; the partial is kept),
// kSizeMismatch / kChecksumMismatch (partial deleted), kIo, and the
// transfer errors of HttpClient::Download (partial kept for resume), among
// them kTransferTimeout saying so when job.budget ran out.
Status FetchImage(HttpClient& client, const CacheDirFds& dirs, const FetchJob& job,
                  const std::atomic<bool>* cancel, std::atomic<std::uint64_t>* progress = nullptr);

// Runs the jobs, `options.concurrency` at once, so that one stalled server
// holds up one slot only. Jobs for one SHA-512 are fetched once and share
// the result. One result per job, in order.
std::vector<Status> FetchAll(const CacheDirFds& dirs, const std::vector<FetchJob>& jobs,
                             const FetchOptions& options);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_IMAGE_FETCH_H_
