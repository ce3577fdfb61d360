#include "catcher/state.h"

#include <charconv>
#include <cstdio>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>

#include "catcher/image_format.h"
#include "catcher/state_records.h"
#include "common/digest.h"
#include "common/identifier.h"

namespace vmc::catcher {
namespace {

// "name/" prefixes: names are identifiers, which never contain '/'.
std::string Prefix(const std::string& name) { return name + "/"; }

// History keys sort by sequence: zero-padded decimal.
std::string HistoryKey(const std::string& name, uint64_t seq) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%020llu", static_cast<unsigned long long>(seq));
  return Prefix(name) + buf;
}

// The history keys of `name`, oldest first, and the next sequence number.
Result<std::pair<std::vector<std::string>, uint64_t>> HistoryKeys(WriteTxn& txn,
                                                                  const std::string& name) {
  std::vector<std::string> keys;
  VMC_RETURN_IF_ERROR(
      txn.ForEachWithPrefix(kHistoryDb, Prefix(name), [&](std::string_view k, std::string_view) {
        keys.emplace_back(k);
        return Ok();
      }));
  uint64_t next = 0;
  // A key HistoryKey() did not make is damage, not a number to guess at.
  if (!keys.empty()) {
    const std::string_view last = std::string_view{keys.back()}.substr(Prefix(name).size());
    const auto [end, ec] = std::from_chars(last.data(), last.data() + last.size(), next);
    if (ec != std::errc() || end != last.data() + last.size()) {
      return DamagedEntry(kHistoryDb, keys.back());
    }
    ++next;
  }
  return std::make_pair(std::move(keys), next);
}

Status DeletePrefix(WriteTxn& txn, const char* db, const std::string& prefix) {
  std::vector<std::string> keys;
  VMC_RETURN_IF_ERROR(txn.ForEachWithPrefix(db, prefix, [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return Ok();
  }));
  for (const auto& k : keys) {
    VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool removed, txn.Delete(db, k));
  }
  return Ok();
}

// For a write about subscription `name` made with `catcher subscribe`
// (`subscribed`): kNotFound unless its record exists in this transaction.
Status RequireRecord(WriteTxn& txn, const std::string& name, bool subscribed) {
  if (!subscribed) return Ok();
  VMC_ASSIGN_OR_RETURN(const auto record, txn.Get(kSubscriptionsDb, name));
  if (record) return Ok();
  return Error(ErrorCode::kNotFound, "subscription " + name +
                                         " was removed by another process meanwhile; nothing "
                                         "was stored for it")
      .With("subscription", name);
}

// Records a 304's validators on the list held, unless another list is held
// now than the one verified (when touch.content_sha512 names one).
Status Touch(WriteTxn& txn, const std::string& name, const ListTouch& touch) {
  VMC_ASSIGN_OR_RETURN(const auto facts, txn.Get(kListsDb, name));
  if (!facts) return Ok();
  VMC_ASSIGN_OR_RETURN(AcceptedList list, DecodeList(name, *facts));
  if (!touch.content_sha512.empty() && list.content_sha512 != touch.content_sha512) return Ok();
  if (!touch.etag.empty()) list.etag = touch.etag;
  if (!touch.last_modified.empty()) list.last_modified = touch.last_modified;
  list.fetched_at = touch.fetched_at;
  return txn.Put(kListsDb, name, EncodeList(list));
}

Status PutSplit(WriteTxn& txn, const std::string& name, const SmimeSplit& split) {
  VMC_RETURN_IF_ERROR(txn.Put(kListSplitPartDb, name, split.signed_part));
  return txn.Put(kListSplitDb, name, EncodeSplit(split));
}

// Keeps a split made of the list held, unless another list is held now.
Status KeepSplit(WriteTxn& txn, const std::string& name, const ListSplit& split) {
  VMC_ASSIGN_OR_RETURN(const auto facts, txn.Get(kListsDb, name));
  if (!facts) return Ok();
  VMC_ASSIGN_OR_RETURN(const AcceptedList list, DecodeList(name, *facts));
  if (list.content_sha512 != split.content_sha512) return Ok();
  return PutSplit(txn, name, split.split);
}

Status PutList(WriteTxn& txn, const std::string& name, const AcceptedList& list) {
  if (list.signed_bytes.empty()) {
    return Error(ErrorCode::kStorage, "refusing to store a list without its signed bytes");
  }
  VMC_RETURN_IF_ERROR(txn.Put(kListBytesDb, name, list.signed_bytes));
  if (list.split) {
    VMC_RETURN_IF_ERROR(PutSplit(txn, name, *list.split));
  } else {
    // The split of other bytes would be judged stale anyway; none is clearer.
    for (const char* db : {kListSplitDb, kListSplitPartDb}) {
      VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool removed, txn.Delete(db, name));
    }
  }
  return txn.Put(kListsDb, name, EncodeList(list));
}

// Records the images of the list now held that are new to "seen", and drops
// the ones it no longer names (issue 11, finding 13: the table kept every
// identifier ever seen). The held list is the only kept version that names
// images: the history keeps versions and digests. An identifier that leaves
// the list and comes back later is therefore new again (not initial), as
// SubscriptionImageNew, which compares with the list held before, announces
// it again; one that stays is never re-recorded nor re-announced.
Status RecordSeen(WriteTxn& txn, const std::string& name, const AcceptedList& list, TimePoint now,
                  bool initial) {
  const std::string prefix = Prefix(name);
  for (const auto& image : list.images) {
    VMC_RETURN_IF_ERROR(ValidateIdentifier(image));
    const std::string key = prefix + image;
    VMC_ASSIGN_OR_RETURN(const auto existing, txn.Get(kSeenDb, key));
    if (!existing) VMC_RETURN_IF_ERROR(txn.Put(kSeenDb, key, EncodeSeen({now, initial})));
  }
  const std::unordered_set<std::string_view> named(list.images.begin(), list.images.end());
  std::vector<std::string> gone;
  VMC_RETURN_IF_ERROR(
      txn.ForEachWithPrefix(kSeenDb, prefix, [&](std::string_view k, std::string_view) {
        if (!named.contains(k.substr(prefix.size()))) gone.emplace_back(k);
        return Ok();
      }));
  for (const auto& k : gone) {
    VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool removed, txn.Delete(kSeenDb, k));
  }
  return Ok();
}

}  // namespace

Status State::KeepOnly(std::string_view db, const std::set<std::string>& keep) {
  // Keys only: an idle cycle prunes without decoding every record.
  std::vector<std::string> gone;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    gone.clear();
    return txn.ForEachWithPrefix(db, "", [&](std::string_view key, std::string_view) -> Status {
      if (!keep.contains(std::string(key))) gone.emplace_back(key);
      return Ok();
    });
  }));
  if (gone.empty()) return Ok();
  return env_->Update([&](WriteTxn& txn) -> Status {
    for (const auto& key : gone) {
      VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool had, txn.Delete(db, key));
    }
    return Ok();
  });
}

Result<State> State::Open(const std::filesystem::path& state_dir) {
  StoreOptions options;
  options.databases = {kSubscriptionsDb, kListsDb,   kListBytesDb,   kListSplitDb,
                       kListSplitPartDb, kHistoryDb, kAttemptsDb,    kSeenDb,
                       kChoicesDb,       kCachedDb,  kInspectionsDb, kConversionsDb};
  VMC_ASSIGN_OR_RETURN(auto env, Environment::Open(state_dir / "db", options));
  return State(std::move(env));
}

Result<std::vector<SubscriptionRecord>> State::Subscriptions() const {
  std::vector<SubscriptionRecord> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    out.clear();
    return txn.ForEachWithPrefix(kSubscriptionsDb, "",
                                 [&](std::string_view key, std::string_view value) -> Status {
                                   VMC_ASSIGN_OR_RETURN(auto s, DecodeSubscription(key, value));
                                   out.push_back(std::move(s));
                                   return Ok();
                                 });
  }));
  return out;
}

Result<std::optional<SubscriptionRecord>> State::FindSubscription(const std::string& name) const {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  std::optional<SubscriptionRecord> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN(const auto value, txn.Get(kSubscriptionsDb, name));
    if (!value) return Ok();
    VMC_ASSIGN_OR_RETURN(out, DecodeSubscription(name, *value));
    return Ok();
  }));
  return out;
}

Status State::AddSubscription(const SubscriptionRecord& record, const AcceptedList& first,
                              TimePoint now) {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(record.name));
  return env_->Update([&](WriteTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN(const auto existing, txn.Get(kSubscriptionsDb, record.name));
    if (existing) {
      return Error(ErrorCode::kAlreadyExists,
                   "a subscription named " + record.name + " exists already")
          .With("subscription", record.name);
    }
    // Leftovers of an earlier subscription of the same name go first.
    VMC_RETURN_IF_ERROR(DeletePrefix(txn, kHistoryDb, Prefix(record.name)));
    VMC_RETURN_IF_ERROR(DeletePrefix(txn, kSeenDb, Prefix(record.name)));
    VMC_RETURN_IF_ERROR(txn.Put(kSubscriptionsDb, record.name, EncodeSubscription(record)));
    VMC_RETURN_IF_ERROR(PutList(txn, record.name, first));
    VMC_RETURN_IF_ERROR(RecordSeen(txn, record.name, first, now, true));
    return txn.Put(kAttemptsDb, record.name, EncodeAttempt({now, "updated", "", 0}));
  });
}

Result<bool> State::RemoveSubscription(const std::string& name) {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  bool removed = false;
  VMC_RETURN_IF_ERROR(env_->Update([&](WriteTxn& txn) -> Status {
    removed = false;
    for (const char* db : {kSubscriptionsDb, kListsDb, kListBytesDb, kAttemptsDb}) {
      VMC_ASSIGN_OR_RETURN(const bool r, txn.Delete(db, name));
      removed = removed || r;
    }
    for (const char* db : {kListSplitDb, kListSplitPartDb}) {
      VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool r, txn.Delete(db, name));
    }
    VMC_RETURN_IF_ERROR(DeletePrefix(txn, kHistoryDb, Prefix(name)));
    return DeletePrefix(txn, kSeenDb, Prefix(name));
  }));
  return removed;
}

Result<std::optional<AcceptedList>> State::CurrentList(const std::string& name) const {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  std::optional<AcceptedList> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN(const auto facts, txn.Get(kListsDb, name));
    if (!facts) return Ok();
    VMC_ASSIGN_OR_RETURN(AcceptedList list, DecodeList(name, *facts));
    VMC_ASSIGN_OR_RETURN(auto bytes, txn.Get(kListBytesDb, name));
    if (!bytes) return DamagedEntry(kListBytesDb, name);
    list.signed_bytes = std::move(*bytes);
    out = std::move(list);
    return Ok();
  }));
  return out;
}

Result<std::optional<std::string>> State::CurrentContentSha512(const std::string& name) const {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  std::optional<std::string> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN(const auto facts, txn.Get(kListsDb, name));
    if (!facts) return Ok();
    VMC_ASSIGN_OR_RETURN(AcceptedList list, DecodeList(name, *facts));
    out = std::move(list.content_sha512);
    return Ok();
  }));
  return out;
}

Result<std::optional<SmimeSplit>> State::ListSplit(const std::string& name) const {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  std::optional<SmimeSplit> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN(const auto facts, txn.Get(kListSplitDb, name));
    if (!facts) return Ok();
    // A split is made again from the bytes it was made of by the next full
    // verification: one that does not decode (damaged, or of an earlier
    // catcher) is as none, not damage that stops the list's update.
    auto split = DecodeSplit(name, *facts);
    VMC_ASSIGN_OR_RETURN(auto part, txn.Get(kListSplitPartDb, name));
    if (!split.ok() || !part) return Ok();
    split->signed_part = std::move(*part);
    out = std::move(*split);
    return Ok();
  }));
  return out;
}

Result<std::vector<HistoryEntry>> State::History(const std::string& name) const {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  std::vector<HistoryEntry> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    out.clear();
    return txn.ForEachWithPrefix(kHistoryDb, Prefix(name),
                                 [&](std::string_view key, std::string_view value) -> Status {
                                   VMC_ASSIGN_OR_RETURN(auto h, DecodeHistory(key, value));
                                   out.push_back(std::move(h));
                                   return Ok();
                                 });
  }));
  return out;
}

Status State::AcceptList(const std::string& name, const AcceptedList& list,
                         const std::string& verified_against, TimePoint now, size_t history_limit,
                         bool subscribed) {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  return env_->Update([&](WriteTxn& txn) -> Status {
    VMC_RETURN_IF_ERROR(RequireRecord(txn, name, subscribed));
    VMC_ASSIGN_OR_RETURN(const auto previous, txn.Get(kListsDb, name));
    bool initial = !previous.has_value();
    std::optional<AcceptedList> old;
    if (previous) {
      VMC_ASSIGN_OR_RETURN(old, DecodeList(name, *previous));
    }
    const std::string holding = old ? old->content_sha512 : std::string();
    if (holding != verified_against) {
      return Error(ErrorCode::kLocked, "subscription " + name +
                                           " was updated by another process meanwhile; its "
                                           "list was not applied (run the update again)")
          .With("subscription", name);
    }
    AcceptedList stored = list;
    if (old) {
      VMC_ASSIGN_OR_RETURN(auto history, HistoryKeys(txn, name));
      auto& [keys, next] = history;
      if (old->version != list.version || old->content_sha512 != list.content_sha512) {
        VMC_RETURN_IF_ERROR(txn.Put(kHistoryDb, HistoryKey(name, next),
                                    EncodeHistory({old->version, old->content_sha512, old->created,
                                                   old->fetched_at, std::nullopt})));
        keys.push_back(HistoryKey(name, next));
      }
      for (size_t i = 0; keys.size() > history_limit + i; ++i) {
        VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool gone, txn.Delete(kHistoryDb, keys[i]));
      }
      // The same list served again does not use up an admin's reset: only
      // another list does.
      if (old->content_sha512 == list.content_sha512) stored.version_reset = old->version_reset;
    }
    VMC_RETURN_IF_ERROR(PutList(txn, name, stored));
    return RecordSeen(txn, name, list, now, initial);
  });
}

Result<std::string> State::ResetVersion(const std::string& name, const std::string& reason,
                                        TimePoint at, bool subscribed) {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  std::string version;
  VMC_RETURN_IF_ERROR(env_->Update([&](WriteTxn& txn) -> Status {
    VMC_RETURN_IF_ERROR(RequireRecord(txn, name, subscribed));
    VMC_ASSIGN_OR_RETURN(const auto facts, txn.Get(kListsDb, name));
    if (!facts) {
      return Error(ErrorCode::kNotFound,
                   "subscription " + name + " holds no list yet; there is no version to reset")
          .With("subscription", name);
    }
    VMC_ASSIGN_OR_RETURN(AcceptedList list, DecodeList(name, *facts));
    version = list.version;
    const VersionReset reset{at, reason, list.version};
    list.version_reset = reset;
    VMC_ASSIGN_OR_RETURN(auto history, HistoryKeys(txn, name));
    VMC_RETURN_IF_ERROR(txn.Put(
        kHistoryDb, HistoryKey(name, history.second),
        EncodeHistory({list.version, list.content_sha512, list.created, list.fetched_at, reset})));
    return txn.Put(kListsDb, name, EncodeList(list));
  }));
  return version;
}

Result<std::set<std::string>> State::RecordCycle(const std::vector<CycleRecord>& records) {
  for (const auto& r : records) VMC_RETURN_IF_ERROR(ValidateIdentifier(r.name));
  std::set<std::string> removed;
  VMC_RETURN_IF_ERROR(env_->Update([&](WriteTxn& txn) -> Status {
    removed.clear();  // the function may run again when the map grows
    for (const auto& r : records) {
      if (Status s = RequireRecord(txn, r.name, r.subscribed); !s.ok()) {
        if (s.error().code() != ErrorCode::kNotFound) return s;
        removed.insert(r.name);
        continue;
      }
      if (r.touch) VMC_RETURN_IF_ERROR(Touch(txn, r.name, *r.touch));
      if (r.split) VMC_RETURN_IF_ERROR(KeepSplit(txn, r.name, *r.split));
      VMC_RETURN_IF_ERROR(txn.Put(kAttemptsDb, r.name, EncodeAttempt(r.attempt)));
    }
    return Ok();
  }));
  return removed;
}

Result<std::optional<AttemptRecord>> State::LastAttempt(const std::string& name) const {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  std::optional<AttemptRecord> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN(const auto value, txn.Get(kAttemptsDb, name));
    if (!value) return Ok();
    VMC_ASSIGN_OR_RETURN(out, DecodeAttempt(name, *value));
    return Ok();
  }));
  return out;
}

Result<std::map<std::string, SeenImage>> State::Seen(const std::string& name) const {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  std::map<std::string, SeenImage> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    out.clear();
    const std::string prefix = Prefix(name);
    return txn.ForEachWithPrefix(kSeenDb, prefix,
                                 [&](std::string_view key, std::string_view value) -> Status {
                                   VMC_ASSIGN_OR_RETURN(const SeenImage s, DecodeSeen(key, value));
                                   out[std::string(key.substr(prefix.size()))] = s;
                                   return Ok();
                                 });
  }));
  return out;
}

Status State::SetChoice(const std::string& image, AdminChoice choice) {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(image));
  return env_->Update([&](WriteTxn& txn) -> Status {
    if (choice == AdminChoice::kNone) {
      VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool had, txn.Delete(kChoicesDb, image));
      return Ok();
    }
    return txn.Put(kChoicesDb, image, EncodeChoice(choice));
  });
}

Result<std::map<std::string, AdminChoice>> State::Choices() const {
  std::map<std::string, AdminChoice> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    out.clear();
    return txn.ForEachWithPrefix(
        kChoicesDb, "", [&](std::string_view key, std::string_view value) -> Status {
          VMC_ASSIGN_OR_RETURN(out[std::string(key)], DecodeChoice(key, value));
          return Ok();
        });
  }));
  return out;
}

Status State::PutCached(const std::string& image, const CachedImage& cached) {
  ++cached_writes_;
  VMC_RETURN_IF_ERROR(ValidateIdentifier(image));
  const std::string value = EncodeCached(cached);
  return env_->Update([&](WriteTxn& txn) { return txn.Put(kCachedDb, image, value); });
}

Status State::RemoveCached(const std::string& image) {
  ++cached_writes_;
  VMC_RETURN_IF_ERROR(ValidateIdentifier(image));
  return env_->Update([&](WriteTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool had, txn.Delete(kCachedDb, image));
    return Ok();
  });
}

Status State::PutCachedBatch(const std::vector<std::pair<std::string, CachedImage>>& images) {
  ++cached_writes_;
  if (images.empty()) return Ok();
  std::vector<std::string> values;
  values.reserve(images.size());
  for (const auto& [image, cached] : images) {
    VMC_RETURN_IF_ERROR(ValidateIdentifier(image));
    values.push_back(EncodeCached(cached));
  }
  return env_->Update([&](WriteTxn& txn) -> Status {
    for (std::size_t i = 0; i < images.size(); ++i) {
      VMC_RETURN_IF_ERROR(txn.Put(kCachedDb, images[i].first, values[i]));
    }
    return Ok();
  });
}

Status State::RemoveCachedBatch(const std::vector<std::string>& images) {
  ++cached_writes_;
  if (images.empty()) return Ok();
  for (const auto& image : images) VMC_RETURN_IF_ERROR(ValidateIdentifier(image));
  return env_->Update([&](WriteTxn& txn) -> Status {
    for (const auto& image : images) {
      VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool had, txn.Delete(kCachedDb, image));
    }
    return Ok();
  });
}

Result<std::map<std::string, CachedSummary>> State::CachedSummaries() const {
  std::map<std::string, CachedSummary> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    out.clear();
    return txn.ForEachWithPrefix(kCachedDb, "",
                                 [&](std::string_view key, std::string_view value) -> Status {
                                   VMC_ASSIGN_OR_RETURN(auto c, DecodeCachedSummary(key, value));
                                   out.emplace_hint(out.end(), std::string(key), std::move(c));
                                   return Ok();
                                 });
  }));
  return out;
}

Result<std::optional<CachedImage>> State::FindCached(const std::string& image) const {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(image));
  std::optional<CachedImage> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN(const auto value, txn.Get(kCachedDb, image));
    if (!value) return Ok();
    VMC_ASSIGN_OR_RETURN(out, DecodeCached(image, *value));
    return Ok();
  }));
  return out;
}

Result<std::map<std::string, CachedImage>> State::Cached() const {
  std::map<std::string, CachedImage> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    out.clear();
    return txn.ForEachWithPrefix(kCachedDb, "",
                                 [&](std::string_view key, std::string_view value) -> Status {
                                   VMC_ASSIGN_OR_RETURN(auto c, DecodeCached(key, value));
                                   out[std::string(key)] = std::move(c);
                                   return Ok();
                                 });
  }));
  return out;
}

Status State::PutInspections(const std::map<std::string, InspectionRecord>& inspections) {
  if (inspections.empty()) return Ok();
  std::vector<std::string> values;
  values.reserve(inspections.size());
  for (const auto& [sha512, inspection] : inspections) {
    const auto normal = NormalizeSha512Hex(sha512);
    if (!normal.ok() || *normal != sha512) {
      return Error(ErrorCode::kInvalidValue, "an inspection is kept under a lower-case SHA-512");
    }
    values.push_back(EncodeInspection(inspection));
  }
  return env_->Update([&](WriteTxn& txn) -> Status {
    std::size_t i = 0;
    for (const auto& entry : inspections) {
      VMC_RETURN_IF_ERROR(txn.Put(kInspectionsDb, entry.first, values[i++]));
    }
    return Ok();
  });
}

Result<std::map<std::string, InspectionRecord>> State::Inspections() const {
  std::map<std::string, InspectionRecord> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    out.clear();
    return txn.ForEachWithPrefix(kInspectionsDb, "",
                                 [&](std::string_view key, std::string_view value) -> Status {
                                   VMC_ASSIGN_OR_RETURN(auto i, DecodeInspection(key, value));
                                   out.emplace_hint(out.end(), std::string(key), std::move(i));
                                   return Ok();
                                 });
  }));
  return out;
}

Status State::KeepInspections(const std::set<std::string>& keep) {
  return KeepOnly(kInspectionsDb, keep);
}

std::string ConversionKey(std::string_view source_sha512, std::string_view format) {
  return std::string(source_sha512) + "/" + std::string(format);
}

Status State::PutConversion(const std::string& source_sha512, const ConversionRecord& conversion) {
  const auto normal = NormalizeSha512Hex(source_sha512);
  if (!normal.ok() || *normal != source_sha512 || !NormalFormat(conversion.format)) {
    return Error(ErrorCode::kInvalidValue,
                 "a conversion is kept under a lower-case SHA-512 and a known format");
  }
  const std::string key = ConversionKey(source_sha512, conversion.format);
  const std::string value = EncodeConversion(conversion);
  return env_->Update([&](WriteTxn& txn) { return txn.Put(kConversionsDb, key, value); });
}

Result<std::map<std::string, ConversionRecord>> State::Conversions() const {
  std::map<std::string, ConversionRecord> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    out.clear();
    return txn.ForEachWithPrefix(kConversionsDb, "",
                                 [&](std::string_view key, std::string_view value) -> Status {
                                   VMC_ASSIGN_OR_RETURN(auto c, DecodeConversion(key, value));
                                   out.emplace_hint(out.end(), std::string(key), std::move(c));
                                   return Ok();
                                 });
  }));
  return out;
}

Status State::KeepConversions(const std::set<std::string>& keep) {
  return KeepOnly(kConversionsDb, keep);
}

}  // namespace vmc::catcher
