// catcher cache [--download] [--expire] [--check]
#include "catcher/cache.h"
#include "catcher/commands.h"
#include "catcher/cycle.h"
#include "common/log.h"
#include "common/output.h"

namespace vmc::catcher {
namespace {

void PrintReport(const Invocation& inv, const CacheSteps& steps, const CacheReport& report) {
  if (inv.json) {
    rapidjson::StringBuffer b;
    JsonWriter w(b);
    w.StartObject();
    Field(w, "downloaded", static_cast<uint64_t>(report.downloaded));
    Field(w, "made_available", static_cast<uint64_t>(report.made_available));
    Field(w, "converted", static_cast<uint64_t>(report.converted));
    Field(w, "expired", static_cast<uint64_t>(report.expired));
    Field(w, "purged", static_cast<uint64_t>(report.purged));
    if (steps.check) {
      Field(w, "checked", static_cast<uint64_t>(report.checked));
      Field(w, "checked_bytes", report.checked_bytes);
    }
    w.Key("failures");
    w.StartArray();
    for (const auto& f : report.failures) w.String(f.c_str());
    w.EndArray();
    w.EndObject();
    *inv.out << b.GetString() << "\n";
  } else {
    // What --check proved, first: "0 failures" alone would not say whether
    // there was anything to check.
    if (steps.check) {
      *inv.out << "checked " << Counted(static_cast<std::size_t>(report.checked), "file") << " ("
               << report.checked_bytes << " bytes), ";
    }
    *inv.out << "downloaded " << report.downloaded << ", made available " << report.made_available
             << ", converted " << report.converted << ", expired " << report.expired << ", purged "
             << report.purged << ", failures " << report.failures.size() << "\n";
  }
}

Status Cache(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(Context ctx, OpenContext(inv));
  CacheSteps steps{inv.Has("check"), inv.Has("download"), inv.Has("expire")};
  if (!steps.download && !steps.expire && !steps.check) steps.download = steps.expire = true;
  VMC_ASSIGN_OR_RETURN(Cycle cycle, Cycle::Begin(ctx, SystemClock()));
  CacheReport report;
  VMC_RETURN_IF_ERROR(RunCache(cycle, steps, nullptr, report));
  cycle.LogWork();
  PrintReport(inv, steps, report);
  if (report.first_error) {
    return Error(report.first_error->code(),
                 std::to_string(report.failures.size()) +
                     " cache failure(s); the first: " + report.first_error->message());
  }
  return Ok();
}

}  // namespace

void AddCacheCommands(CommandLine& cli) {
  cli.Add({{"cache"},
           "download wanted images and expire unwanted ones (default: both)",
           "[--download] [--expire] [--check]",
           "--check re-hashes every cached file and moves corrupt ones out.",
           [](po::options_description& o, po::positional_options_description&) {
             o.add_options()("download", "download wanted images")(
                 "expire", "move images no longer wanted to expired/")(
                 "check", "re-hash the cache and move corrupt files out");
           },
           Cache});
}

}  // namespace vmc::catcher
