// The signed data from the field that tests read (test/fixtures, a copy of
// the project's shared fixtures).
//
// Thread-safety: reads a file; no state.
#ifndef VMC_TEST_SUPPORT_FIXTURES_H_
#define VMC_TEST_SUPPORT_FIXTURES_H_

#include <string>

namespace vmc::test {

// The 2011 list of the HEPiX README, signed with SHA-1 by a GridKa-issued
// certificate (hepix-readme-example.smime). Records a test failure and
// returns "" when it cannot be found.
std::string HepixReadmeFixture();

}  // namespace vmc::test

#endif  // VMC_TEST_SUPPORT_FIXTURES_H_
