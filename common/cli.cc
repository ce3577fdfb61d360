#include "common/cli.h"

#include <cstddef>
#include <exception>
#include <filesystem>
#include <iostream>

#include "common/build_info.h"
#include "common/heap.h"
#include "common/log.h"

namespace vmc {
namespace {

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

bool StartsWith(const std::vector<std::string>& path, const std::vector<std::string>& prefix) {
  return path.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}

bool IsOption(const std::string& token) { return token.size() > 1 && token[0] == '-'; }

// True when the global option named by `token` ("--store", "-v") takes a value
// in the next token (no "=value" attached).
bool GlobalTakesSeparateValue(const po::options_description& globals, const std::string& token) {
  if (token.find('=') != std::string::npos) return false;
  std::string name = token.substr(token.rfind('-', 1) + 1);
  const bool long_form = token.rfind("--", 0) == 0;
  const auto* option = globals.find_nothrow(name, false, false, false);
  if (option == nullptr && !long_form) {
    // Short option: find by its one-letter alias.
    for (const auto& o : globals.options()) {
      if (o->canonical_display_name(po::command_line_style::allow_dash_for_short) == token) {
        option = o.get();
      }
    }
  }
  return option != nullptr && option->semantic()->max_tokens() > 0;
}

}  // namespace

CommandLine::CommandLine(std::string program, std::string description,
                         po::options_description globals)
    : program_(std::move(program)),
      description_(std::move(description)),
      globals_(std::move(globals)),
      config_keys_("Config file keys") {
  globals_.add_options()                                              //
      ("help,h", "show help for the command and exit")                //
      ("json", "machine output: JSON on stdout, errors as JSON too")  //
      ("verbose,v", po::bool_switch(), "more diagnostics on stderr")  //
      ("quiet,q", po::bool_switch(), "only errors on stderr");
}

void CommandLine::Add(Command command) { commands_.push_back(std::move(command)); }

void CommandLine::SetConfig(
    const po::options_description& keys,
    std::function<std::optional<ConfigSource>(const po::variables_map&)> locate) {
  config_keys_.add(keys);
  locate_config_ = std::move(locate);
}

const Command* CommandLine::Find(const std::vector<std::string>& path) const {
  for (const auto& c : commands_) {
    if (c.path == path) return &c;
  }
  return nullptr;
}

bool CommandLine::IsPrefixOfCommand(const std::vector<std::string>& path) const {
  return std::any_of(commands_.begin(), commands_.end(),
                     [&](const Command& c) { return StartsWith(c.path, path); });
}

std::vector<const Command*> CommandLine::Children(const std::vector<std::string>& path) const {
  std::vector<const Command*> out;
  for (const auto& c : commands_) {
    if (c.path.size() > path.size() && StartsWith(c.path, path)) out.push_back(&c);
  }
  return out;
}

void CommandLine::PrintHelp(const std::vector<std::string>& path, std::ostream& out) const {
  const Command* command = Find(path);
  if (command != nullptr) {
    out << "Usage: " << program_ << " [global options] " << Join(path);
    po::options_description options("Options");
    po::positional_options_description pos;
    if (command->define) command->define(options, pos);
    if (!options.options().empty()) out << " [options]";
    if (!command->arguments.empty()) out << ' ' << command->arguments;
    out << "\n\n" << command->summary << "\n";
    if (!command->description.empty()) out << "\n" << command->description << "\n";
    if (!options.options().empty()) out << "\n" << options;
    out << "\n" << globals_;
    return;
  }
  out << "Usage: " << program_ << " [global options] " << Join(path) << (path.empty() ? "" : " ")
      << "COMMAND [args]\n\n";
  if (path.empty()) out << description_ << "\n\n";
  out << "Commands:\n";
  for (const Command* c : Children(path)) {
    // Show each command once at its full depth under this node.
    std::string name = Join(std::vector<std::string>(
        c->path.begin() + static_cast<std::ptrdiff_t>(path.size()), c->path.end()));
    out << "  " << name;
    out << std::string(name.size() < 22 ? 22 - name.size() : 1, ' ') << c->summary << "\n";
  }
  out << "\nRun '" << program_ << ' ' << Join(path) << (path.empty() ? "" : " ")
      << "COMMAND --help' for a command's options, '" << program_
      << " --version' for the version, the commit it was built from and the libraries it runs "
         "with.\n\n"
      << globals_;
}

Status CommandLine::LoadConfig(po::variables_map& vm) const {
  if (!locate_config_) return Ok();
  const auto source = locate_config_(vm);
  if (!source) return Ok();
  std::error_code ec;
  if (!std::filesystem::exists(source->path, ec)) {
    if (!source->required) return Ok();
    return Error(ErrorCode::kConfigInvalid, "config file " + source->path + " does not exist")
        .With("file", source->path);
  }
  try {
    po::store(po::parse_config_file<char>(source->path.c_str(), config_keys_, false), vm);
  } catch (const po::error& e) {
    return Error(ErrorCode::kConfigInvalid,
                 "config file " + source->path + " is invalid: " + std::string(e.what()))
        .With("file", source->path);
  }
  return Ok();
}

Status CommandLine::Dispatch(const std::vector<std::string>& args, std::ostream& out,
                             std::ostream& err, bool* json) {
  std::vector<std::string> path;
  std::vector<std::string> rest;
  bool help = false;
  bool version = false;
  bool in_path = true;
  std::string stray;  // the first word after the command path
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& token = args[i];
    if (token == "--") {
      rest.insert(rest.end(), args.begin() + static_cast<long>(i), args.end());
      break;
    }
    if (token == "--help" || token == "-h") {
      help = true;
      continue;
    }
    // Before any command only: a command may have a --version of its own
    // (`caster sign --version`, the list's).
    if (token == "--version" && path.empty()) {
      version = true;
      continue;
    }
    if (token == "--json") *json = true;
    if (IsOption(token)) {
      rest.push_back(token);
      if (GlobalTakesSeparateValue(globals_, token) && i + 1 < args.size()) {
        rest.push_back(args[++i]);
      }
      continue;
    }
    auto candidate = path;
    candidate.push_back(token);
    if (in_path && IsPrefixOfCommand(candidate)) {
      path = std::move(candidate);
    } else {
      if (in_path) stray = token;
      in_path = false;
      rest.push_back(token);
    }
  }
  const Command* command = Find(path);
  if (help) {
    PrintHelp(path, out);
    return Ok();
  }
  if (version) {
    out << (*json ? VersionJson(program_, TheBuildInfo()) : VersionText(program_, TheBuildInfo()));
    return Ok();
  }
  if (command == nullptr) {
    // An option no one takes says so, not that the command is missing.
    try {
      (void)po::command_line_parser(rest).options(globals_).run();
    } catch (const po::unknown_option& e) {
      return Error(ErrorCode::kUsage, std::string(e.what()) + " (see '" + program_ +
                                          (path.empty() ? "" : " " + Join(path)) + " --help')");
    } catch (const po::error&) {
      // Another problem of the line: the missing command is said below.
    }
    PrintHelp(path, err);
    // Appended piecewise: GCC 12 at -O3 warns falsely (-Wrestrict) on "'" + s.
    std::string what = "no command given";
    if (!path.empty()) ((what = "'") += Join(path)) += "' needs a subcommand";
    if (!stray.empty()) {
      auto unknown = path;
      unknown.push_back(stray);
      what = "unknown command '" + Join(unknown) + "'";
    }
    return Error(ErrorCode::kUsage, what);
  }

  po::options_description options;
  po::positional_options_description pos;
  if (command->define) command->define(options, pos);
  po::options_description all;
  all.add(globals_).add(options);
  Invocation inv;
  inv.out = &out;
  const std::string hint = " (see '" + program_ + " " + Join(path) + " --help')";
  auto parse = [this, rest, all, pos, hint]() -> Result<po::variables_map> {
    po::variables_map vm;
    try {
      po::store(po::command_line_parser(rest).options(all).positional(pos).run(), vm);
      VMC_RETURN_IF_ERROR(LoadConfig(vm));
      po::notify(vm);
    } catch (const po::error& e) {
      return Error(ErrorCode::kUsage, std::string(e.what()) + hint);
    }
    return vm;
  };
  VMC_ASSIGN_OR_RETURN(inv.args, parse());
  inv.reparse = parse;
  inv.json = inv.args.count("json") != 0;
  if (inv.args["verbose"].as<bool>()) SetLogLevel(LogLevel::kDebug);
  if (inv.args["quiet"].as<bool>()) SetLogLevel(LogLevel::kError);
  return command->run(inv);
}

int CommandLine::Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  bool json = false;
  Status status = Ok();
  try {
    status = Dispatch(args, out, err, &json);
  } catch (const po::error& e) {
    status = Error(ErrorCode::kUsage, e.what());
  } catch (const std::bad_alloc&) {
    status = Error(ErrorCode::kStorage, "out of memory");
  } catch (const std::exception& e) {
    status = Error(ErrorCode::kIo, std::string("unexpected failure: ") + e.what());
  }
  if (status.ok()) return 0;
  const Error& error = status.error();
  if (json) {
    out << error.ToJson() << "\n";
  } else {
    err << program_ << ": error: " << EscapeForLog(error.message()) << " ["
        << ErrorCodeName(error.code()) << "]\n";
  }
  out.flush();
  return ExitStatusFor(error.code());
}

int CommandLine::Main(int argc, const char* const* argv) {
  KeepHeapForLargeDocuments();
  SetLogProgram(program_);
  std::vector<std::string> args(argv + 1, argv + argc);
  return Run(args, std::cout, std::cerr);
}

}  // namespace vmc
