#include "catcher/events.h"

#include <fcntl.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "common/atomic_file.h"  // SystemError
#include "common/identifier.h"   // NewUuid
#include "common/json_reader.h"  // QuoteUntrusted
#include "common/log.h"
#include "common/safe_dir.h"
#include "common/subprocess.h"
#include "common/unique_fd.h"

namespace vmc::catcher {
namespace {

constexpr char kPrefix[] = "VMCATCHER_EVENT_";

void Put(Event& e, const std::string& name, std::string value) {
  // Environment values are C strings: text after a NUL cannot be passed.
  const auto nul = value.find('\0');
  if (nul != std::string::npos) value.resize(nul);
  e.variables[name] = std::move(value);
}

void PutDirs(Event& e, const CacheLayout& layout) {
  Put(e, "VMCATCHER_CACHE_DIR_CACHE", layout.cache.string());
  Put(e, "VMCATCHER_CACHE_DIR_DOWNLOAD", layout.partial.string());
  Put(e, "VMCATCHER_CACHE_DIR_EXPIRE", layout.expired.string());
}

// A variable of ours that a handler is not given even when it inherits our
// environment: vmcatcher's and catcher's own (one set by whoever started us
// would pass for this event's, and one event's must never reach the next),
// and systemd's to the service itself (a handler's stderr is not the
// journal, and its notifications are not the service's).
bool Withheld(std::string_view name) {
  if (name.starts_with("VMCATCHER_") || name.starts_with("CATCHER_")) return true;
  constexpr std::array<std::string_view, 7> kService = {
      "NOTIFY_SOCKET",  "JOURNAL_STREAM", "LISTEN_FDS",   "LISTEN_PID",
      "LISTEN_FDNAMES", "WATCHDOG_PID",   "WATCHDOG_USEC"};
  return std::ranges::find(kService, name) != kService.end();
}

// Ours, but what Withheld keeps back.
std::vector<std::string> InheritedEnvironment() {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text = *entry;
    if (!Withheld(text.substr(0, text.find('=')))) env.emplace_back(text);
  }
  return env;
}

// PATH, HOME, LANG, LC_ALL and TZ of ours.
std::vector<std::string> CleanEnvironment() {
  std::vector<std::string> env;
  for (const char* keep : {"PATH", "HOME", "LANG", "LC_ALL", "TZ"}) {
    const char* value = std::getenv(keep);
    if (value != nullptr) env.push_back(std::string(keep) + "=" + value);
  }
  return env;
}

// One identifier for every event of this process, as vmcatcher sets
// VMCATCHER_EVENT_UUID_SESSION once per run: a handler tells the events of
// one run from those of the next.
const std::string& SessionUuid() {
  static const std::string kUuid = [] {
    auto made = NewUuid();
    return made.ok() ? *made : std::string();
  }();
  return kUuid;
}

// The environment: ours (all but what is withheld, or only a few), the
// event's variables capped, the names of those cut, the session and the
// metadata file.
std::vector<std::string> Environment(const Event& event, EventEnvironment from,
                                     const std::string& metadata_file) {
  std::vector<std::string> env =
      from == EventEnvironment::kInherit ? InheritedEnvironment() : CleanEnvironment();
  if (std::getenv("PATH") == nullptr) env.emplace_back("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
  if (!SessionUuid().empty()) env.push_back("VMCATCHER_EVENT_UUID_SESSION=" + SessionUuid());
  std::string truncated;
  for (const auto& [name, value] : event.variables) {
    std::string capped = CapValue(value);
    if (capped.size() != value.size()) truncated += (truncated.empty() ? "" : " ") + name;
    env.emplace_back(name).append("=").append(capped);
  }
  if (!truncated.empty()) env.push_back("CATCHER_EVENT_TRUNCATED=" + truncated);
  if (!metadata_file.empty()) env.push_back("CATCHER_EVENT_METADATA_FILE=" + metadata_file);
  return env;
}

// Every variable of `event`, whole, as one JSON object.
std::string MetadataJson(const Event& event) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  for (const auto& [name, value] : event.variables) {
    w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

// The metadata file of one handler run, removed when it goes out of scope.
class MetadataFile {
 public:
  // Writes `json` to a new file (0600) in `dir` (created 0700, never
  // through a link, refused when others may read or write it).
  static Result<MetadataFile> Write(const std::filesystem::path& dir, const std::string& json) {
    static std::atomic<unsigned long> counter{0};
    VMC_ASSIGN_OR_RETURN(SafeDir parent, SafeDir::Open(dir.parent_path()));
    VMC_ASSIGN_OR_RETURN(SafeDir own, parent.Sub(dir.filename().string(), 0700));
    VMC_RETURN_IF_ERROR(RequireOwnOnly(own));
    const std::string name =
        "event-" + std::to_string(getpid()) + "-" + std::to_string(counter.fetch_add(1)) + ".json";
    VMC_ASSIGN_OR_RETURN(const UniqueFd fd,
                         own.OpenFile(name, O_WRONLY | O_CREAT | O_EXCL, 0600, true));
    MetadataFile file(std::move(own), name);
    std::string_view rest = json;
    while (!rest.empty()) {
      const ssize_t n = write(fd.get(), rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return SystemError("write", file.path(), errno);
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    return file;
  }

  MetadataFile(MetadataFile&& other) noexcept
      : dir_(std::exchange(other.dir_, std::nullopt)), name_(std::move(other.name_)) {}
  MetadataFile& operator=(MetadataFile&&) = delete;
  ~MetadataFile() {
    if (dir_) (void)dir_->Unlink(name_);
  }

  std::filesystem::path path() const { return dir_->PathOf(name_); }

 private:
  MetadataFile(SafeDir dir, std::string name) : dir_(std::move(dir)), name_(std::move(name)) {}

  // The metadata may quote what the admin's policy keeps to itself: no one
  // but catcher's user may list or read the directory.
  static Status RequireOwnOnly(const SafeDir& dir) {
    VMC_RETURN_IF_ERROR(dir.RequirePrivate());
    struct stat st {};
    if (fstat(dir.fd(), &st) != 0) return SystemError("stat", dir.path(), errno);
    if ((st.st_mode & 077) == 0) return Ok();
    return UnsafePathError(dir.path(), "open to others (its mode is not 0700)");
  }

  std::optional<SafeDir> dir_;
  std::string name_;
};

}  // namespace

std::string CapValue(std::string_view value, std::size_t max) {
  if (value.size() <= max) return std::string(value);
  std::size_t keep = max - kTruncatedMarker.size();
  // Back to the first byte of a character (continuation bytes are 10xxxxxx).
  while (keep > 0 && (static_cast<unsigned char>(value[keep]) & 0xc0) == 0x80) --keep;
  std::string out(value.substr(0, keep));
  out += kTruncatedMarker;
  return out;
}

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
                 std::string_view filename, const CacheLayout& layout) {
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
  PutDirs(e, layout);
  return e;
}

Result<EventRunner> MakeEventRunner(const Settings& settings) {
  // <state>/events/: the handlers' metadata files.
  const std::filesystem::path metadata_dir = settings.state_dir / "events";
  if (settings.event_command.empty()) return EventRunner({}, settings.event_timeout, metadata_dir);
  VMC_ASSIGN_OR_RETURN(auto argv, SplitCommandLine(settings.event_command));
  // Checked now, before any work: at its first event it would be too late
  // for the images already announced to nobody.
  if (FindProgram(argv[0]).empty()) {
    const bool path = argv[0].find('/') != std::string::npos;
    const char* search = std::getenv("PATH");
    return Error(ErrorCode::kConfigInvalid,
                 "event-command: " + QuoteUntrusted(argv[0]) +
                     (path ? " is not an executable file"
                           : " is not an executable file in any directory of PATH (" +
                                 std::string(search != nullptr ? search : "/usr/bin:/bin") + ")"))
        .With("key", "event-command");
  }
  return EventRunner(std::move(argv), settings.event_timeout, metadata_dir,
                     settings.event_environment);
}

Event ProcessEvent(std::string_view type, const CacheLayout& layout) {
  Event e;
  e.type = std::string(type);
  Put(e, std::string(kPrefix) + "TYPE", e.type);
  PutDirs(e, layout);
  return e;
}

EventRunner::EventRunner(std::vector<std::string> argv, std::chrono::seconds timeout,
                         std::filesystem::path metadata_dir, EventEnvironment environment)
    : argv_(std::move(argv)),
      timeout_(timeout),
      metadata_dir_(std::move(metadata_dir)),
      environment_(environment) {}

Status EventRunner::Run(const Event& event) const {
  if (argv_.empty()) return Ok();
  const std::string what = "event handler " + argv_[0] + " for " + event.type;
  auto metadata = MetadataFile::Write(metadata_dir_, MetadataJson(event));
  if (!metadata.ok()) {
    return std::move(metadata).error().Prefix("cannot run " + what + ": metadata file: ");
  }
  SubprocessOptions child;
  child.argv = argv_;
  child.environment = Environment(event, environment_, metadata->path().string());
  child.timeout = timeout_;
  auto ran = RunSubprocess(child);
  if (!ran.ok()) return std::move(ran).error().Prefix("cannot run " + what + ": ");
  if (ran->Succeeded()) {
    LogInfo(what + " exited 0");
    return Ok();
  }
  const std::string how =
      ran->timed_out ? "timed out: it " + ran->Describe(timeout_) : ran->Describe(timeout_);
  return Error(ErrorCode::kIo, what + " " + how);
}

}  // namespace vmc::catcher
