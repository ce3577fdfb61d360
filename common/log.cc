#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace vmc {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kWarning};
std::mutex g_mutex;
std::string& Program() {
  static std::string program = "vmc";
  return program;
}

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "log";
}

}  // namespace

void SetLogProgram(std::string_view program) {
  std::lock_guard<std::mutex> lock(g_mutex);
  Program() = std::string(program);
}

void SetLogLevel(LogLevel level) { g_level.store(level); }

LogLevel GetLogLevel() { return g_level.load(); }

std::string EscapeForLog(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

void Log(LogLevel level, std::string_view message) {
  if (static_cast<int>(level) > static_cast<int>(g_level.load())) return;
  const std::string line = EscapeForLog(message);
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "%s: %.*s: %s\n", Program().c_str(),
               static_cast<int>(LevelName(level).size()), LevelName(level).data(), line.c_str());
}

}  // namespace vmc
