// The offline `verify FILE` command both tools have (`caster verify`,
// `catcher verify`): the same checks catcher's update makes (steps 2, 3, 4,
// 5 and 7 of DESIGN.md section 5), so a submitter sees what every site sees.
#ifndef VMC_COMMON_VERIFY_COMMAND_H_
#define VMC_COMMON_VERIFY_COMMAND_H_

#include <filesystem>

#include "common/cli.h"

namespace vmc {

// Declares FILE, --at-time, --endorser-dn and --endorser-ca.
void DefineVerifyOptions(po::options_description& options,
                         po::positional_options_description& positional);

// Verifies the file named by the invocation against `ca_dir` and prints what
// was proved (or --json). The error names the file.
Status RunVerify(const Invocation& inv, const std::filesystem::path& ca_dir);

}  // namespace vmc

#endif  // VMC_COMMON_VERIFY_COMMAND_H_
