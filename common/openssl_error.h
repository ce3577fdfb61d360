// The reason OpenSSL gives for a failure, for a message: taken from this
// thread's error queue, which is then emptied, so that one failure never
// shows in the diagnostics of the next call. (common/smime.cc keeps the
// codes themselves, to tell failures apart.)
//
// Thread-safety: OpenSSL's error queue is per thread.
#ifndef VMC_COMMON_OPENSSL_ERROR_H_
#define VMC_COMMON_OPENSSL_ERROR_H_

#include <string>

namespace vmc {

// The reason of the oldest error queued (where the failure began), or
// "unknown OpenSSL error" when none is; the queue is empty afterwards.
std::string TakeOpenSslError();

}  // namespace vmc

#endif  // VMC_COMMON_OPENSSL_ERROR_H_
