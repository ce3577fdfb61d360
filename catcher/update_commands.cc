// catcher update | verify
#include "catcher/commands.h"
#include "catcher/context.h"
#include "catcher/cycle.h"
#include "catcher/update.h"
#include "common/log.h"
#include "common/output.h"
#include "common/verify_command.h"

namespace vmc::catcher {
namespace {

Status Update(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(Context ctx, OpenContext(inv));
  const auto names =
      inv.Find<std::vector<std::string>>("subscription").value_or(std::vector<std::string>{});
  VMC_ASSIGN_OR_RETURN(const auto selected, SelectSubscriptions(ctx.subscriptions, names));
  // One "now" and one trust store for the whole cycle (catcher/cycle.h),
  // read afresh by every run, so a replaced CRL counts at once.
  VMC_ASSIGN_OR_RETURN(Cycle cycle, Cycle::Begin(ctx, SystemClock()));
  // Nothing consumes the lists after it: an unchanged one is only judged.
  VMC_ASSIGN_OR_RETURN(const auto results, cycle.Update(selected, UnchangedLists::kJudge));
  cycle.LogWork();
  rapidjson::StringBuffer b;
  JsonWriter w(b);
  w.StartArray();
  for (const auto& r : results) {
    w.StartObject();
    Field(w, "subscription", r.name);
    if (r.error) {
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
  return WorstFailure(results);
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
