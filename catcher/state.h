// The catcher's database (DESIGN.md section 6): one LMDB environment in
// <state-dir>/db holding
//   "subscriptions"  name -> a subscription made with `catcher subscribe`
//   "lists"          name -> the accepted list's facts (AcceptedList, JSON)
//   "list_bytes"     name -> the exact signed bytes accepted (step 9)
//   "history"        name/<seq> -> earlier accepted versions (bounded)
//   "attempts"       name -> the last update attempt: when, result, reason
//   "seen"           name/<image> -> when an image was first seen, and
//                    whether in the subscription's first list; only the
//                    images the held list names (pruned as each is stored)
//   "choices"        image -> the admin's accept/refuse
//   "cached"         image -> what the cache announced to the event handler
//                    (the event variables, so that its expiry can be
//                    announced with the same metadata after the image left
//                    its list), and whether AvailablePostfix is still due
//   "inspections"    sha512 -> what the inspection of those bytes found
//   "conversions"    sha512/format -> those bytes converted to that format
// Keys are built only from names and identifiers that passed
// ValidateIdentifier(), so "/" never occurs inside one. The values are
// state_values.h's, their encoding state_records.h's.
//
// Each method is one transaction (Environment::Update/View), so no
// transaction outlives a call, and none spans network I/O.
//
// Thread-safety: a State is thread-safe; several processes may open the same
// directory (the daemon and a command).
#ifndef VMC_CATCHER_STATE_H_
#define VMC_CATCHER_STATE_H_

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "catcher/selection.h"
#include "catcher/state_values.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/store.h"

namespace vmc::catcher {

// The key of a conversion: "<source sha512>/<target format>".
std::string ConversionKey(std::string_view source_sha512, std::string_view format);

class State {
 public:
  // Opens <state_dir>/db, creating it (0700) when missing.
  static Result<State> Open(const std::filesystem::path& state_dir);

  // Subscriptions made with `catcher subscribe`, by name.
  Result<std::vector<SubscriptionRecord>> Subscriptions() const;
  Result<std::optional<SubscriptionRecord>> FindSubscription(const std::string& name) const;

  // Records a new subscription together with its first verified list, in one
  // transaction. kAlreadyExists when the name is taken.
  Status AddSubscription(const SubscriptionRecord& record, const AcceptedList& first,
                         TimePoint now);

  // Removes a subscription's record (if stored) and all its list state.
  // Returns whether anything was removed.
  Result<bool> RemoveSubscription(const std::string& name);

  Result<std::optional<AcceptedList>> CurrentList(const std::string& name) const;
  // The content digest of the list held (AcceptedList::content_sha512),
  // without reading its bytes: what a reader that holds a list already
  // checks it is still the one stored against.
  Result<std::optional<std::string>> CurrentContentSha512(const std::string& name) const;
  // The split kept beside the bytes of the list held (AcceptedList::split);
  // none when none is kept (a list stored before splits were kept). Whether
  // it is the split of those bytes is for VerifySmimeKept to judge.
  Result<std::optional<SmimeSplit>> ListSplit(const std::string& name) const;
  Result<std::vector<HistoryEntry>> History(const std::string& name) const;

  // The writes below that record a subscription's update take `subscribed`:
  // true for a subscription made with `catcher subscribe`. Another process
  // may remove it (`catcher unsubscribe`) while an update fetches; the write
  // then returns kNotFound and changes nothing, in the same transaction that
  // checks the record, so that no list, attempt or seen image outlives the
  // subscription. (Policy subscriptions have no record: false.)

  // Step 9: stores the exact bytes and facts of an accepted list, moves the
  // previous one to the history (keeping at most `history_limit` entries),
  // records newly seen images and forgets those the list no longer names, in
  // one transaction.
  // `verified_against` is the content SHA-512 of the list the verification
  // compared with (step 8), empty for none: when another process accepted a
  // list in between, the rollback check is stale and kLocked is returned,
  // changing nothing (the caller runs the update again).
  Status AcceptList(const std::string& name, const AcceptedList& list,
                    const std::string& verified_against, TimePoint now, size_t history_limit,
                    bool subscribed = false);

  // `catcher subscription reset-version`: marks the list held so that the
  // next list is accepted whatever its version (AcceptedList::version_reset)
  // and records the reset, its time and reason in the history, in one
  // transaction. Returns the version reset. kNotFound when no list is held.
  Result<std::string> ResetVersion(const std::string& name, const std::string& reason, TimePoint at,
                                   bool subscribed = false);

  // The touches, attempts and splits to keep of a whole cycle in one
  // transaction: one disk sync for 500 unchanged subscriptions instead of a
  // thousand. A touch or a split for a list no longer held is dropped.
  // Returns the command subscriptions removed meanwhile, for which nothing
  // was recorded.
  Result<std::set<std::string>> RecordCycle(const std::vector<CycleRecord>& records);
  Result<std::optional<AttemptRecord>> LastAttempt(const std::string& name) const;

  Result<std::map<std::string, SeenImage>> Seen(const std::string& name) const;

  Status SetChoice(const std::string& image, AdminChoice choice);
  Result<std::map<std::string, AdminChoice>> Choices() const;

  Status PutCached(const std::string& image, const CachedImage& cached);
  Status RemoveCached(const std::string& image);
  // The records of many images in one transaction (one disk sync): a cache
  // run writes them in batches, not one commit per image (issue 11,
  // finding 8). Every identifier is checked before anything is written.
  Status PutCachedBatch(const std::vector<std::pair<std::string, CachedImage>>& images);
  Status RemoveCachedBatch(const std::vector<std::string>& images);
  Result<std::map<std::string, CachedImage>> Cached() const;
  // Every record's SHA-512 and postfix flag, read without building the
  // event variables: a cache run reads all of them (~75,000 for a list at
  // the size cap) and acts on few.
  Result<std::map<std::string, CachedSummary>> CachedSummaries() const;
  Result<std::optional<CachedImage>> FindCached(const std::string& image) const;
  // What the inspections of images' bytes found, by SHA-512 (lower-case
  // hex, checked before anything is written).
  // Many in one transaction (a cache run inspects a batch of new images).
  Status PutInspections(const std::map<std::string, InspectionRecord>& inspections);
  Result<std::map<std::string, InspectionRecord>> Inspections() const;
  // Forgets the inspections of every SHA-512 not in `keep` (bytes no list
  // names any more), in one transaction.
  Status KeepInspections(const std::set<std::string>& keep);

  // The conversions of images' bytes, by source SHA-512 and target format
  // (ConversionKey).
  Status PutConversion(const std::string& source_sha512, const ConversionRecord& conversion);
  Result<std::map<std::string, ConversionRecord>> Conversions() const;
  // Forgets the conversions whose key is not in `keep`, in one transaction.
  Status KeepConversions(const std::set<std::string>& keep);

  // How many times this State was asked to write cache records: a reader
  // under the cache lock (no other process writes them then) may keep what
  // it read while this count stays (Cycle::CachedSummaries).
  std::uint64_t CachedWrites() const { return cached_writes_; }

  Environment& env() { return *env_; }

 private:
  explicit State(std::shared_ptr<Environment> env) : env_(std::move(env)) {}
  // Deletes every entry of `db` whose key is not in `keep`.
  Status KeepOnly(std::string_view db, const std::set<std::string>& keep);
  std::shared_ptr<Environment> env_;
  std::uint64_t cached_writes_ = 0;
};

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_STATE_H_
