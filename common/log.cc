#include "common/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace vmc {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kWarning};
std::atomic<bool> g_journal{false};
std::mutex g_mutex;
std::string& Program() {
  static std::string program = "vmc";
  return program;
}

// Whether stderr is the stream systemd connected to the journal: it names
// it in JOURNAL_STREAM as "DEVICE:INODE" (systemd.exec(5)); a stderr
// redirected elsewhere by the unit's command or a child keeps the variable
// but not the stream, and is not.
bool StderrIsTheJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  const std::string_view text(stream);
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  unsigned long long device = 0;
  unsigned long long inode = 0;
  const auto parse = [](std::string_view digits, unsigned long long& value) {
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    return ec == std::errc() && end == digits.data() + digits.size() && !digits.empty();
  };
  if (!parse(text.substr(0, colon), device) || !parse(text.substr(colon + 1), inode)) {
    return false;
  }
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  return st.st_dev == device && st.st_ino == inode;
}

// The syslog priority journald reads from the start of a line (sd-daemon(3))
// and keeps as the entry's PRIORITY: "journalctl -p warning" then works.
const char* SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "<3>";
    case LogLevel::kWarning:
      return "<4>";
    case LogLevel::kNotice:
      return "<5>";
    case LogLevel::kInfo:
      return "<6>";
    case LogLevel::kDebug:
      return "<7>";
  }
  return "";
}

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kNotice:
      return "notice";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "log";
}

// Length of the well-formed UTF-8 sequence (RFC 3629: shortest form, no
// surrogates, at most U+10FFFF) that `text` starts with, or 0 if it starts
// with anything else. REQUIRES: !text.empty().
std::size_t Utf8SequenceLength(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  unsigned char low = 0x80;  // the range of the second byte
  unsigned char high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;   // no overlong forms
    if (lead == 0xed) high = 0x9f;  // no surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;   // no overlong forms
    if (lead == 0xf4) high = 0x8f;  // nothing beyond U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return length;
}

// The code point of the well-formed sequence `text` starts with.
// REQUIRES: length == Utf8SequenceLength(text) > 1.
char32_t DecodeUtf8(std::string_view text, std::size_t length) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  char32_t cp = byte(0) & (0x7f >> length);
  for (std::size_t i = 1; i < length; ++i) cp = (cp << 6) | (byte(i) & 0x3f);
  return cp;
}

// Characters a terminal or a text viewer acts on instead of showing: C1
// controls (U+009B is CSI, the one-byte form of ESC '['), and the
// bidirectional marks, embeddings, overrides and isolates that reorder what
// is shown ("Trojan Source"), plus the line and paragraph separators that
// break a line in some viewers.
bool IsInvisibleControl(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
         (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace

void SetLogProgram(std::string_view program) {
  g_journal.store(StderrIsTheJournal());
  std::lock_guard<std::mutex> lock(g_mutex);
  Program() = std::string(program);
}

void SetLogLevel(LogLevel level) { g_level.store(level); }

LogLevel GetLogLevel() { return g_level.load(); }

std::string EscapeForLog(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto escape_byte = [](std::string& out, unsigned char u) {
    out += "\\x";
    out += kHex[u >> 4];
    out += kHex[u & 0xf];
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      const std::size_t length = Utf8SequenceLength(text.substr(i));
      if (length == 0) {
        escape_byte(out, u);
        ++i;
      } else if (const char32_t cp = DecodeUtf8(text.substr(i), length); IsInvisibleControl(cp)) {
        out += "\\u";
        for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xf];
        i += length;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      escape_byte(out, u);
    } else {
      out += c;
    }
    ++i;
  }
  return out;
}

void Log(LogLevel level, std::string_view message) {
  if (static_cast<int>(level) > static_cast<int>(g_level.load())) return;
  const std::string line = EscapeForLog(message);
  const char* priority = g_journal.load() ? SyslogPriority(level) : "";
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "%s%s: %.*s: %s\n", priority, Program().c_str(),
               static_cast<int>(LevelName(level).size()), LevelName(level).data(), line.c_str());
}

}  // namespace vmc
