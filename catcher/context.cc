#include "catcher/context.h"

#include "catcher/cache_layout.h"
#include "common/log.h"

namespace vmc::catcher {

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
