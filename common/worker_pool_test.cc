#include "common/worker_pool.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace vmc
