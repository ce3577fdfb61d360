// The command-line frame both tools share (DESIGN.md section 8):
// `TOOL [global options] COMMAND [SUBCOMMAND] [args]`, `--help` at every level,
// `--json` for machine output and errors, `-v/-q`, and an INI config file whose
// values fill in what the command line left unset (command line wins).
//
// A tool registers its commands (each a path of words, its options and a
// handler) and calls Main(). Main() is the one place where an Error becomes
// an exit status and a printed message ("caster: error: ..." on stderr, or
// {"error": {...}} on stdout with --json). Exceptions from Boost or the
// standard library are caught here and converted.
//
// Thread-safety: build and run from main() only.
#ifndef VMC_COMMON_CLI_H_
#define VMC_COMMON_CLI_H_

#include <boost/program_options.hpp>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace vmc {

namespace po = boost::program_options;

// What a command handler sees.
struct Invocation {
  po::variables_map args;  // command options, positionals and globals, config filled in
  bool json = false;       // --json: print machine output
  std::ostream* out = nullptr;
  // Parses the same command line and the config file again (a daemon's
  // reload): the new values, or the error, leaving `args` as they are.
  std::function<Result<po::variables_map>()> reparse;

  // The value of an option that must be present (positionals are declared
  // required, so a missing one is a usage error before the handler runs).
  template <typename T>
  const T& Get(const std::string& name) const {
    return args[name].as<T>();
  }
  // The value of an optional option, from the command line, the config file
  // or its default; nullopt when none gave one.
  template <typename T>
  std::optional<T> Find(const std::string& name) const {
    if (args.count(name) == 0) return std::nullopt;
    return args[name].as<T>();
  }
  bool Has(const std::string& name) const { return args.count(name) != 0; }
};

struct Command {
  std::vector<std::string> path;  // {"list", "create"}
  std::string summary;            // one line for the parent's help
  std::string arguments;          // usage of positionals: "LIST KEY VALUE"
  std::string description;        // optional paragraph for the command's own help
  // Declares options and positionals (name them in `options` too).
  std::function<void(po::options_description& options, po::positional_options_description& pos)>
      define;
  std::function<Status(const Invocation&)> run;
};

// The config file the tool reads, given the parsed global options (after the
// command line): the path and whether its absence is an error (an explicit
// --config must exist, a default path may be absent).
struct ConfigSource {
  std::string path;
  bool required = false;
};

class CommandLine {
 public:
  // `globals` are accepted anywhere on the line; --help, --json, -v, -q are
  // added to them here.
  CommandLine(std::string program, std::string description, po::options_description globals);

  void Add(Command command);

  // Keys accepted in the config file (INI: `key = value`, `[section]` groups
  // as `section.key`) and how to find the file.
  void SetConfig(const po::options_description& keys,
                 std::function<std::optional<ConfigSource>(const po::variables_map&)> locate);

  // Parses argv, runs the command, prints any error; returns the exit status.
  int Main(int argc, const char* const* argv);

  // Same, with explicit streams (tests).
  int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

 private:
  struct Node;
  Status Dispatch(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                  bool* json);
  Status LoadConfig(po::variables_map& vm) const;
  void PrintHelp(const std::vector<std::string>& path, std::ostream& out) const;
  const Command* Find(const std::vector<std::string>& path) const;
  std::vector<const Command*> Children(const std::vector<std::string>& path) const;
  bool IsPrefixOfCommand(const std::vector<std::string>& path) const;

  std::string program_;
  std::string description_;
  po::options_description globals_;
  std::vector<Command> commands_;
  po::options_description config_keys_;
  std::function<std::optional<ConfigSource>(const po::variables_map&)> locate_config_;
};

}  // namespace vmc

#endif  // VMC_COMMON_CLI_H_
