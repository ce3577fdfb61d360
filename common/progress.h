// A progress bar on stderr for long transfers and hashes, drawn only when
// stderr is a terminal (DESIGN.md section 8): scripts, logs and CI see
// nothing. Redraws at most ten times a second so it never slows the work.
//
// Thread-safety: thread-compatible; one bar per operation and thread.
#ifndef VMC_COMMON_PROGRESS_H_
#define VMC_COMMON_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace vmc {

class ProgressBar {
 public:
  // `label` is shown before the bar (escaped for the terminal); `total` may be
  // 0 when unknown. `enabled` forces the decision (tests); by default the bar
  // is drawn iff stderr is a terminal.
  ProgressBar(const std::string& label, std::uint64_t total);
  ProgressBar(const std::string& label, std::uint64_t total, bool enabled);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  bool enabled() const { return enabled_; }

  // Records that `done` bytes of `total` are done; redraws when due.
  void Update(std::uint64_t done);
  // The same with the total as now known (0: unknown), for a transfer that
  // learns its size as it goes (a download's Content-Length).
  void Update(std::uint64_t done, std::uint64_t total);

  // Draws the final state and ends the line. Called by the destructor too.
  void Finish();

  // The text of one frame, e.g. "image.qcow2 [#####     ]  52%  1.0 GiB/2.0 GiB  310 MiB/s".
  static std::string Render(const std::string& label, std::uint64_t done, std::uint64_t total,
                            double bytes_per_second);

 private:
  void Draw(bool final);

  std::string label_;
  std::uint64_t total_;
  std::uint64_t done_ = 0;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "1.5 GiB", "312 B": sizes for people.
std::string HumanBytes(std::uint64_t bytes);

}  // namespace vmc

#endif  // VMC_COMMON_PROGRESS_H_
