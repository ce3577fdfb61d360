// Time for verification decisions. Dates in image lists are UTC with second
// precision and a trailing Z ("2026-11-01T00:00:00Z"); anything else is an
// error. Verification takes one fixed "now" per cycle from a Clock so that
// every step of one update judges the same instant, and tests can pin it.
//
// Thread-safety: the free functions are pure; SystemClock is stateless;
// FixedClock is immutable.
#ifndef VMC_COMMON_CLOCK_H_
#define VMC_COMMON_CLOCK_H_

#include <chrono>
#include <string>
#include <string_view>

#include "common/error.h"

namespace vmc {

using TimePoint = std::chrono::sys_seconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
};

class FixedClock final : public Clock {
 public:
  explicit FixedClock(TimePoint at) : at_(at) {}
  TimePoint Now() const override { return at_; }

 private:
  TimePoint at_;
};

// Parses exactly "YYYY-MM-DDTHH:MM:SSZ" with a valid calendar date.
// Returns kInvalidDate naming the text otherwise.
Result<TimePoint> ParseDate(std::string_view text);

// Formats as "YYYY-MM-DDTHH:MM:SSZ".
std::string FormatDate(TimePoint t);

// Parses a duration: a positive integer with an optional unit s, m, h, d or w
// ("90", "30m", "6h", "28d"). Returns kInvalidValue otherwise.
Result<std::chrono::seconds> ParseDuration(std::string_view text);

}  // namespace vmc

#endif  // VMC_COMMON_CLOCK_H_
