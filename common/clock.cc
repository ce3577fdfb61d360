#include "common/clock.h"

#include <charconv>
#include <cstdio>
#include <limits>

namespace vmc {
namespace {

// Reads `width` decimal digits at `pos`; false if any is not a digit.
bool ReadDigits(std::string_view text, size_t pos, size_t width, int* out) {
  int value = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  *out = value;
  return true;
}

Error BadDate(std::string_view text) {
  return Error(ErrorCode::kInvalidDate,
               "invalid date \"" + std::string(text) + "\": expected UTC as YYYY-MM-DDTHH:MM:SSZ");
}

}  // namespace

TimePoint SystemClock::Now() const {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

Result<TimePoint> ParseDate(std::string_view text) {
  // 0123456789012345678 9
  // YYYY-MM-DDTHH:MM:SS Z
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != 'Z') {
    return BadDate(text);
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!ReadDigits(text, 0, 4, &y) || !ReadDigits(text, 5, 2, &mo) || !ReadDigits(text, 8, 2, &d) ||
      !ReadDigits(text, 11, 2, &h) || !ReadDigits(text, 14, 2, &mi) ||
      !ReadDigits(text, 17, 2, &s)) {
    return BadDate(text);
  }
  const std::chrono::year_month_day ymd{std::chrono::year{y},
                                        std::chrono::month{static_cast<unsigned>(mo)},
                                        std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return BadDate(text);
  return TimePoint{std::chrono::sys_days{ymd}} + std::chrono::hours{h} + std::chrono::minutes{mi} +
         std::chrono::seconds{s};
}

std::string FormatDate(TimePoint t) {
  const auto days = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{days};
  const std::chrono::hh_mm_ss hms{t - days};
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

Result<std::chrono::seconds> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return Error(ErrorCode::kInvalidValue,
                 "invalid duration \"" + std::string(text) +
                     "\": expected a positive number with an optional unit s, m, h, d or w");
  };
  if (text.empty()) return bad();
  long long unit = 1;
  std::string_view digits = text;
  switch (text.back()) {
    case 's':
      digits.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      digits.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      digits.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      digits.remove_suffix(1);
      break;
    case 'w':
      unit = 7 * 86400;
      digits.remove_suffix(1);
      break;
    default:
      break;
  }
  long long value = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() || value <= 0 ||
      value > std::numeric_limits<long long>::max() / unit) {
    return bad();
  }
  return std::chrono::seconds{value * unit};
}

}  // namespace vmc
