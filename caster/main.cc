// caster: the publisher command line. Parses and dispatches; the work is in
// the command groups (commands.h).
#include <csignal>

#include "caster/commands.h"
#include "caster/settings.h"
#include "common/cli.h"

int main(int argc, char** argv) {
  // libcurl runs without signals; a closed connection must not kill us.
  std::signal(SIGPIPE, SIG_IGN);
  vmc::CommandLine cli("caster",
                       "Builds, signs and publishes image lists (HEPiX format, S/MIME signed).",
                       vmc::caster::GlobalOptions());
  cli.SetConfig(vmc::caster::ConfigKeys(), vmc::caster::LocateConfig);
  vmc::caster::AddListCommands(cli);
  vmc::caster::AddImageCommands(cli);
  vmc::caster::AddSigningCommands(cli);
  return cli.Main(argc, argv);
}
