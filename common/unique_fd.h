// An owned POSIX file descriptor, closed when it goes out of scope.
#ifndef VMC_COMMON_UNIQUE_FD_H_
#define VMC_COMMON_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace vmc {

class UniqueFd {
 public:
  // Takes `fd`, which may be negative (a failed open: nothing to close).
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = other.Release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }

  // Closes now and returns what close(2) returned (-1 with errno set): a
  // written file's close can report a write error, which the destructor
  // would drop. The descriptor is given up even when close fails (Linux has
  // freed it then; a retry could close another thread's new descriptor).
  // 0 when there is nothing to close.
  [[nodiscard]] int Close() {
    const int fd = Release();
    return fd >= 0 ? ::close(fd) : 0;
  }

  // Gives up ownership without closing, for a descriptor handed to an owner
  // that closes it (fdopendir's DIR, say). Returns it.
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace vmc

#endif  // VMC_COMMON_UNIQUE_FD_H_
