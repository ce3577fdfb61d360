// An owned POSIX file descriptor, closed when it goes out of scope.
#ifndef VMC_COMMON_UNIQUE_FD_H_
#define VMC_COMMON_UNIQUE_FD_H_

#include <unistd.h>

namespace vmc {

class UniqueFd {
 public:
  // Takes `fd`, which may be negative (a failed open: nothing to close).
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace vmc

#endif  // VMC_COMMON_UNIQUE_FD_H_
