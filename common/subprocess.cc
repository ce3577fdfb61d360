#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>

#include "common/unique_fd.h"

namespace vmc {
namespace {

using Clock = std::chrono::steady_clock;

// posix_spawn's attributes and file actions, destroyed with the value.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attr() { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_{};
  posix_spawnattr_t attr_{};
};

// A pipe whose read end stays with us (close-on-exec) and whose write end
// becomes the child's `target` descriptor.
struct CapturePipe {
  UniqueFd read{-1};
  UniqueFd write{-1};
};

Result<CapturePipe> MakePipe() {
  std::array<int, 2> fds{};
  if (pipe2(fds.data(), O_CLOEXEC) != 0) {
    return Error(ErrorCode::kIo, "cannot make a pipe: " + ErrnoText(errno));
  }
  return CapturePipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

int SetUpDescriptors(posix_spawn_file_actions_t* actions, const CapturePipe* out,
                     const CapturePipe* err) {
  int rc = posix_spawn_file_actions_addopen(actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (rc == 0 && out != nullptr) {
    rc = posix_spawn_file_actions_adddup2(actions, out->write.get(), STDOUT_FILENO);
  }
  if (rc == 0 && err != nullptr) {
    rc = posix_spawn_file_actions_adddup2(actions, err->write.get(), STDERR_FILENO);
  }
  // Every descriptor above stderr goes, whether or not it was opened
  // close-on-exec (a library's may not be): glibc 2.34 and later.
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(actions, STDERR_FILENO + 1);
  return rc;
}

void SetUpAttributes(posix_spawnattr_t* attr) {
  posix_spawnattr_setflags(attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(attr, 0);
  sigset_t unblocked;
  sigemptyset(&unblocked);
  posix_spawnattr_setsigmask(attr, &unblocked);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(attr, &defaults);
}

// posix_spawn cannot lower a child's priority, so it is lowered right after
// the spawn. Threads the child starts later inherit both settings from its
// main thread; one started in the first microseconds would not, and does
// none of the heavy work.
void LowerPriority(pid_t pid) {
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(pid), 19);
  constexpr int kIoprioWhoProcess = 1;
  constexpr int kIoprioClassIdle = 3;
  constexpr int kIoprioClassShift = 13;
  (void)syscall(SYS_ioprio_set, kIoprioWhoProcess, pid, kIoprioClassIdle << kIoprioClassShift);
}

std::vector<char*> Pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Reads what is there; false at end of file or on an error.
bool Drain(int fd, std::string& into, bool& truncated, std::size_t max) {
  std::array<char, 65536> buffer{};
  for (;;) {
    const ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    if (n <= 0) return false;
    const auto got = static_cast<std::size_t>(n);
    const std::size_t room = into.size() < max ? max - into.size() : 0;
    into.append(buffer.data(), std::min(room, got));
    if (got > room) truncated = true;
    if (got < buffer.size()) return true;
  }
}

void Record(int status, SubprocessResult& result) {
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
}

// How often a child is looked at when nothing else wakes the wait: `cancel`
// is a flag, not a descriptor poll could watch.
constexpr std::int64_t kCancelCheckMs = 100;

// Waits for `pid` while reading the pipes; kills its group at `deadline`,
// or once `cancel` is set.
Status Wait(pid_t pid, CapturePipe* out, CapturePipe* err, Clock::time_point deadline,
            const std::atomic<bool>* cancel, std::size_t max, SubprocessResult& result) {
  const UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  bool exited = false;
  int status = 0;
  // Kills the child's group and reaps the child. True when the child itself
  // was killed: one that had exited by itself did not time out nor was
  // stopped; what is killed then is what it left holding its pipes.
  const auto kill_group = [&] {
    kill(-pid, SIGKILL);
    if (!exited) waitpid(pid, &status, 0);
    return !exited;
  };
  // An error of ours never leaves the child running, nor unreaped.
  const auto abandon = [&](const char* call) -> Status {
    const int saved = errno;
    kill_group();
    return Error(ErrorCode::kIo, std::string(call) + ": " + ErrnoText(saved));
  };
  for (;;) {
    std::vector<pollfd> fds;
    if (pidfd.get() >= 0 && !exited) fds.push_back({pidfd.get(), POLLIN, 0});
    if (out != nullptr && out->read.get() >= 0) fds.push_back({out->read.get(), POLLIN, 0});
    if (err != nullptr && err->read.get() >= 0) fds.push_back({err->read.get(), POLLIN, 0});
    if (!exited) {
      const pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid) exited = true;
      if (r < 0 && errno != EINTR) return abandon("waitpid");
    }
    const bool pipes_open =
        (out != nullptr && out->read.get() >= 0) || (err != nullptr && err->read.get() >= 0);
    if (exited && !pipes_open) break;
    if (cancel != nullptr && cancel->load()) {
      result.cancelled = kill_group();
      break;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      result.timed_out = kill_group();
      break;
    }
    // At most a minute per poll: poll takes an int of milliseconds, and a
    // conversion's timeout may be days. Without a pidfd (an old kernel) the
    // child is polled for every 20 ms.
    const std::int64_t most = cancel != nullptr ? kCancelCheckMs : 60'000;
    const int wait_ms = pidfd.get() >= 0 || exited
                            ? static_cast<int>(std::min<std::int64_t>(left.count(), most))
                            : 20;
    if (fds.empty()) {
      poll(nullptr, 0, std::min(wait_ms, 20));
      continue;
    }
    if (poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) return abandon("poll");
    for (const pollfd& p : fds) {
      if (p.revents == 0) continue;
      if (out != nullptr && p.fd == out->read.get() &&
          !Drain(p.fd, result.out, result.out_truncated, max)) {
        out->read = UniqueFd(-1);
      }
      if (err != nullptr && p.fd == err->read.get() &&
          !Drain(p.fd, result.err, result.err_truncated, max)) {
        err->read = UniqueFd(-1);
      }
    }
  }
  Record(status, result);
  return Ok();
}

}  // namespace

std::filesystem::path FindProgram(std::string_view name) {
  namespace fs = std::filesystem;
  const auto runnable = [](const fs::path& file) {
    std::error_code ec;
    return fs::is_regular_file(file, ec) && access(file.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string_view::npos) {
    return runnable(fs::path(name)) ? fs::path(name) : fs::path();
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr && *path != '\0' ? path : "/usr/bin:/bin";
  while (!dirs.empty() && !name.empty()) {
    const auto colon = dirs.find(':');
    fs::path candidate = fs::path(dirs.substr(0, colon)) / name;
    if (candidate.is_absolute() && runnable(candidate)) return candidate;
    dirs = colon == std::string_view::npos ? "" : dirs.substr(colon + 1);
  }
  return {};
}

std::string SubprocessResult::Describe(std::chrono::milliseconds timeout) const {
  if (timed_out) {
    const auto seconds = std::chrono::duration_cast<std::chrono::duration<double>>(timeout);
    std::string s = std::to_string(seconds.count());
    s.erase(s.find_last_not_of('0') + 1);
    if (s.ends_with('.')) s.pop_back();
    return "did not finish within " + s + " s and was killed";
  }
  if (cancelled) return "was stopped: the process is stopping";
  if (exit_status) return "exited " + std::to_string(*exit_status);
  if (signal) return "was killed by signal " + std::to_string(*signal);
  return "ended in an unknown way";
}

Result<SubprocessResult> RunSubprocess(const SubprocessOptions& options) {
  if (options.argv.empty()) return Error(ErrorCode::kUsage, "no program to run");
  std::optional<CapturePipe> out;
  std::optional<CapturePipe> err;
  if (options.capture) {
    VMC_ASSIGN_OR_RETURN(out, MakePipe());
    VMC_ASSIGN_OR_RETURN(err, MakePipe());
  }
  SpawnSetup setup;
  const int actions_rc =
      SetUpDescriptors(setup.actions(), out ? &*out : nullptr, err ? &*err : nullptr);
  if (actions_rc != 0) return Error(ErrorCode::kIo, "cannot set up " + ErrnoText(actions_rc));
  SetUpAttributes(setup.attr());
  std::vector<std::string> args = options.argv;
  if (options.die_with_parent) {
    args.insert(args.begin(), {"/usr/bin/setpriv", "--pdeathsig", "KILL", "--"});
  }
  const auto argv = Pointers(args);
  const auto envp = Pointers(options.environment);
  const std::string& program = args[0];
  pid_t pid = -1;
  const auto start = Clock::now();
  const int rc =
      posix_spawnp(&pid, program.c_str(), setup.actions(), setup.attr(), argv.data(), envp.data());
  if (rc != 0) return Error(ErrorCode::kIo, "cannot start " + program + ": " + ErrnoText(rc));
  if (options.low_priority) LowerPriority(pid);
  // Our copies of the write ends go, so that the child's exit is EOF.
  if (out) out->write = UniqueFd(-1);
  if (err) err->write = UniqueFd(-1);
  for (auto* p : {out ? &*out : nullptr, err ? &*err : nullptr}) {
    if (p != nullptr) fcntl(p->read.get(), F_SETFL, O_NONBLOCK);
  }
  SubprocessResult result;
  VMC_RETURN_IF_ERROR(Wait(pid, out ? &*out : nullptr, err ? &*err : nullptr,
                           start + options.timeout, options.cancel, options.max_captured, result));
  return result;
}

}  // namespace vmc
