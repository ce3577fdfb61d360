// What every catcher command starts from: its settings, the admin's policy,
// the state database and the subscriptions of both origins.
#ifndef VMC_CATCHER_CONTEXT_H_
#define VMC_CATCHER_CONTEXT_H_

#include <string>
#include <vector>

#include "catcher/policy.h"
#include "catcher/settings.h"
#include "catcher/state.h"
#include "catcher/subscription.h"
#include "common/cli.h"

namespace vmc::catcher {

struct Context {
  Settings settings;
  Policy policy;
  State state;
  std::vector<ResolvedSubscription> subscriptions;
};

// Resolves settings, loads the policy (kPolicyInvalid: exit 2), opens the
// state database and lists the subscriptions. Warnings are logged.
Result<Context> OpenContext(const Invocation& inv);

// Lists the subscriptions of ctx.policy and ctx.state again, into
// ctx.subscriptions: a long-running process (the daemon) calls it before each
// cycle, so that subscriptions made or removed meanwhile with `catcher
// subscribe` / `unsubscribe` count. Warnings are logged; on failure
// ctx.subscriptions is unchanged.
Status RefreshSubscriptions(Context& ctx);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_CONTEXT_H_
