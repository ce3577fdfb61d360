// caster's command groups. main.cc registers them; each file holds one group.
#ifndef VMC_CASTER_COMMANDS_H_
#define VMC_CASTER_COMMANDS_H_

#include "common/cli.h"

namespace vmc::caster {

void AddListCommands(CommandLine& cli);     // list_commands.cc
void AddImageCommands(CommandLine& cli);    // image_commands.cc
void AddSigningCommands(CommandLine& cli);  // signing_commands.cc: sign, publish, verify

}  // namespace vmc::caster

#endif  // VMC_CASTER_COMMANDS_H_
