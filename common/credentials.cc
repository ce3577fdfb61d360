#include "common/credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <string_view>

#include "common/unique_fd.h"

namespace vmc {
namespace {

namespace po = boost::program_options;

// The keys a credentials file may hold. Only these names ever appear in a
// message: any other text of the file may be a secret.
constexpr std::array<std::string_view, 7> kKeys = {
    "username", "password", "token", "ssh-key", "ssh-public-key", "ssh-user", "ssh-passphrase"};

// A credentials file larger than this is not one.
constexpr off_t kMaxBytes = 64 * 1024;

Error Invalid(const std::filesystem::path& path, const std::string& why) {
  return Error(ErrorCode::kConfigInvalid, "credentials file " + path.string() + " " + why)
      .With("file", path.string());
}

Error AtLine(const std::filesystem::path& path, size_t line, const std::string& why) {
  return Invalid(path, "is invalid: line " + std::to_string(line) + " " + why)
      .With("line", std::to_string(line));
}

std::string ModeText(mode_t mode) {
  char out[8];
  std::snprintf(out, sizeof(out), "%04o", static_cast<unsigned>(mode & 07777));
  return out;
}

// The file's bytes, if it is a regular file only its owner may read.
Result<std::string> ReadPrivateFile(const std::filesystem::path& path) {
  const UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return Invalid(path, std::string("cannot be read: ") + ErrnoText(errno));
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) {
    return Invalid(path, std::string("cannot be read: ") + ErrnoText(errno));
  }
  if (!S_ISREG(st.st_mode)) return Invalid(path, "is not a regular file");
  if ((st.st_mode & 077) != 0) {
    return Invalid(path, "has mode " + ModeText(st.st_mode) +
                             ", open to group or others; it is refused until only its owner "
                             "can read it (chmod 600)")
        .With("mode", ModeText(st.st_mode));
  }
  if (st.st_size > kMaxBytes) {
    return Invalid(path, "is larger than " + std::to_string(kMaxBytes) + " bytes");
  }
  std::string bytes;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Invalid(path, std::string("cannot be read: ") + ErrnoText(errno));
    if (n == 0) break;
    bytes.append(buffer, static_cast<size_t>(n));
    if (bytes.size() > static_cast<size_t>(kMaxBytes)) {
      return Invalid(path, "is larger than " + std::to_string(kMaxBytes) + " bytes");
    }
  }
  return bytes;
}

bool IsKnownKey(std::string_view key) { return std::ranges::find(kKeys, key) != kKeys.end(); }

po::options_description KeyDescriptions() {
  po::options_description keys;
  for (const std::string_view k : kKeys) {
    keys.add_options()(std::string(k).c_str(), po::value<std::string>());
  }
  return keys;
}

// A value and the line it came from.
struct Entry {
  std::string value;
  size_t line = 0;
};
using Entries = std::map<std::string, Entry, std::less<>>;

// Reads the file line by line, each line by Boost.Program_options, so that a
// problem is reported by its line number. Boost's own messages quote the
// offending line or key, which may be a secret: they are never shown.
Result<Entries> ReadEntries(const std::filesystem::path& path, const std::string& bytes) {
  const po::options_description keys = KeyDescriptions();
  Entries entries;
  std::istringstream lines(bytes);
  std::string text;
  for (size_t line = 1; std::getline(lines, text); ++line) {
    const size_t first = text.find_first_not_of(" \t\r");
    if (first != std::string::npos && text[first] == '[') {
      return AtLine(path, line, "is a [section]; a credentials file has none");
    }
    std::istringstream one(text);
    po::parsed_options parsed(&keys);
    try {
      parsed = po::parse_config_file(one, keys, true);
    } catch (const po::error&) {
      return AtLine(path, line, "is not KEY = VALUE");
    }
    for (const po::option& option : parsed.options) {
      if (option.unregistered || !IsKnownKey(option.string_key)) {
        return AtLine(path, line,
                      "has an unknown key (known: username, password, token, "
                      "ssh-key, ssh-public-key, ssh-user, ssh-passphrase)");
      }
      if (option.value.size() != 1) return AtLine(path, line, "is not KEY = VALUE");
      const auto [it, inserted] = entries.emplace(option.string_key, Entry{option.value[0], line});
      if (!inserted) {
        return AtLine(path, line,
                      "repeats the key " + option.string_key + " (first on line " +
                          std::to_string(it->second.line) + ")");
      }
    }
  }
  return entries;
}

std::string ValueOf(const Entries& entries, std::string_view key) {
  const auto it = entries.find(key);
  return it != entries.end() ? it->second.value : std::string();
}

}  // namespace

Result<Credentials> LoadCredentials(const std::filesystem::path& path) {
  VMC_ASSIGN_OR_RETURN(const std::string bytes, ReadPrivateFile(path));
  VMC_ASSIGN_OR_RETURN(const Entries entries, ReadEntries(path, bytes));
  const auto has = [&](std::string_view key) { return entries.find(key) != entries.end(); };
  const bool basic = has("username") || has("password");
  const bool token = has("token");
  const bool ssh = has("ssh-key");
  if (static_cast<int>(basic) + static_cast<int>(token) + static_cast<int>(ssh) != 1) {
    return Invalid(path, "must hold exactly one of: username and password, token, ssh-key");
  }
  if (basic) {
    if (!has("username") || !has("password")) {
      return Invalid(path, "needs both username and password");
    }
    return Credentials{BasicAuth{ValueOf(entries, "username"), ValueOf(entries, "password")}};
  }
  if (token) {
    if (ValueOf(entries, "token").empty()) return Invalid(path, "has an empty token");
    return Credentials{BearerToken{ValueOf(entries, "token")}};
  }
  return Credentials{SshKey{ValueOf(entries, "ssh-user"), ValueOf(entries, "ssh-key"),
                            ValueOf(entries, "ssh-public-key"),
                            ValueOf(entries, "ssh-passphrase")}};
}

}  // namespace vmc
