#include "common/worker_pool.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <thread>

namespace vmc {
namespace {

TEST(WorkerPoolTest, FinishReturnsAfterEveryTaskRan) {
  std::atomic<int> ran{0};
  WorkerPool pool(2);
  for (int i = 0; i < 1000; ++i) pool.Submit([&] { ran.fetch_add(1); });
  pool.Finish();
  EXPECT_EQ(ran.load(), 1000);
}

TEST(WorkerPoolTest, TasksRunWhileTheSubmitterGoesOn) {
  WorkerPool pool(1);
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  pool.Submit([&] {
    started.set_value();
    released.wait();
  });
  // The task runs on the pool's thread before Finish: Submit did not wait
  // for it, and the submitter still can release it.
  EXPECT_EQ(started.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  release.set_value();
  pool.Finish();
}

TEST(WorkerPoolTest, TasksRunOnThePoolsThreads) {
  std::mutex mu;
  std::set<std::thread::id> seen;
  WorkerPool pool(2);
  for (int i = 0; i < 100; ++i) {
    pool.Submit([&] {
      std::lock_guard<std::mutex> lock(mu);
      seen.insert(std::this_thread::get_id());
    });
  }
  pool.Finish();
  EXPECT_FALSE(seen.empty());
  EXPECT_EQ(seen.count(std::this_thread::get_id()), 0u);
}

TEST(WorkerPoolTest, WithoutThreadsATaskRunsWithinSubmit) {
  WorkerPool pool(0);
  std::thread::id ran_on;
  pool.Submit([&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  pool.Finish();
}

TEST(WorkerPoolTest, TheDestructorFinishes) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(2);
    for (int i = 0; i < 50; ++i) pool.Submit([&] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 50);
}

// A thread confined to one CPU (taskset, systemd's CPUAffinity=) counts one
// core, whatever the machine has.
TEST(WorkerPoolTest, CoresFollowTheAffinityMask) {
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  const std::size_t confined = WorkerPool::Cores();
  ASSERT_EQ(sched_setaffinity(0, sizeof(saved), &saved), 0);
  EXPECT_EQ(confined, 1u);
  EXPECT_EQ(WorkerPool::Cores(), static_cast<std::size_t>(CPU_COUNT(&saved)));
}

}  // namespace
}  // namespace vmc
