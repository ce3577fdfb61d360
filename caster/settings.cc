#include "caster/settings.h"

#include <cstdlib>
#include <vector>

namespace vmc::caster {
namespace {

// $XDG_<kind>_HOME, else ~/<fallback>, per the XDG base directory spec.
std::filesystem::path XdgDir(const char* variable, const char* fallback) {
  const char* xdg = std::getenv(variable);
  if (xdg != nullptr && *xdg == '/') return xdg;
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr ? home : ".") / fallback;
}

}  // namespace

po::options_description GlobalOptions() {
  po::options_description g("Global options");
  g.add_options()                                                             //
      ("store", po::value<std::string>(), "the list store directory (LMDB)")  //
      ("config", po::value<std::string>(), "the config file (INI)");
  return g;
}

po::options_description ConfigKeys() {
  po::options_description keys;
  keys.add_options()                                 //
      ("store", po::value<std::string>())            //
      ("cert", po::value<std::string>())             //
      ("key", po::value<std::string>())              //
      ("passphrase-file", po::value<std::string>())  //
      ("lifetime", po::value<int>())                 //
      ("ca-dir", po::value<std::string>())           //
      ("known-hosts", po::value<std::string>())      //
      ("upload", po::value<std::vector<std::string>>()->composing());
  return keys;
}

std::optional<ConfigSource> LocateConfig(const po::variables_map& vm) {
  if (vm.count("config") != 0) return ConfigSource{vm["config"].as<std::string>(), true};
  return ConfigSource{(XdgDir("XDG_CONFIG_HOME", ".config") / "caster" / "caster.conf").string(),
                      false};
}

std::filesystem::path StoreDir(const Invocation& inv) {
  if (auto store = inv.Find<std::string>("store")) return *store;
  return XdgDir("XDG_DATA_HOME", ".local/share") / "caster";
}

}  // namespace vmc::caster
