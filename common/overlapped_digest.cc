#include "common/overlapped_digest.h"

#include <algorithm>
#include <cstring>

namespace vmc {

OverlappedSha512::OverlappedSha512(std::size_t buffer_bytes, std::size_t buffers)
    : chunks_(std::max<std::size_t>(buffers, 2)) {
  for (std::size_t i = 0; i < chunks_.size(); ++i) {
    chunks_[i].bytes.resize(std::max<std::size_t>(buffer_bytes, 1));
    if (i != 0) free_.push_back(i);
  }
  worker_ = std::thread([this] { Work(); });
}

OverlappedSha512::~OverlappedSha512() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

void OverlappedSha512::Update(const void* data, std::size_t size) {
  const char* in = static_cast<const char*>(data);
  while (size > 0) {
    Chunk& chunk = chunks_[current_];
    const std::size_t n = std::min(size, chunk.bytes.size() - chunk.used);
    std::memcpy(chunk.bytes.data() + chunk.used, in, n);
    chunk.used += n;
    in += n;
    size -= n;
    if (chunk.used == chunk.bytes.size()) Submit();
  }
}

void OverlappedSha512::Submit() {
  std::unique_lock lock(mutex_);
  ready_.push_back(current_);
  changed_.notify_all();
  changed_.wait(lock, [this] { return !free_.empty(); });
  current_ = free_.front();
  free_.pop_front();
  chunks_[current_].used = 0;
}

void OverlappedSha512::WaitIdle() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return ready_.empty() && !busy_; });
}

Result<std::string> OverlappedSha512::FinishHex() {
  Chunk& last = chunks_[current_];
  if (last.used > 0) {
    // Hashed here: the worker is idle once WaitIdle returns.
    WaitIdle();
    sha_.Update(last.bytes.data(), last.used);
    last.used = 0;
  } else {
    WaitIdle();
  }
  return sha_.FinishHex();
}

void OverlappedSha512::Reset() {
  WaitIdle();
  chunks_[current_].used = 0;
  sha_.Reset();
}

void OverlappedSha512::Work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return stop_ || !ready_.empty(); });
    if (ready_.empty()) return;  // stopping, nothing left
    const std::size_t index = ready_.front();
    ready_.pop_front();
    busy_ = true;
    lock.unlock();
    sha_.Update(chunks_[index].bytes.data(), chunks_[index].used);
    lock.lock();
    busy_ = false;
    free_.push_back(index);
    changed_.notify_all();
  }
}

}  // namespace vmc
