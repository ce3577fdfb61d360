#include "common/chunk_pipeline.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace vmc {
namespace {

std::size_t RoundUp(std::size_t value, std::size_t to) { return (value + to - 1) / to * to; }

ChunkPipelineOptions Sane(ChunkPipelineOptions o) {
  o.alignment = std::max<std::size_t>(o.alignment, 1);
  o.chunk_bytes = RoundUp(std::max(o.chunk_bytes, o.alignment), o.alignment);
  // Two at least: the unaligned tail of a chunk handed on early moves to the next.
  o.chunks = std::max<std::size_t>(o.chunks, 2);
  return o;
}

}  // namespace

void ChunkPipeline::AlignedFree::operator()(char* p) const { std::free(p); }

ChunkPipeline::ChunkPipeline(std::vector<Stage> stages, ChunkPipelineOptions options)
    : options_(Sane(options)),
      stages_(std::move(stages)),
      chunks_(options_.chunks),
      done_(stages_.size(), 0),
      failed_(stages_.size(), false) {
  for (Chunk& chunk : chunks_) {
    chunk.bytes.reset(
        static_cast<char*>(std::aligned_alloc(options_.alignment, options_.chunk_bytes)));
    if (chunk.bytes == nullptr) throw std::bad_alloc();
  }
  for (std::size_t i = 0; i < stages_.size(); ++i)
    threads_.emplace_back([this, i] { RunStage(i); });
}

ChunkPipeline::~ChunkPipeline() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  for (auto& t : threads_) t.join();
}

Status ChunkPipeline::Append(const char* data, std::size_t size) {
  while (size > 0 && !any_failed_.load(std::memory_order_relaxed)) {
    Chunk& chunk = chunks_[submitted_ % chunks_.size()];
    if (chunk.used == 0) first_byte_at_ = std::chrono::steady_clock::now();
    const std::size_t n = std::min(size, options_.chunk_bytes - chunk.used);
    std::memcpy(chunk.bytes.get() + chunk.used, data, n);
    chunk.used += n;
    data += n;
    size -= n;
    if (chunk.used == options_.chunk_bytes) {
      Submit(chunk.used);
    } else if (std::chrono::steady_clock::now() - first_byte_at_ >= options_.max_hold) {
      const std::size_t aligned = chunk.used - chunk.used % options_.alignment;
      if (aligned > 0) Submit(aligned);
    }
  }
  return FirstError();
}

void ChunkPipeline::Submit(std::size_t bytes) {
  Chunk& chunk = chunks_[submitted_ % chunks_.size()];
  const std::size_t rest = chunk.used - bytes;
  chunk.used = bytes;
  std::unique_lock lock(mutex_);
  ++submitted_;
  changed_.notify_all();
  // The next chunk is free once every stage has taken what it last held.
  changed_.wait(lock, [this] { return SlowestDone() + chunks_.size() > submitted_; });
  lock.unlock();
  Chunk& next = chunks_[submitted_ % chunks_.size()];
  // The stages read only the first `bytes` of `chunk`: its tail may be read here.
  if (rest > 0) std::memcpy(next.bytes.get(), chunk.bytes.get() + bytes, rest);
  next.used = rest;
  first_byte_at_ = std::chrono::steady_clock::now();
}

Status ChunkPipeline::Drain() {
  const Chunk& chunk = chunks_[submitted_ % chunks_.size()];
  if (chunk.used > 0) Submit(chunk.used);
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return SlowestDone() == submitted_; });
  if (error_) return *error_;
  return Ok();
}

std::uint64_t ChunkPipeline::SlowestDone() const {
  return done_.empty() ? submitted_ : *std::min_element(done_.begin(), done_.end());
}

Status ChunkPipeline::FirstError() {
  if (!any_failed_.load(std::memory_order_acquire)) return Ok();
  std::lock_guard lock(mutex_);
  return *error_;
}

void ChunkPipeline::RunStage(std::size_t stage) {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stop_ || done_[stage] < submitted_; });
    if (done_[stage] == submitted_) return;  // stopping, nothing left
    const Chunk& chunk = chunks_[done_[stage] % chunks_.size()];
    const bool skip = failed_[stage];
    lock.unlock();
    Status status = skip ? Ok() : stages_[stage](chunk.bytes.get(), chunk.used);
    lock.lock();
    if (!status.ok()) {
      failed_[stage] = true;
      if (!error_) error_ = std::move(status).error();
      any_failed_.store(true, std::memory_order_release);
    }
    ++done_[stage];
    changed_.notify_all();
  }
}

}  // namespace vmc
