// A child process run from an argv, never through a shell: the event
// handlers (catcher/events.h) and qemu-img (catcher/qemu_img.h) go through it.
//
// The child gets stdin from /dev/null, stdout and stderr either as ours or
// as pipes read into the result (bounded), no other descriptor, its own
// process group (a timeout kills its children too), default signal
// dispositions and an empty signal mask (the daemon blocks SIGTERM, SIGINT
// and SIGHUP in every thread and takes them with sigwait; a child must not
// inherit that), and exactly the environment given.
//
// Thread-safety: RunSubprocess may be called from several threads.
#ifndef VMC_COMMON_SUBPROCESS_H_
#define VMC_COMMON_SUBPROCESS_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace vmc {

struct SubprocessOptions {
  // argv[0] is looked up in our PATH when it holds no '/' (posix_spawnp).
  std::vector<std::string> argv;
  // "NAME=value" strings: the child's whole environment.
  std::vector<std::string> environment;
  // Past it the child's process group is killed (SIGKILL).
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  // Nice 19 and the idle I/O class: a conversion of a large image must not
  // take the cores and the disk from the cloud it serves.
  bool low_priority = false;
  // Read stdout and stderr into the result instead of passing ours on.
  bool capture = false;
  // The most bytes kept of each captured stream; the rest is read and
  // dropped (so that the child never blocks on a full pipe).
  std::size_t max_captured = std::size_t{1} << 20;
  // The child is killed (SIGKILL) when this process dies, even of SIGKILL,
  // which no cleanup of ours survives: it runs under util-linux's setpriv
  // (Essential in Debian), which sets PR_SET_PDEATHSIG and executes it.
  // (posix_spawn cannot set it; the signal follows the thread that spawned
  // the child, which RunSubprocess keeps waiting until the child is gone.)
  bool die_with_parent = false;
  // When set (the process is stopping), the child's process group is killed
  // within 100 ms: a conversion may take an hour, a stop must not.
  const std::atomic<bool>* cancel = nullptr;
};

struct SubprocessResult {
  std::optional<int> exit_status;  // when it exited
  std::optional<int> signal;       // when a signal ended it
  bool timed_out = false;          // killed at the timeout
  bool cancelled = false;          // killed because `cancel` was set
  std::string out;                 // captured stdout (capture only)
  std::string err;                 // captured stderr (capture only)
  bool out_truncated = false;      // more than max_captured was written
  bool err_truncated = false;

  bool Succeeded() const { return !timed_out && !cancelled && exit_status == 0; }
  // "exited 3", "was killed by signal 9", "did not finish within 60 s and
  // was killed", "was stopped: the process is stopping".
  std::string Describe(std::chrono::milliseconds timeout) const;
};

// The file RunSubprocess would run as argv[0] = `name`: `name` itself when it
// holds a '/', else the first executable regular file of that name in a
// directory of our PATH (absolute directories only; /usr/bin:/bin when PATH
// is unset). Empty when there is none: a command is checked when it is
// configured, not when it first runs.
std::filesystem::path FindProgram(std::string_view name);

// Runs the child and waits for it (at most the timeout). An Error (kIo) only
// when it could not be started or waited for; how it ended is the result's.
Result<SubprocessResult> RunSubprocess(const SubprocessOptions& options);

}  // namespace vmc

#endif  // VMC_COMMON_SUBPROCESS_H_
