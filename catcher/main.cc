// catcher: the subscriber command line and daemon. Parses and dispatches; the
// work is in the command groups (commands.h).
#include <csignal>

#include "catcher/commands.h"
#include "catcher/settings.h"
#include "common/cli.h"

int main(int argc, char** argv) {
  // libcurl runs without signals; a closed connection must not kill us.
  std::signal(SIGPIPE, SIG_IGN);
  vmc::CommandLine cli("catcher",
                       "Subscribes to signed image lists, verifies them and caches their images.",
                       vmc::catcher::GlobalOptions());
  cli.SetConfig(vmc::catcher::ConfigKeys(), vmc::catcher::LocateConfig);
  vmc::catcher::AddSubscriptionCommands(cli);
  vmc::catcher::AddUpdateCommands(cli);
  vmc::catcher::AddImageCommands(cli);
  vmc::catcher::AddCacheCommands(cli);
  vmc::catcher::AddDaemonCommands(cli);
  vmc::catcher::AddStatusCommands(cli);
  return cli.Main(argc, argv);
}
