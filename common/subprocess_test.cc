#include "common/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "common/unique_fd.h"

namespace vmc {
namespace {

using std::chrono::milliseconds;

SubprocessOptions Shell(const std::string& script) {
  SubprocessOptions o;
  o.argv = {"/bin/sh", "-c", script};
  o.environment = {"PATH=/usr/bin:/bin"};
  o.capture = true;
  o.timeout = std::chrono::seconds(20);
  return o;
}

SubprocessResult RunChild(const SubprocessOptions& o) {
  auto r = RunSubprocess(o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
  return r.ok() ? std::move(r).value() : SubprocessResult{};
}

TEST(SubprocessTest, CapturesBothStreamsAndTheExitStatus) {
  const auto r = RunChild(Shell("echo out; echo err >&2; exit 3"));
  EXPECT_EQ(r.exit_status, 3);
  EXPECT_FALSE(r.Succeeded());
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.Describe(milliseconds(1000)), "exited 3");
}

TEST(SubprocessTest, TheEnvironmentIsExactlyTheOneGiven) {
  setenv("VMC_SUBPROCESS_TEST_SECRET", "leak", 1);
  auto o = Shell("env");
  o.environment.emplace_back("ONLY=this");
  const auto r = RunChild(o);
  unsetenv("VMC_SUBPROCESS_TEST_SECRET");
  EXPECT_TRUE(r.Succeeded());
  EXPECT_EQ(r.out.find("VMC_SUBPROCESS_TEST_SECRET"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ONLY=this\n"), std::string::npos) << r.out;
}

TEST(SubprocessTest, StdinIsEmptyAndNoOtherDescriptorIsInherited) {
  // Opened without O_CLOEXEC: only closefrom keeps it from the child.
  const UniqueFd leaked(open("/dev/null", O_RDONLY));
  ASSERT_GE(leaked.get(), 3);
  const std::string fd = std::to_string(leaked.get());
  const auto r =
      RunChild(Shell("cat; if [ -e /proc/self/fd/" + fd + " ]; then echo leaked; fi; echo end"));
  EXPECT_TRUE(r.Succeeded());
  EXPECT_EQ(r.out, "end\n");
}

TEST(SubprocessTest, ATimeoutKillsTheWholeProcessGroup) {
  auto o = Shell("sleep 30 & echo $!; wait");
  o.timeout = milliseconds(500);
  const auto start = std::chrono::steady_clock::now();
  const auto r = RunChild(o);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.Succeeded());
  EXPECT_EQ(r.Describe(o.timeout), "did not finish within 0.5 s and was killed");
  // The shell's child is gone too (reaped by init, or a zombie on its way).
  const pid_t grandchild = std::stoi(r.out);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
    std::string pid, comm, state;
    gone = !(stat >> pid >> comm >> state) || state == "Z";
    if (!gone) std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_TRUE(gone) << "sleep " << grandchild << " survived the timeout";
}

TEST(SubprocessTest, ACancelKillsTheWholeProcessGroupAtOnce) {
  auto o = Shell("sleep 30 & wait");
  o.timeout = std::chrono::hours(1);
  std::atomic<bool> cancel{false};
  o.cancel = &cancel;
  std::thread stopper([&] {
    std::this_thread::sleep_for(milliseconds(300));
    cancel = true;
  });
  const auto start = std::chrono::steady_clock::now();
  const auto r = RunChild(o);
  const auto took = std::chrono::steady_clock::now() - start;
  stopper.join();
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.Succeeded());
  EXPECT_EQ(r.Describe(o.timeout), "was stopped: the process is stopping");
  // Not set, the flag changes nothing.
  std::atomic<bool> never{false};
  auto quick = Shell("exit 0");
  quick.cancel = &never;
  EXPECT_TRUE(RunChild(quick).Succeeded());
}

// Whether the process `pid` is gone (or a zombie on its way), within 2 s.
bool GoneSoon(pid_t pid) {
  for (int i = 0; i < 100; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string id, comm, state;
    if (!(stat >> id >> comm >> state) || state == "Z") return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return false;
}

TEST(SubprocessTest, AChildThatMustDieWithItsParentDoesEvenOfSigkill) {
  const std::string pid_file =
      ::testing::TempDir() + "/die-with-parent-" + std::to_string(getpid());
  for (const bool die : {true, false}) {
    std::remove(pid_file.c_str());
    const pid_t parent = fork();
    ASSERT_GE(parent, 0);
    if (parent == 0) {
      std::string script = "echo $$ > ";
      script.append(pid_file).append(".new && mv ").append(pid_file).append(".new ");
      script.append(pid_file).append(" && exec sleep 30");
      auto o = Shell(script);
      o.capture = false;
      o.die_with_parent = die;
      (void)RunSubprocess(o);
      _exit(0);
    }
    pid_t child = 0;
    for (int i = 0; i < 500 && child == 0; ++i) {
      std::ifstream in(pid_file);
      if (!(in >> child)) std::this_thread::sleep_for(milliseconds(10));
    }
    ASSERT_GT(child, 0) << "the child did not start";
    kill(parent, SIGKILL);
    waitpid(parent, nullptr, 0);
    EXPECT_EQ(GoneSoon(child), die) << (die ? "survived its parent" : "died with its parent");
    kill(child, SIGKILL);
  }
  std::remove(pid_file.c_str());
}

TEST(SubprocessTest, AChildThatExitedDidNotTimeOutWhenWhatItLeftHoldsItsPipes) {
  auto o = Shell("sleep 30 & exit 0");
  o.timeout = milliseconds(500);
  const auto r = RunChild(o);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(r.Succeeded());
}

TEST(SubprocessTest, OutputBeyondTheCapIsDroppedWithoutBlockingTheChild) {
  auto o = Shell("head -c 3000000 /dev/zero; echo done >&2");
  o.max_captured = 1 << 20;
  const auto r = RunChild(o);
  EXPECT_TRUE(r.Succeeded());
  EXPECT_EQ(r.out.size(), std::size_t{1} << 20);
  EXPECT_TRUE(r.out_truncated);
  EXPECT_EQ(r.err, "done\n");
  EXPECT_FALSE(r.err_truncated);
}

TEST(SubprocessTest, ASignalIsReportedAsSuch) {
  const auto r = RunChild(Shell("kill -9 $$"));
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_FALSE(r.exit_status.has_value());
  EXPECT_EQ(r.Describe(milliseconds(1000)), "was killed by signal 9");
}

TEST(SubprocessTest, LowPriorityMeansNice19AndTheIdleIoClass) {
  // The script's children start after the parent lowered its priority.
  auto o = Shell("sleep 0.2; cut -d' ' -f19 /proc/self/stat; ionice -p $$");
  o.low_priority = true;
  const auto r = RunChild(o);
  EXPECT_TRUE(r.Succeeded()) << r.err;
  EXPECT_EQ(r.out, "19\nidle\n");
  const auto normal = RunChild(Shell("cut -d' ' -f19 /proc/self/stat"));
  EXPECT_NE(normal.out, "19\n");
}

TEST(SubprocessTest, WithoutCaptureTheChildWritesToOurStreams) {
  auto o = Shell("exit 0");
  o.capture = false;
  const auto r = RunChild(o);
  EXPECT_TRUE(r.Succeeded());
  EXPECT_TRUE(r.out.empty());
}

TEST(SubprocessTest, AProgramThatCannotBeRunIsAnError) {
  SubprocessOptions o;
  o.argv = {"/nonexistent/program"};
  const auto r = RunSubprocess(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
  EXPECT_NE(r.error().message().find("/nonexistent/program"), std::string::npos);
}

}  // namespace
}  // namespace vmc
