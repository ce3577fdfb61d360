// Runs a real program for a test, without a shell: argv is passed as is.
// Captures stdout and stderr, feeds optional stdin, enforces a timeout.
// Thread-compatible; each call owns its child.
#ifndef VMC_TEST_SUPPORT_SUBPROCESS_H_
#define VMC_TEST_SUPPORT_SUBPROCESS_H_

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vmc::test {

struct RunOptions {
  std::string stdin_data;
  // Added to (or replacing in) the inherited environment.
  std::map<std::string, std::string> env;
  // Removed from the inherited environment.
  std::vector<std::string> unset_env;
  std::optional<std::filesystem::path> cwd;
  std::chrono::seconds timeout{120};
  // The child's stderr is a pseudo-terminal (isatty(2) is true; stdin and
  // stdout stay pipes): RunResult::err is then what that terminal showed,
  // its line ends "\r\n" as a terminal's are.
  bool stderr_terminal = false;
};

struct RunResult {
  // The exit status, or 128 + signal when the child was killed.
  int exit_code = -1;
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs argv[0] (looked up in PATH when it has no slash) and waits for it.
RunResult Run(const std::vector<std::string>& argv, const RunOptions& options = {});

// Exit status, stdout and stderr, for the message of a failed expectation.
std::string Describe(const RunResult& r);

// A child left running in the background (a server). Killed with SIGTERM,
// then SIGKILL, when destroyed. Its output goes to the given log file.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::filesystem::path& log_file,
                    const RunOptions& options = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  int pid() const { return pid_; }
  // True while the child has not exited.
  bool Running();
  // Sends SIGTERM and waits (then SIGKILL after 5 s). Returns the exit code.
  int Stop();
  // Waits for the process to end by itself. Returns the exit code.
  int Wait();

 private:
  int pid_ = -1;
  std::optional<int> exit_code_;
};

}  // namespace vmc::test

#endif  // VMC_TEST_SUPPORT_SUBPROCESS_H_
