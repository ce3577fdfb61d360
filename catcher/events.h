// Events for cloud middleware (DESIGN.md section 7), with vmcatcher's names so
// that existing handlers run unchanged: ProcessPrefix, AvailablePrefix,
// AvailablePostfix, ExpirePrefix, ExpirePostfix, ProcessPostfix,
// SubscriptionImageNew, with the image's metadata in VMCATCHER_EVENT_*
// environment variables.
//
// The command comes from the admin (--event-command or the config file). It
// is split into argv ONCE, here, by simple shell-like quoting rules and
// exec'd directly: no shell ever sees list data, which reaches the handler
// only as environment values, verbatim up to kMaxVariableBytes each (a list
// may carry a 200 KiB title; execve refuses an environment that large with
// E2BIG). A longer value is cut at a UTF-8 character boundary and ends with
// kTruncatedMarker; CATCHER_EVENT_TRUNCATED then lists the names of the cut
// variables. Every value, whole, is also in a JSON file (one object: variable
// name -> value), written 0600 into a private directory of catcher's and
// named by CATCHER_EVENT_METADATA_FILE; it is removed when the handler ends.
//
// The handler inherits no descriptor of catcher's but stdin (/dev/null),
// stdout and stderr: every other one is closed in the child before exec.
//
// Thread-safety: an EventRunner may be used from several threads.
#ifndef VMC_CATCHER_EVENTS_H_
#define VMC_CATCHER_EVENTS_H_

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "catcher/cache_layout.h"
#include "catcher/settings.h"
#include "common/error.h"
#include "common/imagelist.h"

namespace vmc::catcher {

// Splits an admin's command line into words: blanks separate words; '...'
// keeps everything literally; "..." keeps everything but \" and \\; a
// backslash outside quotes escapes the next character. No expansion of any
// kind. kConfigInvalid for an unterminated quote or an empty command.
Result<std::vector<std::string>> SplitCommandLine(std::string_view command);

struct Event {
  std::string type;  // "AvailablePostfix", ...
  // VMCATCHER_EVENT_* and VMCATCHER_CACHE_DIR_* variables.
  std::map<std::string, std::string> variables;
};

// An event about one image of a list. `filename` is the image's file name in
// its directory (VMCATCHER_EVENT_FILENAME; vmcatcher's layout names the file
// by the image identifier). The layout's directories are the handler's
// VMCATCHER_CACHE_DIR_CACHE, _DOWNLOAD (partial/) and _EXPIRE.
Event ImageEvent(std::string_view type, const ImageList& list, const Image& image,
                 std::string_view filename, const CacheLayout& layout);

// An event without an image (ProcessPrefix, ProcessPostfix).
Event ProcessEvent(std::string_view type, const CacheLayout& layout);

// The most bytes of a variable's value a handler is given in its environment.
inline constexpr std::size_t kMaxVariableBytes = 4096;
// What ends a value cut to kMaxVariableBytes (counted in them).
inline constexpr std::string_view kTruncatedMarker = "\u2026[truncated]";

// `value` cut to at most `max` bytes, at a UTF-8 character boundary, ending
// with kTruncatedMarker; `value` itself when it fits.
// REQUIRES: max >= kTruncatedMarker.size().
std::string CapValue(std::string_view value, std::size_t max = kMaxVariableBytes);

class EventRunner {
 public:
  // An empty `argv` runs nothing (no event command configured).
  // `metadata_dir` is where the metadata files go: created 0700 when missing,
  // refused (kUnsafePath) when it is a link or others can read or write it.
  EventRunner(std::vector<std::string> argv, std::chrono::seconds timeout,
              std::filesystem::path metadata_dir,
              EventEnvironment environment = EventEnvironment::kInherit);

  bool enabled() const { return !argv_.empty(); }

  // Runs the command for `event` and waits for it, at most the timeout (then
  // its process group is killed). The environment is ours (kInherit: all
  // but inherited VMCATCHER_* and CATCHER_* variables and systemd's to the
  // service; kClean: PATH, HOME, LANG, LC_ALL, TZ), plus
  // VMCATCHER_EVENT_UUID_SESSION (one per process), the event's variables
  // (capped) and CATCHER_EVENT_* (above). Returns Ok() when it exited 0 (logged at info), kIo
  // otherwise (its exit status or signal, or the timeout, in the message; or why the metadata file
  // could not be written). A failure is not logged here: the caller reports it, once.
  Status Run(const Event& event) const;

 private:
  std::vector<std::string> argv_;
  std::chrono::seconds timeout_;
  std::filesystem::path metadata_dir_;
  EventEnvironment environment_;
};

// The event runner the settings configure (none when no event command).
// kConfigInvalid when the command is not an executable file (FindProgram).
Result<EventRunner> MakeEventRunner(const Settings& settings);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_EVENTS_H_
