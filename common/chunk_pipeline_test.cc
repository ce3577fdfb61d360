// ChunkPipeline: every stage sees every byte once, in order, in aligned
// chunks, on its own thread; a slow transfer still moves; a failing stage
// stops the producer without a hang.
#include "common/chunk_pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/digest.h"

namespace vmc {
namespace {

using namespace std::chrono_literals;

// Deterministic bytes that are not a repeating pattern.
std::string RandomBytes(std::size_t n, unsigned seed) {
  std::mt19937 random(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(random() & 0xff);
  return out;
}

// What one stage saw: the bytes, and every chunk's address and size.
struct Seen {
  std::string bytes;
  std::vector<std::pair<std::uintptr_t, std::size_t>> chunks;
  std::thread::id thread;
  bool one_thread = true;
};

ChunkPipeline::Stage Recorder(Seen& seen) {
  return [&seen](const char* data, std::size_t size) {
    if (seen.chunks.empty()) seen.thread = std::this_thread::get_id();
    seen.one_thread = seen.one_thread && seen.thread == std::this_thread::get_id();
    seen.bytes.append(data, size);
    seen.chunks.emplace_back(reinterpret_cast<std::uintptr_t>(data), size);
    return Ok();
  };
}

void Feed(ChunkPipeline& pipeline, const std::string& data, std::size_t piece) {
  for (std::size_t at = 0; at < data.size(); at += piece) {
    ASSERT_TRUE(pipeline.Append(data.data() + at, std::min(piece, data.size() - at)).ok());
  }
}

TEST(ChunkPipelineTest, EveryStageSeesEveryByteInOrderInAlignedChunks) {
  for (const std::size_t chunk_bytes :
       {std::size_t{4096}, std::size_t{3 * 4096}, std::size_t{1} << 20}) {
    const std::string data =
        RandomBytes(std::min<std::size_t>(chunk_bytes * 40, 3'000'000) + 17, 1);
    for (const std::size_t piece : {std::size_t{1}, std::size_t{4095}, std::size_t{4096},
                                    std::size_t{16384 + 29}, data.size()}) {
      if (piece == 1 && chunk_bytes > 4096) continue;  // slow, and covered by the small chunks
      SCOPED_TRACE("chunks of " + std::to_string(chunk_bytes) + ", pieces of " +
                   std::to_string(piece));
      Seen hash_seen;
      Seen file_seen;
      Sha512 sha;
      ChunkPipeline pipeline({Recorder(hash_seen), Recorder(file_seen),
                              [&sha](const char* d, std::size_t n) {
                                sha.Update(d, n);
                                return Ok();
                              }},
                             {.chunk_bytes = chunk_bytes, .chunks = 3, .max_hold = 1h});
      Feed(pipeline, data, piece);
      ASSERT_TRUE(pipeline.Drain().ok());
      EXPECT_EQ(*sha.FinishHex(), *Sha512Hex(data));
      for (const Seen* seen : {&hash_seen, &file_seen}) {
        EXPECT_EQ(seen->bytes, data);
        EXPECT_TRUE(seen->one_thread);
        EXPECT_NE(seen->thread, std::this_thread::get_id());
        ASSERT_FALSE(seen->chunks.empty());
        for (std::size_t i = 0; i < seen->chunks.size(); ++i) {
          EXPECT_EQ(seen->chunks[i].first % 4096, 0u) << "chunk " << i;
          if (i + 1 < seen->chunks.size()) {
            EXPECT_EQ(seen->chunks[i].second, chunk_bytes) << i;
          }
        }
      }
      // The two stages run on threads of their own.
      EXPECT_NE(hash_seen.thread, file_seen.thread);
    }
  }
}

TEST(ChunkPipelineTest, DrainWithNothingAppendedAndAfterDrain) {
  Seen seen;
  ChunkPipeline pipeline({Recorder(seen)});
  EXPECT_TRUE(pipeline.Drain().ok());
  EXPECT_TRUE(seen.chunks.empty());
  EXPECT_TRUE(pipeline.Append("abc", 3).ok());
  EXPECT_TRUE(pipeline.Drain().ok());
  EXPECT_TRUE(pipeline.Drain().ok());
  // After a Drain the producer may read what the stage wrote, and go on.
  EXPECT_EQ(seen.bytes, "abc");
  EXPECT_TRUE(pipeline.Append("de", 2).ok());
  EXPECT_TRUE(pipeline.Drain().ok());
  EXPECT_EQ(seen.bytes, "abcde");
}

// The producer goes on while a stage is busy: it blocks only once every
// chunk waits. A pipeline that ran its stages in Append would hang here.
TEST(ChunkPipelineTest, ProducerRunsAheadOfABusyStageUpToThePool) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> entered{0};
  ChunkPipeline pipeline({[&](const char*, std::size_t) {
                           ++entered;
                           released.wait();
                           return Ok();
                         }},
                         {.chunk_bytes = 4096, .chunks = 4, .max_hold = 1h});
  const std::string chunk(4096, 'x');
  auto producer = std::async(std::launch::async, [&] {
    // Three chunks are handed on; the fourth is the one being filled.
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(pipeline.Append(chunk.data(), chunk.size()).ok());
  });
  EXPECT_EQ(producer.wait_for(10s), std::future_status::ready);
  // The stage's thread may not have taken its first chunk yet; once it has,
  // it holds it: the producer got ahead without it.
  for (int i = 0; i < 1000 && entered.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(entered.load(), 1);
  release.set_value();
  producer.get();
  EXPECT_TRUE(pipeline.Drain().ok());
  EXPECT_EQ(entered.load(), 3);
}

// A slow transfer: bytes older than max_hold are handed on at the next
// Append (the aligned part), not only when a chunk fills.
TEST(ChunkPipelineTest, SlowTransferIsHandedOnWithinTheHoldTime) {
  std::mutex mutex;
  std::string got;
  ChunkPipeline pipeline({[&](const char* d, std::size_t n) {
                           std::lock_guard lock(mutex);
                           got.append(d, n);
                           return Ok();
                         }},
                         {.chunk_bytes = 1 << 20, .chunks = 2, .max_hold = 20ms});
  const std::string data = RandomBytes(3 * 4096 + 100, 5);
  ASSERT_TRUE(pipeline.Append(data.data(), 5000).ok());
  std::this_thread::sleep_for(40ms);
  ASSERT_TRUE(pipeline.Append(data.data() + 5000, 10).ok());
  // 5010 bytes held: the first 4096 go on, the tail stays for the next chunk.
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mutex);
      if (!got.empty()) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(got, data.substr(0, 4096));
  }
  ASSERT_TRUE(pipeline.Append(data.data() + 5010, data.size() - 5010).ok());
  ASSERT_TRUE(pipeline.Drain().ok());
  EXPECT_EQ(got, data);
}

TEST(ChunkPipelineTest, FailingStageStopsTheProducerAndTheOtherStagesFinish) {
  int calls = 0;
  Seen other;
  ChunkPipeline pipeline({[&](const char*, std::size_t) -> Status {
                            if (++calls == 2)
                              return Error(ErrorCode::kDiskFull, "disk full at chunk 2");
                            return Ok();
                          },
                          Recorder(other)},
                         {.chunk_bytes = 4096, .chunks = 2, .max_hold = 1h});
  const std::string chunk(4096, 'y');
  Status status = Ok();
  int appended = 0;
  // The error reaches the producer within a pool's worth of chunks.
  for (; appended < 100 && status.ok(); ++appended)
    status = pipeline.Append(chunk.data(), chunk.size());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kDiskFull);
  EXPECT_LE(appended, 5);
  const Status drained = pipeline.Drain();
  ASSERT_FALSE(drained.ok());
  EXPECT_EQ(drained.error().message(), "disk full at chunk 2");
  EXPECT_EQ(calls, 2);  // the failed stage sees no further chunk
  EXPECT_FALSE(pipeline.Append("z", 1).ok());
}

// The destructor must not hang or crash with work still queued.
TEST(ChunkPipelineTest, DestroyedWithWorkPending) {
  const std::string data = RandomBytes(200'000, 4);
  for (int i = 0; i < 20; ++i) {
    std::atomic<std::size_t> bytes{0};
    {
      ChunkPipeline pipeline({[&](const char*, std::size_t n) {
                               bytes += n;
                               return Ok();
                             }},
                             {.chunk_bytes = 4096, .chunks = 2, .max_hold = 1h});
      Feed(pipeline, data, 5000);
    }
    // What was handed on was taken; the chunk being filled was not.
    EXPECT_EQ(bytes.load(), data.size() / 4096 * 4096);
  }
}

}  // namespace
}  // namespace vmc
