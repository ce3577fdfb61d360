// Updating a subscription: the nine verification steps of DESIGN.md section 5,
// in order, at one fixed "now", in one function (UpdateSubscription) that a
// reviewer can hold against the design:
//   1. fetch (size cap, timeouts, protocols, TLS, conditional GET)
//   2. S/MIME: exactly one signer, signature and content digest
//   3. the signer's chain to the CA directory with CRLs, fresh trust store
//   4. the signer is this subscription's endorser (and, once the content is
//      parsed, the endorser the list itself names)
//   5. JSON from the verified bytes only, validated by the schema
//   6. the list identifier is the subscription's
//   7. created not in the future, expires in the future, not older than
//      max-list-age (when set)
//   8. no rollback, no reused version
//   9. the exact bytes and the facts stored in one transaction
// A refusal at any step changes nothing but the record of the attempt.
//
// A 304 answer re-judges the stored list at the new "now" (what can have
// changed, or steps 2-8 in full: UnchangedLists), so a list that expired, or
// whose endorser was revoked since, is refused even when the server has
// nothing new.
//
// Thread-safety: reentrant; one HttpClient per thread.
#ifndef VMC_CATCHER_UPDATE_H_
#define VMC_CATCHER_UPDATE_H_

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catcher/cache_layout.h"
#include "catcher/context.h"
#include "catcher/state.h"
#include "catcher/subscription.h"
#include "common/clock.h"
#include "common/defaults.h"
#include "common/error.h"
#include "common/http.h"
#include "common/imagelist.h"
#include "common/smime.h"
#include "common/trust.h"

namespace vmc::catcher {

struct UpdateParameters {
  std::filesystem::path ca_dir;
  // The cycle's trust store (DESIGN.md 5, step 3: fresh for every cycle);
  // null: a store is built for each verification.
  std::shared_ptr<const TrustStore> trust;
  // Why the cycle could not open its store (kCaDirInvalid): no list can pass
  // step 3, so each update says so before it fetches anything.
  std::optional<Error> trust_error;
  // Step 3's key minimums, for a store built without `trust`.
  KeyMinimums key_minimums;
  TimePoint now;  // the one instant every step judges
  std::chrono::seconds created_skew = kDefaultCreatedSkew;
  // The config's max-list-age (step 7); a subscription's own wins.
  std::optional<std::chrono::seconds> max_list_age;
  std::uint64_t max_list_bytes = kDefaultMaxListBytes;
  std::size_t history_limit = kDefaultHistoryLimit;
};

// The update parameters of `ctx` at `now`, without a trust store (a cycle
// opens its one store, catcher/cycle.h; without one, each verification opens
// its own).
UpdateParameters UpdateParametersFor(const Context& ctx, TimePoint now);

// What steps 3-8 made of a message whose signature step 2 proved.
struct CheckedContent {
  ImageList list;
  std::string content_sha512;
  std::vector<std::string> warnings;
};

// A list that passed steps 2-8.
struct VerifiedCandidate {
  VerifiedMessage message;
  ImageList list;
  std::string content_sha512;
  std::vector<std::string> warnings;
  std::optional<SmimeSplit> split;  // of the bytes verified, to keep with them
};

// For a list the server reports unchanged (304): its bytes are those
// verified and stored at an earlier cycle, so the answers of step 2 (a
// signature over the same bytes), step 5 (JSON of the same bytes) and step 8
// (the same version and content) cannot have changed. What can is judged
// again, from what was recorded when the list was accepted: the chain at this
// cycle's instant with this cycle's CRLs (step 3), the endorser and the list
// identifier the policy trusts now (steps 4 and 6), the dates (step 7). Each
// use of a stored list (the cache's inventory) still verifies its bytes in
// full. REQUIRES: !current.certificates.empty().
Status VerifyUnchanged(const AcceptedList& current, const ResolvedSubscription& sub,
                       const UpdateParameters& params);

// Steps 2 to 8 over `signed_bytes` for `sub`, given the list it holds now
// (null before the first update).
Result<VerifiedCandidate> VerifyCandidate(std::string_view signed_bytes,
                                          const ResolvedSubscription& sub,
                                          const AcceptedList* current,
                                          const UpdateParameters& params);

// Steps 3 to 8 over a message step 2 verified (VerifySmime): for a caller
// that keeps the message when the list is refused.
Result<CheckedContent> CheckVerifiedMessage(const VerifiedMessage& message,
                                            const ResolvedSubscription& sub,
                                            const AcceptedList* current,
                                            const UpdateParameters& params);

// A stored list as steps 2-8 judged it at a cycle's now: what the cycle's
// inventory takes instead of verifying the same bytes again.
struct JudgedList {
  std::string content_sha512;  // of the content, as stored (AcceptedList)
  // The list; a refused one as far as its signature proved it (its images
  // are shown as expired), none when those bytes are no readable list.
  std::optional<ImageList> list;
  std::string refusal;  // why steps 2-8 refuse it; empty: verified
};

// Steps 2-8 over the bytes of a stored list at params.now, its signature
// verified once (rollback holds trivially against itself), through the split
// kept with them (stored.split) when it serves (VerifySmimeKept). Its
// warnings are dropped: an unchanged list said them when it was accepted.
struct StoredListJudgement {
  JudgedList judged;
  std::optional<Error> error;  // the refusal, as the update reports it
  // The bytes' split, made now because none served: for the caller to keep.
  std::optional<SmimeSplit> split;
};
StoredListJudgement JudgeStoredList(const ResolvedSubscription& sub, const AcceptedList& stored,
                                    const UpdateParameters& params);

// The facts to store for a verified candidate (step 9's input).
AcceptedList ToAcceptedList(const VerifiedCandidate& candidate, std::string signed_bytes,
                            const FetchResult& fetch, TimePoint now);

struct UpdateOutcome {
  bool changed = false;  // a new list was accepted (false: unchanged)
  std::string version;
  std::vector<std::string> warnings;
  // Images the new list has and the previous one had not (none on the first
  // update): each fires SubscriptionImageNew.
  std::vector<std::string> new_images;
  // A subscription made with `catcher subscribe` that another process removed
  // (`catcher unsubscribe`) before or while it was updated: nothing was
  // stored for it, and it is no subscription any more.
  bool removed = false;
  // The server answered 304 for the list held: its validators, recorded with
  // the cycle's attempts (UpdateAll) rather than in a transaction of its own.
  std::optional<ListTouch> touch;
  // The list held after the update when steps 2-8 ran over it (a new list,
  // or a 304 verified in full, refused or not); none when a 304 was judged
  // without them (VerifyUnchanged).
  std::optional<JudgedList> judged;
  // A split of the list held made by steps 2-8 over its stored bytes, for
  // the cycle's records to keep (UpdateAll).
  std::optional<ListSplit> split;
};

// Runs the nine steps for one subscription. When another process stored a
// list for it meanwhile (step 9 refuses a list verified against a list no
// longer held), the steps run again from the fetch, which finds what that
// process stored: concurrent updates of one subscription (the daemon's and a
// command's) both succeed. kLocked only when that keeps happening.
Result<UpdateOutcome> UpdateSubscription(HttpClient& client, State& state,
                                         const ResolvedSubscription& sub,
                                         const UpdateParameters& params);

// The result of one subscription's update in a cycle.
struct SubscriptionUpdate {
  std::string name;
  std::optional<Error> error;
  UpdateOutcome outcome;
};

// How a cycle's update judges a list the server reports unchanged (304).
enum class UnchangedLists {
  // VerifyUnchanged: only what can have changed since it was accepted. For
  // an update that nothing consumes after it (`catcher update`).
  kJudge,
  // Steps 2-8 in full over the stored bytes (JudgeStoredList), on a pool of
  // threads while the next lists are fetched, kept in the outcome (judged):
  // for a cycle whose inventory would verify every stored list in full
  // anyway, and takes these instead (catcher/cycle.h).
  kVerifyInFull,
};

// Updates `subs` at one `now`: runs UpdateSubscription for each (one's
// failure does not stop the others), judging unchanged lists as `unchanged`
// says, records every attempt and 304 in one transaction at the end, and
// fires SubscriptionImageNew for images new in a subscription's list (from
// the list just verified: it is not read again). A subscription found
// removed (UpdateOutcome::removed) is left out of the results and gets no
// attempt record.
std::vector<SubscriptionUpdate> UpdateAll(HttpClient& client, State& state,
                                          const std::vector<ResolvedSubscription>& subs,
                                          const UpdateParameters& params,
                                          const class EventRunner& events,
                                          const CacheLayout& layout, UnchangedLists unchanged);

// The worst failure of a cycle (the highest exit status), as one Error that
// names it; Ok() when all succeeded.
Status WorstFailure(const std::vector<SubscriptionUpdate>& results);

// Fetches `url` (step 1) with the subscription's credentials and validators,
// over the protocols ListProtocols allows. Refuses (CheckListCredentials)
// credentials for a URL that is not https, before any I/O.
Result<FetchResult> FetchList(HttpClient& client, const std::string& url,
                              const std::string& credentials_file,
                              const std::optional<AcceptedList>& current,
                              std::uint64_t max_list_bytes);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_UPDATE_H_
