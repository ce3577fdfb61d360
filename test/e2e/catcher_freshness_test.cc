// End-to-end tests of freshness beyond expiry (issue 11, TUF's indefinite
// freeze and fast-forward): `max-list-age` (config and policy) refuses a list
// that is still unexpired but too old, also when a 304 judges the held list
// again; `catcher subscription reset-version` recovers from a compromised key
// that signed a huge hv:version, once, and is kept in the list history; the
// Prometheus gauge `catcher_subscription_last_verified_timestamp_seconds`
// moves with every judgement that found the list current (a 304 included)
// and never with a refusal. The real catcher against nginx on loopback.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "test/support/catcher_e2e.h"
#include "test/support/json_output.h"
#include "test/support/list_factory.h"
#include "test/support/subprocess.h"

namespace vmc::test {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

TimePoint Now() { return std::chrono::time_point_cast<seconds>(std::chrono::system_clock::now()); }

class CatcherFreshnessTest : public CatcherE2eTest<CatcherFreshnessTest> {
 protected:
  static ListSpec Spec(const std::string& id, const std::string& version) {
    ListSpec s;
    s.identifier = id;
    s.version = version;
    ImageSpec image;
    image.identifier = "img-a";
    s.images = {image};
    return s;
  }

  // Runs `update --json` and expects `code` (exit `status`) for "sub".
  void ExpectRefused(const std::string& code, int status) const {
    SCOPED_TRACE("expecting " + code);
    const RunResult r = Catcher({"--json", "update"});
    EXPECT_EQ(r.exit_code, status) << Describe(r);
    EXPECT_EQ(ErrorCodeOf(r), code) << Describe(r);
    EXPECT_EQ(UpdateResults(r)["sub"], code) << Describe(r);
  }

  // `subscriptions --json`, the item of "sub", parsed.
  std::unique_ptr<rapidjson::Document> SubscriptionJson() const {
    const RunResult r = Catcher({"--json", "subscriptions"});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    auto doc = ParseJson(Lines(r.out).empty() ? "" : Lines(r.out).front());
    EXPECT_TRUE(doc && doc->IsArray() && doc->Size() == 1) << r.out;
    return doc;
  }

  // The value of `metric{subscription="sub"}` in `status --prometheus`, or -1.
  long long Gauge(const std::string& metric) const {
    const RunResult r = Catcher({"status", "--prometheus"});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    const std::string prefix = metric + "{subscription=\"sub\"} ";
    for (const auto& line : Lines(r.out)) {
      if (line.rfind(prefix, 0) == 0) return std::stoll(line.substr(prefix.size()));
    }
    ADD_FAILURE() << "no " << prefix << " in:\n" << r.out;
    return -1;
  }
};

// max-list-age: a replayed list that is still unexpired is refused once it is
// older than the cap, from the config or from the policy's subscription.
TEST_F(CatcherFreshnessTest, MaxListAgeRefusesAnUnexpiredOldList) {
  WritePolicy(Sub("sub", Url("list")));
  const std::string id = NewTestUuid();
  // Default off: a list made 100 days ago, valid for a year, is accepted.
  ListSpec old = Spec(id, "1");
  old.created = Now() - hours(24 * 100);
  old.expires = Now() + hours(24 * 365);
  Publish("list", old);
  UpdateOk();

  // With the cap in the config, the same list (a 304 now) is refused.
  WriteFile(config_, "max-list-age = 30d\n");
  const auto before = DumpWithoutAttempts();
  ExpectRefused("list-too-old", 5);
  EXPECT_EQ(DumpWithoutAttempts(), before) << "a refused list changed the database";
  const auto log = server_->WaitForLog("/" + name_ + "/list", 2);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log.back().status, 304) << "the held list was to be judged again after a 304";
  EXPECT_NE(Subscriptions()["sub"]["message"].find("max-list-age"), std::string::npos);

  // Near the boundary over HTTP (the exact second is the unit test's): a list
  // made 30 days less a minute ago is accepted, one made 30 days and a
  // minute ago is not.
  ListSpec fresh = Spec(id, "2");
  fresh.created = Now() - hours(24 * 30) + seconds(60);
  Publish("list", fresh);
  UpdateOk();
  ListSpec stale = Spec(id, "3");
  stale.created = Now() - hours(24 * 30) - seconds(60);
  Publish("list", stale);
  ExpectRefused("list-too-old", 5);

  // The policy's max_list_age wins over the config's, either way.
  WritePolicy(Sub("sub", Url("list"), "e1", R"(, "max_list_age": "60d")"));
  UpdateOk();
  WritePolicy(Sub("sub", Url("list"), "e1", R"(, "max_list_age": "1d")"));
  ExpectRefused("list-too-old", 5);

  // A cap that is no duration is refused where it is written.
  WritePolicy(Sub("sub", Url("list"), "e1", R"(, "max_list_age": "soon")"));
  EXPECT_EQ(Catcher({"--json", "update"}).exit_code, 2);
  WritePolicy(Sub("sub", Url("list")));
  WriteFile(config_, "max-list-age = forever\n");
  const RunResult bad = Catcher({"--json", "update"});
  EXPECT_EQ(bad.exit_code, 2) << Describe(bad);
  EXPECT_EQ(ErrorCodeOf(bad), "config-invalid");
}

// A compromised key signed hv:version 1000000: the endorser's real list (5)
// is a rollback until the admin resets the version, and then only once.
TEST_F(CatcherFreshnessTest, ResetVersionAcceptsALowerVersionOnce) {
  WritePolicy(Sub("sub", Url("list")));
  const std::string id = NewTestUuid();
  Publish("list", Spec(id, "1000000"));
  UpdateOk();
  Publish("list", Spec(id, "5"));
  ExpectRefused("version-rollback", 5);
  EXPECT_NE(Subscriptions()["sub"]["message"].find("reset-version"), std::string::npos)
      << "the refusal should name the way out";

  // Without a reason, or for no such subscription: refused, nothing changes.
  const auto before = DumpWithoutAttempts();
  EXPECT_EQ(Catcher({"subscription", "reset-version", "sub"}).exit_code, 1);
  EXPECT_EQ(Catcher({"subscription", "reset-version", "sub", "--reason", " "}).exit_code, 1);
  const RunResult unknown =
      Catcher({"--json", "subscription", "reset-version", "nosuch", "--reason", "x"});
  EXPECT_EQ(unknown.exit_code, 5) << Describe(unknown);
  EXPECT_EQ(ErrorCodeOf(unknown), "not-found");
  EXPECT_EQ(DumpWithoutAttempts(), before);

  const TimePoint reset_at = Now();
  const RunResult reset = Catcher({"--json", "subscription", "reset-version", "sub", "--reason",
                                   "endorser key compromised, see ticket 42"});
  ASSERT_EQ(reset.exit_code, 0) << Describe(reset);
  {
    auto doc = SubscriptionJson();
    ASSERT_TRUE(doc && doc->Size() == 1);
    const auto& sub = (*doc)[0];
    ASSERT_TRUE(sub["version_reset"].IsObject()) << Describe(reset);
    EXPECT_EQ(Str(sub["version_reset"], "reason"), "endorser key compromised, see ticket 42");
    EXPECT_EQ(Str(sub["version_reset"], "from_version"), "1000000");
    auto at = ParseDate(Str(sub["version_reset"], "at"));
    ASSERT_TRUE(at.ok());
    EXPECT_GE(*at, reset_at);
    EXPECT_LE(*at, Now());
    ASSERT_TRUE(sub["history"].IsArray());
    ASSERT_EQ(sub["history"].Size(), 1u);
    EXPECT_EQ(Str(sub["history"][0], "event"), "reset-version");
    EXPECT_EQ(Str(sub["history"][0], "reason"), "endorser key compromised, see ticket 42");
    EXPECT_EQ(Str(sub["history"][0], "version"), "1000000");
  }

  // The lower version is accepted, once.
  UpdateOk();
  EXPECT_EQ(Subscriptions()["sub"]["version"], "5");
  {
    auto doc = SubscriptionJson();
    ASSERT_TRUE(doc && doc->Size() == 1);
    const auto& sub = (*doc)[0];
    EXPECT_TRUE(sub["version_reset"].IsNull());
    // The reset stays in the history, beside the version it lifted.
    ASSERT_EQ(sub["history"].Size(), 2u);
    EXPECT_EQ(Str(sub["history"][0], "event"), "reset-version");
    EXPECT_EQ(Str(sub["history"][1], "event"), "accepted");
    EXPECT_EQ(Str(sub["history"][1], "version"), "1000000");
  }
  Publish("list", Spec(id, "4"));
  ExpectRefused("version-rollback", 5);
  Publish("list", Spec(id, "6"));
  UpdateOk();
}

// The gauge an alert watches for a frozen feed: it moves with an accepted
// list and with a 304 judged again, and not with a refusal.
TEST_F(CatcherFreshnessTest, LastVerifiedGaugeFollowsEveryJudgement) {
  const std::string metric = "catcher_subscription_last_verified_timestamp_seconds";
  WritePolicy(Sub("sub", Url("list")));
  const std::string id = NewTestUuid();
  Publish("list", Spec(id, "1"));
  const TimePoint t0 = Now();
  UpdateOk();
  const long long first = Gauge(metric);
  EXPECT_GE(first, t0.time_since_epoch().count());
  EXPECT_LE(first, Now().time_since_epoch().count());

  // A second later the server answers 304: judged current again.
  ASSERT_TRUE(WaitFor([&] { return Now().time_since_epoch().count() > first; }, seconds(3)));
  UpdateOk();
  const auto log = server_->WaitForLog("/" + name_ + "/list", 2);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log.back().status, 304);
  const long long second = Gauge(metric);
  EXPECT_GT(second, first);

  // A refused list leaves it where it was.
  ASSERT_TRUE(WaitFor([&] { return Now().time_since_epoch().count() > second; }, seconds(3)));
  Publish("list", Spec(id, "0"));
  ExpectRefused("version-rollback", 5);
  EXPECT_EQ(Gauge(metric), second);
  // And the HELP/TYPE lines are there for node_exporter.
  const RunResult r = Catcher({"status", "--prometheus"});
  EXPECT_NE(r.out.find("# TYPE " + metric + " gauge"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace vmc::test
