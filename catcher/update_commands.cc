// catcher update | verify
#include "catcher/commands.h"
#include "catcher/context.h"
#include "catcher/update.h"
#include "common/log.h"
#include "common/output.h"
#include "common/verify_command.h"

namespace vmc::catcher {
namespace {

struct SubscriptionResult {
  std::string name;
  std::optional<Error> error;
  UpdateOutcome outcome;
};

AttemptRecord AttemptFor(const SubscriptionResult& r, TimePoint now) {
  if (r.error) {
    return {now, std::string(ErrorCodeName(r.error->code())), r.error->message(),
            ExitStatusFor(r.error->code())};
  }
  return {now, r.outcome.changed ? "updated" : "unchanged", "", 0};
}

Status Update(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(Context ctx, OpenContext(inv));
  const auto names =
      inv.Find<std::vector<std::string>>("subscription").value_or(std::vector<std::string>{});
  VMC_ASSIGN_OR_RETURN(const auto selected, SelectSubscriptions(ctx.subscriptions, names));
  VMC_ASSIGN_OR_RETURN(HttpClient client, HttpClient::Create(HttpOptionsFor(ctx.settings)));
  // One "now" for the whole cycle; the trust store is built afresh for each
  // verification (common/trust.h), so a replaced CRL counts at once.
  const TimePoint now = SystemClock().Now();
  const UpdateParameters params{ctx.settings.ca_dir, now, ctx.settings.created_skew,
                                ctx.policy.limits.max_list_bytes, ctx.settings.history_limit};
  std::vector<SubscriptionResult> results;
  for (const auto& sub : selected) {
    SubscriptionResult r{sub.name, std::nullopt, {}};
    auto outcome = UpdateSubscription(client, ctx.state, sub, params);
    if (outcome.ok()) {
      r.outcome = std::move(outcome).value();
      for (const auto& w : r.outcome.warnings) LogWarning(w);
    } else {
      r.error = std::move(outcome).error();
      LogError(r.error->message());
    }
    // Only the record of the attempt changes when a list is refused.
    VMC_RETURN_IF_ERROR(ctx.state.RecordAttempt(sub.name, AttemptFor(r, now)));
    results.push_back(std::move(r));
  }
  rapidjson::StringBuffer b;
  JsonWriter w(b);
  w.StartArray();
  const Error* worst = nullptr;
  std::string worst_name;
  size_t failures = 0;
  for (const auto& r : results) {
    w.StartObject();
    Field(w, "subscription", r.name);
    if (r.error) {
      ++failures;
      if (worst == nullptr || ExitStatusFor(r.error->code()) > ExitStatusFor(worst->code())) {
        worst = &*r.error;
        worst_name = r.name;
      }
      Field(w, "result", ErrorCodeName(r.error->code()));
      Field(w, "message", r.error->message());
    } else {
      Field(w, "result", r.outcome.changed ? "updated" : "unchanged");
      Field(w, "version", r.outcome.version);
      if (!inv.json) {
        *inv.out << r.name << ": " << (r.outcome.changed ? "updated to" : "unchanged at")
                 << " version " << r.outcome.version << "\n";
      }
    }
    w.EndObject();
  }
  w.EndArray();
  if (inv.json) *inv.out << b.GetString() << "\n";
  if (worst == nullptr) return Ok();
  // The exit status reflects the worst failure (the highest status).
  return Error(worst->code(), std::to_string(failures) + " of " + std::to_string(results.size()) +
                                  " subscriptions failed (the worst: " +
                                  std::string(ErrorCodeName(worst->code())) + ", subscription " +
                                  worst_name + "; see 'catcher subscriptions')")
      .With("subscription", worst_name);
}

Status Verify(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(const Settings settings, ResolveSettings(inv));
  return RunVerify(inv, settings.ca_dir);
}

}  // namespace

void AddUpdateCommands(CommandLine& cli) {
  cli.Add({{"update"},
           "fetch, verify and store the lists of all (or the named) subscriptions",
           "[SUB ...]",
           "Runs the nine verification steps for each subscription. One subscription's "
           "failure does not stop the others; the exit status is the worst failure's.",
           [](po::options_description& o, po::positional_options_description& p) {
             o.add_options()("subscription", po::value<std::vector<std::string>>(),
                             "subscription names (default: all)");
             p.add("subscription", -1);
           },
           Update});
  cli.Add({{"verify"},
           "check a signed list offline, as an update would",
           "FILE",
           "Uses the CA directory of --ca-dir or the config file.",
           DefineVerifyOptions,
           Verify});
}

}  // namespace vmc::catcher
