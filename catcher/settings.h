// catcher's settings: global options, the config file (INI, read by
// Boost.Program_options) and the defaults, in that order of precedence.
//
//   state dir:  --state-dir, `state-dir`, else /var/lib/catcher as root and
//               $XDG_DATA_HOME/catcher (~/.local/share/catcher) otherwise
//   config:     --config (must exist), else /etc/catcher/catcher.conf (may be
//               absent)
//   policy:     --policy (must exist), `policy`, else /etc/catcher/policy.json
//               (absent: an empty policy)
//   CA dir:     --ca-dir, `ca-dir`, else /etc/grid-security/certificates
//
// Thread-safety: plain values.
#ifndef VMC_CATCHER_SETTINGS_H_
#define VMC_CATCHER_SETTINGS_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/defaults.h"
#include "common/http.h"
#include "common/trust.h"

namespace vmc::catcher {

// What a handler's environment starts from (`event-environment`): the
// daemon's own, as vmcatcher gives it (a handler reads OS_CLOUD, a proxy or
// its own settings there), or only PATH, HOME, LANG, LC_ALL and TZ.
enum class EventEnvironment { kInherit, kClean };

struct Settings {
  std::filesystem::path state_dir;
  std::filesystem::path policy_path;
  bool policy_required = false;  // given explicitly: its absence is an error
  std::filesystem::path ca_dir;
  std::string event_command;
  std::chrono::seconds event_timeout{300};
  EventEnvironment event_environment = EventEnvironment::kInherit;
  // Transfers.
  std::chrono::seconds connect_timeout{30};
  std::chrono::seconds fetch_timeout{300};
  std::chrono::seconds low_speed_time{60};
  long low_speed_limit = 1024;  // bytes/s over low_speed_time
  // `image-credentials = https://host[:port] FILE` (repeatable): the
  // credentials an image host gets, by its exact origin (UrlOrigin::ToString).
  // Only https origins; a subscription's own credentials go only to its list's
  // origin (see CredentialsForImage in cache.cc).
  std::map<std::string, std::filesystem::path> image_credentials;
  // Verification.
  std::chrono::seconds created_skew = kDefaultCreatedSkew;
  // A list created longer ago than this is refused (step 7); none: no cap.
  // A policy subscription's max_list_age wins over it.
  std::optional<std::chrono::seconds> max_list_age;
  // The weakest signer and CA keys accepted (step 3): may only be raised.
  KeyMinimums key_minimums;
  std::size_t history_limit = kDefaultHistoryLimit;
  // The cache and the daemon.
  unsigned downloads = 0;  // at once; 0: the number of cores
  // Each download's time budget: hv:size over download_min_rate bytes/s, at
  // least download_min_time (catcher/download_budget.h).
  std::uint64_t download_min_rate = 64 * 1024;
  std::chrono::seconds download_min_time{std::chrono::minutes(5)};
  std::chrono::seconds expired_grace{std::chrono::hours(24 * 7)};
  std::chrono::seconds interval{std::chrono::hours(1)};
  // `formats`: the image formats the site takes, in order of preference
  // (normalised, catcher/image_format.h); empty: every format as it is. A
  // policy subscription's own formats win (catcher/image_conversion.h).
  std::vector<std::string> formats;
};

po::options_description GlobalOptions();
po::options_description ConfigKeys();
std::optional<ConfigSource> LocateConfig(const po::variables_map& vm);

// Resolves the settings of this invocation; kConfigInvalid for bad values.
Result<Settings> ResolveSettings(const Invocation& inv);

// Downloads at once: the setting, else the core count.
unsigned DownloadsAtOnce(const Settings& settings);

// The HTTP options the settings imply (CA dir also used for TLS).
HttpOptions HttpOptionsFor(const Settings& settings);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_SETTINGS_H_
