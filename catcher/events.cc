#include "catcher/events.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/log.h"

extern char** environ;

namespace vmc::catcher {
namespace {

constexpr char kPrefix[] = "VMCATCHER_EVENT_";

void Put(Event& e, const std::string& name, std::string value) {
  // Environment values are C strings: text after a NUL cannot be passed.
  const auto nul = value.find('\0');
  if (nul != std::string::npos) value.resize(nul);
  e.variables[name] = std::move(value);
}

void PutDirs(Event& e, const CacheDirectories& dirs) {
  Put(e, "VMCATCHER_CACHE_DIR_CACHE", dirs.cache.string());
  Put(e, "VMCATCHER_CACHE_DIR_DOWNLOAD", dirs.download.string());
  Put(e, "VMCATCHER_CACHE_DIR_EXPIRE", dirs.expire.string());
}

std::vector<std::string> Environment(const Event& event) {
  std::vector<std::string> env;
  for (const char* keep : {"PATH", "HOME", "LANG", "LC_ALL", "TZ"}) {
    const char* value = std::getenv(keep);
    if (value != nullptr) env.push_back(std::string(keep) + "=" + value);
  }
  if (std::getenv("PATH") == nullptr) env.emplace_back("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
  for (const auto& [name, value] : event.variables) env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<std::vector<std::string>> SplitCommandLine(std::string_view command) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < command.size(); ++i) {
    const char c = command[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\' && i + 1 < command.size()) {
      word += command[++i];
    } else if (c == '\'' || c == '"') {
      bool closed = false;
      for (++i; i < command.size(); ++i) {
        if (command[i] == c) {
          closed = true;
          break;
        }
        if (c == '"' && command[i] == '\\' && i + 1 < command.size() &&
            (command[i + 1] == '"' || command[i + 1] == '\\')) {
          ++i;
        }
        word += command[i];
      }
      if (!closed) {
        return Error(ErrorCode::kConfigInvalid,
                     "event command has an unterminated " + std::string(1, c) + " quote");
      }
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(std::move(word));
  if (words.empty()) return Error(ErrorCode::kConfigInvalid, "event command is empty");
  return words;
}

Event ImageEvent(std::string_view type, const ImageList& list, const Image& image,
                 std::string_view filename, const CacheDirectories& dirs) {
  Event e;
  e.type = std::string(type);
  const std::string p = kPrefix;
  Put(e, p + "TYPE", e.type);
  Put(e, p + "DC_IDENTIFIER", image.identifier());
  Put(e, p + "DC_TITLE", image.title());
  Put(e, p + "DC_DESCRIPTION", image.description());
  Put(e, p + "HV_URI", image.uri());
  Put(e, p + "HV_SIZE", std::to_string(image.size()));
  Put(e, p + "HV_VERSION", image.version());
  Put(e, p + "HV_HYPERVISOR", image.hypervisor());
  Put(e, p + "HV_FORMAT", image.format());
  Put(e, p + "SL_ARCH", image.arch());
  Put(e, p + "SL_OS", image.os());
  Put(e, p + "SL_OSVERSION", image.osversion());
  Put(e, p + "SL_COMMENTS", image.comments());
  Put(e, p + "SL_CHECKSUM_SHA512", image.sha512());
  Put(e, p + "FILENAME", std::string(filename));
  Put(e, p + "IL_DC_IDENTIFIER", list.identifier());
  Put(e, p + "AD_MPURI", image.mpuri());
  Put(e, p + "VO", image.vo());
  PutDirs(e, dirs);
  return e;
}

Event ProcessEvent(std::string_view type, const CacheDirectories& dirs) {
  Event e;
  e.type = std::string(type);
  Put(e, std::string(kPrefix) + "TYPE", e.type);
  PutDirs(e, dirs);
  return e;
}

EventRunner::EventRunner(std::vector<std::string> argv, std::chrono::seconds timeout)
    : argv_(std::move(argv)), timeout_(timeout) {}

Status EventRunner::Run(const Event& event) const {
  if (argv_.empty()) return Ok();
  std::vector<std::string> args = argv_;
  std::vector<std::string> env = Environment(event);
  auto argp = Pointers(args);
  auto envp = Pointers(env);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group, so that a timeout kills the handler's children too.
  // Default dispositions and an empty signal mask: the daemon blocks SIGTERM,
  // SIGINT and SIGHUP in every thread (it takes them with sigwait), and a
  // handler must not inherit that, or it could not be stopped by a signal.
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t unblocked;
  sigemptyset(&unblocked);
  posix_spawnattr_setsigmask(&attr, &unblocked);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGHUP);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0].c_str(), nullptr, &attr, argp.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  const std::string what = "event handler " + args[0] + " for " + event.type;
  if (rc != 0) {
    LogError("cannot run " + what + ": " + std::strerror(rc));
    return Error(ErrorCode::kIo, "cannot run " + what + ": " + std::strerror(rc));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return Error(ErrorCode::kIo, what + ": waitpid failed");
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      LogError(what + " did not finish within " + std::to_string(timeout_.count()) +
               " s and was killed");
      return Error(ErrorCode::kIo,
                   what + " timed out after " + std::to_string(timeout_.count()) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    LogInfo(what + " exited 0");
    return Ok();
  }
  const std::string how = WIFEXITED(status)
                              ? "exited " + std::to_string(WEXITSTATUS(status))
                              : "was killed by signal " + std::to_string(WTERMSIG(status));
  LogWarning(what + " " + how);
  return Error(ErrorCode::kIo, what + " " + how);
}

}  // namespace vmc::catcher
