#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

#include "common/log.h"

namespace vmc {
namespace {

constexpr int kBarWidth = 24;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

}  // namespace

std::string HumanBytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  auto value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 5) {
    value /= 1024.0;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f %s", value, kUnits[unit]);
  }
  return buf;
}

ProgressBar::ProgressBar(const std::string& label, std::uint64_t total)
    : ProgressBar(label, total, isatty(STDERR_FILENO) == 1) {}

ProgressBar::ProgressBar(const std::string& label, std::uint64_t total, bool enabled)
    : label_(EscapeForLog(label)),
      total_(total),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - kRedrawInterval) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(std::uint64_t done) {
  done_ = done;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  Draw(false);
}

void ProgressBar::Update(std::uint64_t done, std::uint64_t total) {
  total_ = total;
  Update(done);
}

void ProgressBar::Finish() {
  if (finished_) return;
  finished_ = true;
  if (enabled_) Draw(true);
}

void ProgressBar::Draw(bool final) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
  const std::string line = Render(label_, done_, total_, rate);
  std::fprintf(stderr, "\r%s\x1b[K%s", line.c_str(), final ? "\n" : "");
  std::fflush(stderr);
}

std::string ProgressBar::Render(const std::string& label, std::uint64_t done, std::uint64_t total,
                                double bytes_per_second) {
  std::string out = label + " ";
  if (total > 0) {
    const double fraction =
        done >= total ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
    const int filled = static_cast<int>(fraction * kBarWidth);
    out += "[" + std::string(filled, '#') + std::string(kBarWidth - filled, ' ') + "] ";
    char pct[8];
    std::snprintf(pct, sizeof(pct), "%3d%%", static_cast<int>(fraction * 100));
    out += pct;
    out += "  " + HumanBytes(done) + "/" + HumanBytes(total);
  } else {
    out += HumanBytes(done);
  }
  out += "  " + HumanBytes(static_cast<std::uint64_t>(bytes_per_second)) + "/s";
  return out;
}

}  // namespace vmc
