#include "catcher/context.h"

#include "catcher/cache_layout.h"
#include "catcher/events.h"
#include "catcher/update.h"
#include "common/log.h"

namespace vmc::catcher {

UpdateParameters UpdateParametersFor(const Context& ctx, TimePoint now) {
  UpdateParameters params;
  params.ca_dir = ctx.settings.ca_dir;
  params.key_minimums = ctx.settings.key_minimums;
  // One store for the cycle. When the directory is unusable, none: each
  // verification then reports why (kCaDirInvalid) in its own result.
  if (auto trust = TrustStore::Open(ctx.settings.ca_dir, ctx.settings.key_minimums); trust.ok()) {
    params.trust = std::make_shared<const TrustStore>(std::move(trust).value());
  }
  params.now = now;
  params.created_skew = ctx.settings.created_skew;
  params.max_list_age = ctx.settings.max_list_age;
  params.max_list_bytes = ctx.policy.limits.max_list_bytes;
  params.history_limit = ctx.settings.history_limit;
  return params;
}

Result<EventRunner> MakeEventRunner(const Settings& settings) {
  // <state>/events/: the handlers' metadata files (events.h).
  const std::filesystem::path metadata_dir = settings.state_dir / "events";
  if (settings.event_command.empty()) return EventRunner({}, settings.event_timeout, metadata_dir);
  VMC_ASSIGN_OR_RETURN(auto argv, SplitCommandLine(settings.event_command));
  return EventRunner(std::move(argv), settings.event_timeout, metadata_dir);
}

Status RefreshSubscriptions(Context& ctx) {
  std::vector<std::string> warnings;
  VMC_ASSIGN_OR_RETURN(auto subscriptions, AllSubscriptions(ctx.policy, ctx.state, &warnings));
  for (const auto& w : warnings) LogWarning(w);
  ctx.subscriptions = std::move(subscriptions);
  return Ok();
}

Result<Context> OpenContext(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(Settings settings, ResolveSettings(inv));
  VMC_ASSIGN_OR_RETURN(Policy policy, LoadPolicy(settings.policy_path, settings.policy_required));
  // Before LMDB opens db/data.mdb by name: no link and no directory others
  // can write on the way.
  VMC_RETURN_IF_ERROR(CheckStateDirectory(settings.state_dir));
  VMC_ASSIGN_OR_RETURN(State state, State::Open(settings.state_dir));
  std::vector<std::string> warnings;
  VMC_ASSIGN_OR_RETURN(auto subscriptions, AllSubscriptions(policy, state, &warnings));
  for (const auto& w : warnings) LogWarning(w);
  return Context{std::move(settings), std::move(policy), std::move(state),
                 std::move(subscriptions)};
}

}  // namespace vmc::catcher
