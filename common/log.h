// Diagnostics for people: one line per event on stderr, prefixed with the
// program name and level ("catcher: warning: ..."). Messages may quote list
// data, so control characters are escaped to keep one event on one line and to
// stop a hostile title from forging log lines. Never log credentials.
//
// Thread-safety: Log() may be called from any thread; lines do not interleave.
#ifndef VMC_COMMON_LOG_H_
#define VMC_COMMON_LOG_H_

#include <string>
#include <string_view>

namespace vmc {

// kNotice: what a daemon's operator wants to see without asking (its start,
// its cycles, its reloads and stop); a daemon shows it by default, a command
// does not.
enum class LogLevel { kError = 0, kWarning = 1, kNotice = 2, kInfo = 3, kDebug = 4 };

// Set once by main(): the program name and the most verbose level printed
// (default kWarning; -v raises it, -q lowers it to kError). SetLogProgram
// also looks at stderr: when it is the journal (systemd's JOURNAL_STREAM),
// each line starts with its syslog priority ("<3>" error, "<4>" warning,
// "<5>" notice, "<6>" info, "<7>" debug), which journald takes as the
// entry's priority.
void SetLogProgram(std::string_view program);
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

void Log(LogLevel level, std::string_view message);

inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogNotice(std::string_view m) { Log(LogLevel::kNotice, m); }
inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogDebug(std::string_view m) { Log(LogLevel::kDebug, m); }

// Escapes control characters (\n, \t, \xNN) so that the text stays on one
// line; the characters a terminal or viewer acts on instead of showing them
// (C1 controls U+0080-U+009F; bidirectional controls U+061C, U+200E-U+200F,
// U+202A-U+202E, U+2066-U+2069; separators U+2028-U+2029) as \uXXXX, so that
// list text cannot send terminal commands or reorder what is shown; and every
// byte that is not part of well-formed UTF-8 (\xNN), so that the result is
// UTF-8 whatever the input: messages quote untrusted text, often cut to a
// length that may fall inside a character, and end up in JSON.
std::string EscapeForLog(std::string_view text);

}  // namespace vmc

#endif  // VMC_COMMON_LOG_H_
