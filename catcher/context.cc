#include "catcher/context.h"

#include "common/log.h"

namespace vmc::catcher {

Result<Context> OpenContext(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(Settings settings, ResolveSettings(inv));
  VMC_ASSIGN_OR_RETURN(Policy policy, LoadPolicy(settings.policy_path, settings.policy_required));
  VMC_ASSIGN_OR_RETURN(State state, State::Open(settings.state_dir));
  std::vector<std::string> warnings;
  VMC_ASSIGN_OR_RETURN(auto subscriptions, AllSubscriptions(policy, state, &warnings));
  for (const auto& w : warnings) LogWarning(w);
  return Context{std::move(settings), std::move(policy), std::move(state),
                 std::move(subscriptions)};
}

}  // namespace vmc::catcher
