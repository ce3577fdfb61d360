// caster's global options and config file (INI, read by
// Boost.Program_options), and where things live by default:
//   store:  --store, else `store` in the config, else $XDG_DATA_HOME/caster
//           (~/.local/share/caster)
//   config: --config (must exist), else $XDG_CONFIG_HOME/caster/caster.conf
//           (~/.config/caster/caster.conf, may be absent)
// Config keys fill the command options of the same name that the command
// line left unset: store, cert, key, passphrase-file, lifetime, ca-dir,
// known-hosts; and `upload` lines map a published URI prefix to an upload
// target (see publish.h).
#ifndef VMC_CASTER_SETTINGS_H_
#define VMC_CASTER_SETTINGS_H_

#include <filesystem>
#include <optional>
#include <string>

#include "common/cli.h"
#include "common/defaults.h"

namespace vmc::caster {

po::options_description GlobalOptions();
po::options_description ConfigKeys();
std::optional<ConfigSource> LocateConfig(const po::variables_map& vm);

// The store directory for this invocation.
std::filesystem::path StoreDir(const Invocation& inv);

}  // namespace vmc::caster

#endif  // VMC_CASTER_SETTINGS_H_
