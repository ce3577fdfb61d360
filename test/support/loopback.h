// Loopback TCP helpers for the servers tests start (nginx, sshd, fault
// injectors).
#ifndef VMC_TEST_SUPPORT_LOOPBACK_H_
#define VMC_TEST_SUPPORT_LOOPBACK_H_

namespace vmc::test {

// A port the kernel just handed out on 127.0.0.1 and released; 0 on failure.
// Another process may take it before the caller binds it: callers retry.
int PickFreePort();

// True when something accepts TCP connections on 127.0.0.1:port.
bool Accepts(int port);

}  // namespace vmc::test

#endif  // VMC_TEST_SUPPORT_LOOPBACK_H_
