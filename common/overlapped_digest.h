// SHA-512 on a second core: the caller hands bytes over as they arrive and
// goes on receiving and writing while a worker thread hashes them. Caching an
// image then costs the slower of receiving and hashing, not their sum
// (DESIGN.md section 9).
//
// Memory is bounded: the bytes wait in a fixed pool of buffers (4 x 4 MiB by
// default); Update blocks while every buffer is waiting to be hashed.
//
// Thread-safety: thread-compatible. One producer thread calls Update, Finish
// and Reset; the worker is private.
#ifndef VMC_COMMON_OVERLAPPED_DIGEST_H_
#define VMC_COMMON_OVERLAPPED_DIGEST_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/digest.h"
#include "common/error.h"

namespace vmc {

class OverlappedSha512 {
 public:
  explicit OverlappedSha512(std::size_t buffer_bytes = 4 << 20, std::size_t buffers = 4);
  ~OverlappedSha512();
  OverlappedSha512(const OverlappedSha512&) = delete;
  OverlappedSha512& operator=(const OverlappedSha512&) = delete;

  // Copies `data` into the pool; hashing happens later, in order.
  void Update(const void* data, std::size_t size);

  // Waits for every byte to be hashed; the digest as 128 lower-case hex
  // digits. Resets, like Sha512::FinishHex.
  Result<std::string> FinishHex();

  // Discards everything passed so far.
  void Reset();

 private:
  struct Chunk {
    std::vector<char> bytes;
    std::size_t used = 0;
  };

  void Submit();    // hands the current chunk to the worker
  void WaitIdle();  // until the worker has hashed every submitted chunk
  void Work();

  std::vector<Chunk> chunks_;
  std::size_t current_ = 0;  // the chunk being filled; owned by the producer

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::size_t> ready_;  // filled chunks, in order
  std::deque<std::size_t> free_;   // chunks the producer may fill
  bool busy_ = false;              // the worker is hashing a chunk
  bool stop_ = false;

  Sha512 sha_;  // used by the worker, or by the producer while idle
  std::thread worker_;
};

}  // namespace vmc

#endif  // VMC_COMMON_OVERLAPPED_DIGEST_H_
