// A fixed set of threads that run submitted tasks while their submitter goes
// on: the cycle's update verifies the lists it has fetched on them while it
// fetches the next (catcher/update.h, UnchangedLists::kVerifyInFull).
//
// Thread-safety: Submit and Finish are called by one thread, the owner. The
// tasks run on the pool's threads, in no particular order; what they share
// they must guard themselves.
#ifndef VMC_COMMON_WORKER_POOL_H_
#define VMC_COMMON_WORKER_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace vmc {

class WorkerPool {
 public:
  // Starts `threads` threads; none (0) runs each task within Submit.
  explicit WorkerPool(std::size_t threads);
  // The cores the calling thread may run on (its affinity mask): a pool of
  // that many keeps them busy.
  static std::size_t Cores();
  // Finish().
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`. A task must not throw. REQUIRES: Finish() not called.
  void Submit(std::function<void()> task);

  // Returns once every submitted task has run, and stops the threads.
  void Finish();

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool finishing_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace vmc

#endif  // VMC_COMMON_WORKER_POOL_H_
