#include "common/credentials.h"

#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <fstream>

#include "common/log.h"

namespace vmc {
namespace {

namespace po = boost::program_options;

Error Invalid(const std::filesystem::path& path, const std::string& why) {
  return Error(ErrorCode::kConfigInvalid, "credentials file " + path.string() + " " + why)
      .With("file", path.string());
}

std::string ValueOf(const po::variables_map& vm, const char* key) {
  return vm.count(key) != 0 ? vm[key].as<std::string>() : std::string();
}

}  // namespace

Result<Credentials> LoadCredentials(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Invalid(path, "cannot be read");
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
    LogWarning("credentials file " + path.string() +
               " is readable by other users; make it private (chmod 600)");
  }
  po::options_description keys;
  keys.add_options()                                //
      ("username", po::value<std::string>())        //
      ("password", po::value<std::string>())        //
      ("token", po::value<std::string>())           //
      ("ssh-key", po::value<std::string>())         //
      ("ssh-public-key", po::value<std::string>())  //
      ("ssh-user", po::value<std::string>())        //
      ("ssh-passphrase", po::value<std::string>());
  po::variables_map vm;
  try {
    po::store(po::parse_config_file(in, keys, false), vm);
  } catch (const po::error& e) {
    // Boost's message names the key, never the value.
    return Invalid(path, std::string("is invalid: ") + e.what());
  }
  const bool basic = vm.count("username") != 0 || vm.count("password") != 0;
  const bool token = vm.count("token") != 0;
  const bool ssh = vm.count("ssh-key") != 0;
  if (static_cast<int>(basic) + static_cast<int>(token) + static_cast<int>(ssh) != 1) {
    return Invalid(path, "must hold exactly one of: username and password, token, ssh-key");
  }
  if (basic) {
    if (vm.count("username") == 0 || vm.count("password") == 0) {
      return Invalid(path, "needs both username and password");
    }
    return Credentials{BasicAuth{ValueOf(vm, "username"), ValueOf(vm, "password")}};
  }
  if (token) {
    if (ValueOf(vm, "token").empty()) return Invalid(path, "has an empty token");
    return Credentials{BearerToken{ValueOf(vm, "token")}};
  }
  return Credentials{SshKey{ValueOf(vm, "ssh-user"), ValueOf(vm, "ssh-key"),
                            ValueOf(vm, "ssh-public-key"), ValueOf(vm, "ssh-passphrase")}};
}

}  // namespace vmc
