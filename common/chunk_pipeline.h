// The bytes of a download, received once and consumed on other cores: the
// receiving thread copies them into a fixed pool of aligned chunks, and each
// stage (the SHA-512, any further digest, the file writer) runs on a thread
// of its own over every chunk, in order. Caching an image then costs the
// slowest of receiving, hashing and writing, not their sum (DESIGN.md
// section 9), with one copy of each byte, and a write that waits for the
// disk never stops the receiver nor the hash.
//
// Memory is bounded: chunk_bytes x chunks (4 x 4 MiB by default); Append
// blocks while every chunk waits for a stage. A chunk is handed on when it
// is full, or when an Append finds its first byte older than max_hold (a
// slow transfer still reaches the file and the hash as it goes). Every chunk
// but the last holds a multiple of `alignment` bytes, so a stage may write it
// with O_DIRECT straight from the chunk, which is aligned to it as well.
//
// Thread-safety: thread-compatible. One producer thread calls Append and
// Drain; each stage is called only on its own thread. Once Drain returns,
// no stage is running, and the producer may read and reset what the stages
// write (a digest, a file) until its next Append.
#ifndef VMC_COMMON_CHUNK_PIPELINE_H_
#define VMC_COMMON_CHUNK_PIPELINE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/error.h"

namespace vmc {

struct ChunkPipelineOptions {
  std::size_t chunk_bytes = 4 << 20;
  std::size_t chunks = 4;
  std::size_t alignment = 4096;  // of each chunk's address and size
  std::chrono::milliseconds max_hold{50};
};

class ChunkPipeline {
 public:
  // Takes `size` bytes at `data` (aligned, size a multiple of the alignment
  // unless it is the last chunk before a Drain). An error stops the stage:
  // it sees no further chunk, and Append and Drain return the error.
  using Stage = std::function<Status(const char* data, std::size_t size)>;

  explicit ChunkPipeline(std::vector<Stage> stages, ChunkPipelineOptions options = {});
  // Waits for the stages to finish what they were given.
  ~ChunkPipeline();
  ChunkPipeline(const ChunkPipeline&) = delete;
  ChunkPipeline& operator=(const ChunkPipeline&) = delete;

  // Copies `data` into the pool. Returns the first stage's error, once one
  // has failed (the bytes are then dropped).
  Status Append(const char* data, std::size_t size);

  // Hands on the chunk being filled and waits until every stage has taken
  // every byte appended; the first stage error, if any.
  Status Drain();

 private:
  struct AlignedFree {
    void operator()(char* p) const;
  };
  struct Chunk {
    std::unique_ptr<char, AlignedFree> bytes;
    std::size_t used = 0;
  };

  void Submit(std::size_t bytes);  // hands on the first `bytes` of the current chunk
  void RunStage(std::size_t stage);
  std::uint64_t SlowestDone() const;  // under mutex_
  Status FirstError();

  const ChunkPipelineOptions options_;
  const std::vector<Stage> stages_;
  std::vector<Chunk> chunks_;
  // The producer's: the chunk being filled is chunks_[submitted_ % size]
  // (submitted_ read without the lock: only the producer writes it).
  std::chrono::steady_clock::time_point first_byte_at_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t submitted_ = 0;          // chunks handed on so far
  std::vector<std::uint64_t> done_;      // per stage: chunks it has taken
  std::vector<bool> failed_;             // per stage
  std::optional<Error> error_;           // the first stage's failure
  std::atomic<bool> any_failed_{false};  // error_ is set; read without the lock
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace vmc

#endif  // VMC_COMMON_CHUNK_PIPELINE_H_
