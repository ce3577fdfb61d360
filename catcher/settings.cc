#include "catcher/settings.h"

#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <thread>
#include <vector>

#include "catcher/image_format.h"
#include "catcher/policy.h"
#include "common/clock.h"
#include "common/json_reader.h"  // QuoteUntrusted
#include "common/url.h"

namespace vmc::catcher {
namespace {

constexpr char kDefaultConfig[] = "/etc/catcher/catcher.conf";

constexpr char kDefaultCaDir[] = "/etc/grid-security/certificates";

std::filesystem::path DefaultStateDir() {
  if (geteuid() == 0) return "/var/lib/catcher";
  const char* xdg = std::getenv("XDG_DATA_HOME");
  if (xdg != nullptr && *xdg == '/') return std::filesystem::path(xdg) / "catcher";
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr ? home : ".") / ".local/share/catcher";
}

// A duration option ("90", "30m", "6h") into *out.
Status Duration(const Invocation& inv, const char* key, std::chrono::seconds* out) {
  const auto text = inv.Find<std::string>(key);
  if (!text) return Ok();
  auto parsed = ParseDuration(*text);
  if (!parsed.ok()) {
    return Error(ErrorCode::kConfigInvalid,
                 std::string(key) + ": " + std::move(parsed).error().message())
        .With("key", key);
  }
  *out = *parsed;
  return Ok();
}

Status EventEnvironmentOf(const Invocation& inv, EventEnvironment* out) {
  const auto text = inv.Find<std::string>("event-environment");
  if (!text || *text == "inherit") return Ok();
  if (*text == "clean") {
    *out = EventEnvironment::kClean;
    return Ok();
  }
  return Error(ErrorCode::kConfigInvalid,
               "event-environment: " + QuoteUntrusted(*text) + " is neither inherit nor clean")
      .With("key", "event-environment");
}

// Each `image-credentials = ORIGIN FILE` line into *out, by normalised origin.
Status ImageCredentials(const Invocation& inv, std::map<std::string, std::filesystem::path>* out) {
  const auto lines = inv.Find<std::vector<std::string>>("image-credentials");
  if (!lines) return Ok();
  for (const std::string& line : *lines) {
    std::istringstream words(line);
    std::string origin_text, file, extra;
    words >> origin_text >> file >> extra;
    auto bad = [&](const std::string& why) {
      std::string message = "image-credentials \"" + line;
      message += "\": ";
      message += why;
      return Error(ErrorCode::kConfigInvalid, std::move(message)).With("key", "image-credentials");
    };
    if (file.empty() || !extra.empty()) {
      return bad("expected an origin and a credentials file: https://host[:port] FILE");
    }
    auto origin = ParseHttpsOrigin(origin_text);
    if (!origin.ok()) return bad(origin.error().message());
    const std::string key = origin->ToString();
    if (!out->emplace(key, file).second) return bad("a second entry for " + key);
  }
  return Ok();
}

}  // namespace

po::options_description GlobalOptions() {
  po::options_description g("Global options");
  g.add_options()                                                                              //
      ("config", po::value<std::string>(), "config file (default /etc/catcher/catcher.conf)")  //
      ("state-dir", po::value<std::string>(),
       "state directory (default /var/lib/catcher as root)")                                  //
      ("policy", po::value<std::string>(), "policy file (default /etc/catcher/policy.json)")  //
      ("ca-dir", po::value<std::string>(),
       "hashed CA directory (default /etc/grid-security/certificates)")  //
      ("event-command", po::value<std::string>(), "command run for each event (no shell)");
  return g;
}

po::options_description ConfigKeys() {
  po::options_description keys;
  keys.add_options()                                     //
      ("state-dir", po::value<std::string>())            //
      ("policy", po::value<std::string>())               //
      ("ca-dir", po::value<std::string>())               //
      ("event-command", po::value<std::string>())        //
      ("event-timeout", po::value<std::string>())        //
      ("event-environment", po::value<std::string>())    //
      ("proxy", po::value<std::string>())                //
      ("connect-timeout", po::value<std::string>())      //
      ("fetch-timeout", po::value<std::string>())        //
      ("low-speed-time", po::value<std::string>())       //
      ("low-speed-limit", po::value<long>())             //
      ("created-skew", po::value<std::string>())         //
      ("max-list-age", po::value<std::string>())         //
      ("min-rsa-bits", po::value<int>())                 //
      ("min-ec-bits", po::value<int>())                  //
      ("history", po::value<std::size_t>())              //
      ("downloads", po::value<unsigned>())               //
      ("download-min-rate", po::value<std::uint64_t>())  //
      ("download-min-time", po::value<std::string>())    //
      ("expired-grace", po::value<std::string>())        //
      ("interval", po::value<std::string>())             //
      ("formats", po::value<std::string>())              //
      ("image-credentials", po::value<std::vector<std::string>>());
  return keys;
}

std::optional<ConfigSource> LocateConfig(const po::variables_map& vm) {
  if (vm.count("config") != 0) return ConfigSource{vm["config"].as<std::string>(), true};
  return ConfigSource{kDefaultConfig, false};
}

Result<Settings> ResolveSettings(const Invocation& inv) {
  Settings s;
  s.state_dir = inv.Find<std::string>("state-dir").value_or(DefaultStateDir().string());
  if (auto p = inv.Find<std::string>("policy")) {
    s.policy_path = *p;
    s.policy_required = true;
  } else {
    s.policy_path = std::string(kDefaultPolicyPath);
  }
  s.ca_dir = inv.Find<std::string>("ca-dir").value_or(kDefaultCaDir);
  s.event_command = inv.Find<std::string>("event-command").value_or("");
  VMC_RETURN_IF_ERROR(Duration(inv, "event-timeout", &s.event_timeout));
  VMC_RETURN_IF_ERROR(EventEnvironmentOf(inv, &s.event_environment));
  VMC_RETURN_IF_ERROR(Duration(inv, "connect-timeout", &s.connect_timeout));
  VMC_RETURN_IF_ERROR(Duration(inv, "fetch-timeout", &s.fetch_timeout));
  VMC_RETURN_IF_ERROR(Duration(inv, "low-speed-time", &s.low_speed_time));
  VMC_RETURN_IF_ERROR(Duration(inv, "created-skew", &s.created_skew));
  if (inv.Find<std::string>("max-list-age")) {
    std::chrono::seconds age{};
    VMC_RETURN_IF_ERROR(Duration(inv, "max-list-age", &age));
    s.max_list_age = age;
  }
  s.key_minimums.rsa_bits = inv.Find<int>("min-rsa-bits").value_or(s.key_minimums.rsa_bits);
  s.key_minimums.ec_bits = inv.Find<int>("min-ec-bits").value_or(s.key_minimums.ec_bits);
  VMC_RETURN_IF_ERROR(CheckKeyMinimums(s.key_minimums));
  VMC_RETURN_IF_ERROR(Duration(inv, "expired-grace", &s.expired_grace));
  VMC_RETURN_IF_ERROR(Duration(inv, "interval", &s.interval));
  s.low_speed_limit = inv.Find<long>("low-speed-limit").value_or(s.low_speed_limit);
  s.history_limit = inv.Find<std::size_t>("history").value_or(s.history_limit);
  s.downloads = inv.Find<unsigned>("downloads").value_or(0);
  VMC_RETURN_IF_ERROR(Duration(inv, "download-min-time", &s.download_min_time));
  s.download_min_rate = inv.Find<std::uint64_t>("download-min-rate").value_or(s.download_min_rate);
  if (s.download_min_rate == 0) {
    return Error(ErrorCode::kConfigInvalid,
                 "download-min-rate: 0 bytes/s would give every download an endless time budget; "
                 "give a rate of at least 1")
        .With("key", "download-min-rate");
  }
  VMC_RETURN_IF_ERROR(ImageCredentials(inv, &s.image_credentials));
  if (auto formats = inv.Find<std::string>("formats")) {
    VMC_ASSIGN_OR_RETURN(s.formats, ParseFormats(*formats));
  }
  if (auto proxy = inv.Find<std::string>("proxy")) {
    // libcurl takes its proxy from the environment; an explicit environment
    // (the admin's shell, systemd's Environment=) wins over the config file.
    setenv("https_proxy", proxy->c_str(), 0);
    setenv("http_proxy", proxy->c_str(), 0);
  }
  return s;
}

HttpOptions HttpOptionsFor(const Settings& settings) {
  HttpOptions o;
  o.connect_timeout = settings.connect_timeout;
  o.fetch_timeout = settings.fetch_timeout;
  o.low_speed_time = settings.low_speed_time;
  o.low_speed_limit = settings.low_speed_limit;
  // TLS to list servers is verified against the grid CA directory when it
  // exists, as vmcatcher did; otherwise the system bundle.
  std::error_code ec;
  if (std::filesystem::is_directory(settings.ca_dir, ec)) o.ca_dir = settings.ca_dir;
  return o;
}

unsigned DownloadsAtOnce(const Settings& settings) {
  if (settings.downloads > 0) return settings.downloads;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? cores : 2;
}

}  // namespace vmc::catcher
