// catcher's command groups. main.cc registers them; each file holds one group.
#ifndef VMC_CATCHER_COMMANDS_H_
#define VMC_CATCHER_COMMANDS_H_

#include "common/cli.h"

namespace vmc::catcher {

void AddSubscriptionCommands(CommandLine& cli);  // subscribe, unsubscribe, subscriptions
void AddUpdateCommands(CommandLine& cli);        // update, verify
void AddImageCommands(CommandLine& cli);         // images, image accept|refuse
void AddCacheCommands(CommandLine& cli);         // cache
void AddDaemonCommands(CommandLine& cli);        // run
void AddStatusCommands(CommandLine& cli);        // status, export

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_COMMANDS_H_
