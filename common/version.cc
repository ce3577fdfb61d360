#include "common/version.h"

#include <cstddef>

namespace vmc {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Splits off the next run (all digits or no digits) from the front of *rest.
std::string_view TakeRun(std::string_view* rest) {
  const bool digits = IsDigit(rest->front());
  std::size_t n = 1;
  while (n < rest->size() && IsDigit((*rest)[n]) == digits) ++n;
  const std::string_view run = rest->substr(0, n);
  rest->remove_prefix(n);
  return run;
}

// Compares two digit runs by value without converting them, so that runs of
// any length compare correctly: fewer significant digits is smaller, and
// equal lengths compare digit by digit.
std::strong_ordering CompareNumbers(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
  while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() <=> b.size();
  return a.compare(b) <=> 0;
}

std::strong_ordering CompareRuns(std::string_view a, std::string_view b) {
  const bool a_digits = IsDigit(a.front());
  const bool b_digits = IsDigit(b.front());
  if (a_digits && b_digits) return CompareNumbers(a, b);
  if (a_digits != b_digits)
    return a_digits ? std::strong_ordering::less : std::strong_ordering::greater;
  return a.compare(b) <=> 0;
}

}  // namespace

std::strong_ordering CompareVersions(std::string_view a, std::string_view b) {
  std::string_view rest_a = a;
  std::string_view rest_b = b;
  while (!rest_a.empty() && !rest_b.empty()) {
    const auto order = CompareRuns(TakeRun(&rest_a), TakeRun(&rest_b));
    if (std::is_neq(order)) return order;
  }
  if (rest_a.empty() != rest_b.empty()) {
    return rest_a.empty() ? std::strong_ordering::less : std::strong_ordering::greater;
  }
  // Equal in value ("1.01" and "1.1"): the bytes decide, so that only
  // identical text is equal.
  return a.compare(b) <=> 0;
}

std::string BumpVersion(std::string_view version) {
  std::string next(version);
  std::size_t end = next.size();
  while (end > 0 && !IsDigit(next[end - 1])) --end;
  if (end == 0) return next.empty() ? "1" : next + ".1";
  // Decimal increment of the digit run that ends at `end`, in place.
  std::size_t i = end;
  while (i > 0 && IsDigit(next[i - 1]) && next[i - 1] == '9') {
    next[--i] = '0';
  }
  if (i > 0 && IsDigit(next[i - 1])) {
    ++next[i - 1];
  } else {
    next.insert(i, 1, '1');
  }
  return next;
}

}  // namespace vmc
