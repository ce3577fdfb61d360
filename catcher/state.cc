#include "catcher/state.h"

#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <string_view>
#include <unordered_set>

#include "common/identifier.h"

namespace vmc::catcher {
namespace {

constexpr char kSubscriptions[] = "subscriptions";
constexpr char kLists[] = "lists";
constexpr char kListBytes[] = "list_bytes";
constexpr char kHistory[] = "history";
constexpr char kAttempts[] = "attempts";
constexpr char kSeen[] = "seen";
constexpr char kChoices[] = "choices";
constexpr char kCached[] = "cached";

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// --- encoding ---------------------------------------------------------------

void Str(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void Time(Writer& w, const char* key, TimePoint t) {
  w.Key(key);
  w.Int64(t.time_since_epoch().count());
}

void StrArray(Writer& w, const char* key, const std::vector<std::string>& values) {
  w.Key(key);
  w.StartArray();
  for (const auto& v : values) w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  w.EndArray();
}

template <typename Fn>
std::string Encode(Fn&& fields) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  fields(w);
  w.EndObject();
  return b.GetString();
}

// --- decoding: records are written by this file only; anything else is
// damage, reported as kStorage rather than trusted.

class Reader {
 public:
  explicit Reader(std::string_view json) { doc_.Parse(json.data(), json.size()); }
  bool ok() const { return !doc_.HasParseError() && doc_.IsObject() && ok_; }
  const rapidjson::Document& doc() const { return doc_; }

  std::string Str(const char* key) {
    const auto it = doc_.FindMember(key);
    if (it == doc_.MemberEnd() || !it->value.IsString()) return Fail();
    return {it->value.GetString(), it->value.GetStringLength()};
  }
  TimePoint Time(const char* key) {
    const auto it = doc_.FindMember(key);
    if (it == doc_.MemberEnd() || !it->value.IsInt64()) {
      Fail();
      return {};
    }
    return TimePoint{std::chrono::seconds{it->value.GetInt64()}};
  }
  bool Bool(const char* key) {
    const auto it = doc_.FindMember(key);
    if (it == doc_.MemberEnd() || !it->value.IsBool()) {
      Fail();
      return false;
    }
    return it->value.GetBool();
  }
  int Int(const char* key) {
    const auto it = doc_.FindMember(key);
    if (it == doc_.MemberEnd() || !it->value.IsInt()) {
      Fail();
      return 0;
    }
    return it->value.GetInt();
  }
  // A VersionReset object; absent from records stored before resets existed
  // and when there is none.
  std::optional<VersionReset> OptionalReset(const char* key) {
    if (!doc_.IsObject()) return std::nullopt;
    const auto it = doc_.FindMember(key);
    if (it == doc_.MemberEnd()) return std::nullopt;
    const auto& v = it->value;
    if (!v.IsObject() || !v.HasMember("at") || !v["at"].IsInt64() || !v.HasMember("reason") ||
        !v["reason"].IsString() || !v.HasMember("from_version") || !v["from_version"].IsString()) {
      Fail();
      return std::nullopt;
    }
    return VersionReset{TimePoint{std::chrono::seconds{v["at"].GetInt64()}},
                        {v["reason"].GetString(), v["reason"].GetStringLength()},
                        {v["from_version"].GetString(), v["from_version"].GetStringLength()}};
  }
  std::vector<std::string> OptionalStrArray(const char* key) {
    return doc_.IsObject() && doc_.HasMember(key) ? StrArray(key) : std::vector<std::string>();
  }
  std::vector<std::string> StrArray(const char* key) {
    std::vector<std::string> out;
    const auto it = doc_.FindMember(key);
    if (it == doc_.MemberEnd() || !it->value.IsArray()) {
      Fail();
      return out;
    }
    for (const auto& v : it->value.GetArray()) {
      if (!v.IsString()) {
        Fail();
        return {};
      }
      out.emplace_back(v.GetString(), v.GetStringLength());
    }
    return out;
  }

 private:
  std::string Fail() {
    ok_ = false;
    return {};
  }
  rapidjson::Document doc_;
  bool ok_ = true;
};

// DER in a JSON record: base64 (OpenSSL's, without line breaks).
std::string ToBase64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> FromBase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * (text.size() / 4), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the bytes the padding stands for.
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

Error Damaged(std::string_view db, std::string_view key) {
  return Error(ErrorCode::kStorage, "the catcher database entry " + std::string(db) + "/" +
                                        std::string(key) + " is damaged");
}

std::string EncodeSubscription(const SubscriptionRecord& r) {
  return Encode([&](Writer& w) {
    Str(w, "name", r.name);
    Str(w, "url", r.url);
    Str(w, "endorser_dn", r.endorser_dn);
    Str(w, "endorser_ca", r.endorser_ca);
    std::vector<std::string> names;
    for (const auto& der : r.endorser_names_der) names.push_back(ToBase64(der));
    StrArray(w, "endorser_names", names);
    Str(w, "list_identifier", r.list_identifier);
    Str(w, "images",
        r.selection.mode == SelectionMode::kAll    ? "all"
        : r.selection.mode == SelectionMode::kNone ? "none"
                                                   : "listed");
    StrArray(w, "listed_images", r.selection.listed);
    w.Key("accept_new");
    w.Bool(r.selection.new_images == NewImages::kAccept);
    Str(w, "credentials_file", r.credentials_file);
    Time(w, "created", r.created);
  });
}

Result<SubscriptionRecord> DecodeSubscription(std::string_view key, std::string_view json) {
  Reader r(json);
  SubscriptionRecord s;
  s.name = r.Str("name");
  s.url = r.Str("url");
  s.endorser_dn = r.Str("endorser_dn");
  s.endorser_ca = r.Str("endorser_ca");
  for (const auto& text : r.OptionalStrArray("endorser_names")) {
    auto der = FromBase64(text);
    if (!der) return Damaged(kSubscriptions, key);
    s.endorser_names_der.push_back(std::move(*der));
  }
  s.list_identifier = r.Str("list_identifier");
  const std::string mode = r.Str("images");
  s.selection.mode = mode == "all"    ? SelectionMode::kAll
                     : mode == "none" ? SelectionMode::kNone
                                      : SelectionMode::kListed;
  s.selection.listed = r.StrArray("listed_images");
  s.selection.new_images = r.Bool("accept_new") ? NewImages::kAccept : NewImages::kRefuse;
  s.credentials_file = r.Str("credentials_file");
  s.created = r.Time("created");
  if (!r.ok()) return Damaged(kSubscriptions, key);
  return s;
}

void Reset(Writer& w, const char* key, const VersionReset& reset) {
  w.Key(key);
  w.StartObject();
  Time(w, "at", reset.at);
  Str(w, "reason", reset.reason);
  Str(w, "from_version", reset.from_version);
  w.EndObject();
}

std::string EncodeList(const AcceptedList& l) {
  return Encode([&](Writer& w) {
    Str(w, "list_identifier", l.list_identifier);
    Str(w, "version", l.version);
    Str(w, "content_sha512", l.content_sha512);
    Str(w, "signer_dn", l.signer_dn);
    Str(w, "signer_ca", l.signer_ca);
    Time(w, "created", l.created);
    Time(w, "expires", l.expires);
    Time(w, "fetched_at", l.fetched_at);
    Str(w, "etag", l.etag);
    Str(w, "last_modified", l.last_modified);
    Str(w, "url", l.url);
    StrArray(w, "images", l.images);
    std::vector<std::string> certificates;
    for (const auto& der : l.certificates) certificates.push_back(ToBase64(der));
    StrArray(w, "certificates", certificates);
    if (l.version_reset) Reset(w, "version_reset", *l.version_reset);
  });
}

Result<AcceptedList> DecodeList(std::string_view key, std::string_view json) {
  Reader r(json);
  AcceptedList l;
  l.list_identifier = r.Str("list_identifier");
  l.version = r.Str("version");
  l.content_sha512 = r.Str("content_sha512");
  l.signer_dn = r.Str("signer_dn");
  l.signer_ca = r.Str("signer_ca");
  l.created = r.Time("created");
  l.expires = r.Time("expires");
  l.fetched_at = r.Time("fetched_at");
  l.etag = r.Str("etag");
  l.last_modified = r.Str("last_modified");
  l.url = r.Str("url");
  l.images = r.StrArray("images");
  // Absent from a list stored before certificates were kept.
  for (const auto& text : r.OptionalStrArray("certificates")) {
    auto der = FromBase64(text);
    if (!der) return Damaged(kLists, key);
    l.certificates.push_back(std::move(*der));
  }
  l.version_reset = r.OptionalReset("version_reset");
  if (!r.ok()) return Damaged(kLists, key);
  return l;
}

std::string EncodeHistory(const HistoryEntry& h) {
  return Encode([&](Writer& w) {
    Str(w, "version", h.version);
    Str(w, "content_sha512", h.content_sha512);
    Time(w, "created", h.created);
    Time(w, "fetched_at", h.fetched_at);
    if (h.reset) Reset(w, "reset", *h.reset);
  });
}

Result<HistoryEntry> DecodeHistory(std::string_view key, std::string_view json) {
  Reader r(json);
  HistoryEntry h{r.Str("version"), r.Str("content_sha512"), r.Time("created"), r.Time("fetched_at"),
                 r.OptionalReset("reset")};
  if (!r.ok()) return Damaged(kHistory, key);
  return h;
}

std::string EncodeAttempt(const AttemptRecord& a) {
  return Encode([&](Writer& w) {
    Time(w, "at", a.at);
    Str(w, "result", a.result);
    Str(w, "message", a.message);
    w.Key("exit_status");
    w.Int(a.exit_status);
  });
}

Result<AttemptRecord> DecodeAttempt(std::string_view key, std::string_view json) {
  Reader r(json);
  AttemptRecord a{r.Time("at"), r.Str("result"), r.Str("message"), r.Int("exit_status")};
  if (!r.ok()) return Damaged(kAttempts, key);
  return a;
}

std::string EncodeSeen(const SeenImage& s) {
  return Encode([&](Writer& w) {
    Time(w, "first_seen", s.first_seen);
    w.Key("initial");
    w.Bool(s.initial);
  });
}

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
      txn.ForEachWithPrefix(kHistory, Prefix(name), [&](std::string_view k, std::string_view) {
        keys.emplace_back(k);
        return Ok();
      }));
  const uint64_t next = keys.empty() ? 0 : std::stoull(keys.back().substr(Prefix(name).size())) + 1;
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
  VMC_ASSIGN_OR_RETURN(const auto record, txn.Get(kSubscriptions, name));
  if (record) return Ok();
  return Error(ErrorCode::kNotFound, "subscription " + name +
                                         " was removed by another process meanwhile; nothing "
                                         "was stored for it")
      .With("subscription", name);
}

// Records a 304's validators on the list held, unless another list is held
// now than the one verified (when touch.content_sha512 names one).
Status Touch(WriteTxn& txn, const std::string& name, const ListTouch& touch) {
  VMC_ASSIGN_OR_RETURN(const auto facts, txn.Get(kLists, name));
  if (!facts) return Ok();
  VMC_ASSIGN_OR_RETURN(AcceptedList list, DecodeList(name, *facts));
  if (!touch.content_sha512.empty() && list.content_sha512 != touch.content_sha512) return Ok();
  if (!touch.etag.empty()) list.etag = touch.etag;
  if (!touch.last_modified.empty()) list.last_modified = touch.last_modified;
  list.fetched_at = touch.fetched_at;
  return txn.Put(kLists, name, EncodeList(list));
}

Status PutList(WriteTxn& txn, const std::string& name, const AcceptedList& list) {
  if (list.signed_bytes.empty()) {
    return Error(ErrorCode::kStorage, "refusing to store a list without its signed bytes");
  }
  VMC_RETURN_IF_ERROR(txn.Put(kListBytes, name, list.signed_bytes));
  return txn.Put(kLists, name, EncodeList(list));
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
    VMC_ASSIGN_OR_RETURN(const auto existing, txn.Get(kSeen, key));
    if (!existing) VMC_RETURN_IF_ERROR(txn.Put(kSeen, key, EncodeSeen({now, initial})));
  }
  const std::unordered_set<std::string_view> named(list.images.begin(), list.images.end());
  std::vector<std::string> gone;
  VMC_RETURN_IF_ERROR(
      txn.ForEachWithPrefix(kSeen, prefix, [&](std::string_view k, std::string_view) {
        if (named.count(k.substr(prefix.size())) == 0) gone.emplace_back(k);
        return Ok();
      }));
  for (const auto& k : gone) {
    VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool removed, txn.Delete(kSeen, k));
  }
  return Ok();
}

std::string EncodeCached(const CachedImage& c) {
  return Encode([&](Writer& w) {
    Str(w, "sha512", c.sha512);
    Str(w, "subscription", c.subscription);
    w.Key("variables");
    w.StartObject();
    for (const auto& [k, v] : c.variables) {
      w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
      w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    }
    w.EndObject();
    w.Key("postfix_due");
    w.Bool(c.postfix_due);
    Time(w, "cached_at", c.cached_at);
  });
}

// Parsed once: a cache run reads every record (~75,000 for a list at the cap).
Result<CachedImage> DecodeCached(std::string_view key, std::string_view json) {
  Reader r(json);
  if (!r.ok()) return Damaged(kCached, key);
  const auto variables = r.doc().FindMember("variables");
  if (variables == r.doc().MemberEnd() || !variables->value.IsObject()) {
    return Damaged(kCached, key);
  }
  CachedImage c;
  for (const auto& m : variables->value.GetObject()) {
    if (!m.value.IsString()) return Damaged(kCached, key);
    c.variables.emplace_hint(c.variables.end(),
                             std::string(m.name.GetString(), m.name.GetStringLength()),
                             std::string(m.value.GetString(), m.value.GetStringLength()));
  }
  c.sha512 = r.Str("sha512");
  c.subscription = r.Str("subscription");
  c.postfix_due = r.Bool("postfix_due");
  c.cached_at = r.Time("cached_at");
  if (!r.ok()) return Damaged(kCached, key);
  return c;
}

// A SAX reader of a "cached" record's top-level sha512, subscription and
// postfix_due; the
// variables are parsed (so that a damaged record is still refused) but not
// kept.
class SummaryHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, SummaryHandler> {
 public:
  bool Default() { return true; }
  bool Bool(bool b) {
    if (depth_ == 1 && key_ == "postfix_due") {
      summary.postfix_due = b;
      has_postfix_ = true;
    }
    return true;
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (depth_ == 1 && key_ == "sha512") {
      summary.sha512.assign(s, n);
      has_sha_ = true;
    } else if (depth_ == 1 && key_ == "subscription") {
      summary.subscription.assign(s, n);
      has_subscription_ = true;
    }
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (depth_ == 1) key_.assign(s, n);
    return true;
  }
  bool StartObject() {
    ++depth_;
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    --depth_;
    return true;
  }
  bool StartArray() {
    ++depth_;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth_;
    return true;
  }
  bool complete() const { return has_sha_ && has_subscription_ && has_postfix_; }

  CachedSummary summary;

 private:
  int depth_ = 0;
  std::string key_;
  bool has_sha_ = false;
  bool has_subscription_ = false;
  bool has_postfix_ = false;
};

Result<CachedSummary> DecodeCachedSummary(std::string_view key, std::string_view json) {
  SummaryHandler handler;
  rapidjson::Reader reader;
  rapidjson::MemoryStream stream(json.data(), json.size());
  if (!reader.Parse(stream, handler) || !handler.complete()) return Damaged(kCached, key);
  return std::move(handler.summary);
}

}  // namespace

Result<State> State::Open(const std::filesystem::path& state_dir) {
  StoreOptions options;
  options.databases = {kSubscriptions, kLists, kListBytes, kHistory,
                       kAttempts,      kSeen,  kChoices,   kCached};
  VMC_ASSIGN_OR_RETURN(auto env, Environment::Open(state_dir / "db", options));
  return State(std::move(env));
}

Result<std::vector<SubscriptionRecord>> State::Subscriptions() const {
  std::vector<SubscriptionRecord> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    out.clear();
    return txn.ForEachWithPrefix(kSubscriptions, "",
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
    VMC_ASSIGN_OR_RETURN(const auto value, txn.Get(kSubscriptions, name));
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
    VMC_ASSIGN_OR_RETURN(const auto existing, txn.Get(kSubscriptions, record.name));
    if (existing) {
      return Error(ErrorCode::kAlreadyExists,
                   "a subscription named " + record.name + " exists already")
          .With("subscription", record.name);
    }
    // Leftovers of an earlier subscription of the same name go first.
    VMC_RETURN_IF_ERROR(DeletePrefix(txn, kHistory, Prefix(record.name)));
    VMC_RETURN_IF_ERROR(DeletePrefix(txn, kSeen, Prefix(record.name)));
    VMC_RETURN_IF_ERROR(txn.Put(kSubscriptions, record.name, EncodeSubscription(record)));
    VMC_RETURN_IF_ERROR(PutList(txn, record.name, first));
    VMC_RETURN_IF_ERROR(RecordSeen(txn, record.name, first, now, true));
    return txn.Put(kAttempts, record.name, EncodeAttempt({now, "updated", "", 0}));
  });
}

Result<bool> State::RemoveSubscription(const std::string& name) {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  bool removed = false;
  VMC_RETURN_IF_ERROR(env_->Update([&](WriteTxn& txn) -> Status {
    removed = false;
    for (const char* db : {kSubscriptions, kLists, kListBytes, kAttempts}) {
      VMC_ASSIGN_OR_RETURN(const bool r, txn.Delete(db, name));
      removed = removed || r;
    }
    VMC_RETURN_IF_ERROR(DeletePrefix(txn, kHistory, Prefix(name)));
    return DeletePrefix(txn, kSeen, Prefix(name));
  }));
  return removed;
}

Result<std::optional<AcceptedList>> State::CurrentList(const std::string& name) const {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  std::optional<AcceptedList> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN(const auto facts, txn.Get(kLists, name));
    if (!facts) return Ok();
    VMC_ASSIGN_OR_RETURN(AcceptedList list, DecodeList(name, *facts));
    VMC_ASSIGN_OR_RETURN(const auto bytes, txn.Get(kListBytes, name));
    if (!bytes) return Damaged(kListBytes, name);
    list.signed_bytes = *bytes;
    out = std::move(list);
    return Ok();
  }));
  return out;
}

Result<std::vector<HistoryEntry>> State::History(const std::string& name) const {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  std::vector<HistoryEntry> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    out.clear();
    return txn.ForEachWithPrefix(kHistory, Prefix(name),
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
    VMC_ASSIGN_OR_RETURN(const auto previous, txn.Get(kLists, name));
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
        VMC_RETURN_IF_ERROR(txn.Put(kHistory, HistoryKey(name, next),
                                    EncodeHistory({old->version, old->content_sha512, old->created,
                                                   old->fetched_at, std::nullopt})));
        keys.push_back(HistoryKey(name, next));
      }
      for (size_t i = 0; keys.size() > history_limit + i; ++i) {
        VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool gone, txn.Delete(kHistory, keys[i]));
      }
      // The same list served again does not use up an admin's reset: only
      // another list does.
      if (old->content_sha512 == list.content_sha512) stored.version_reset = old->version_reset;
    }
    VMC_RETURN_IF_ERROR(PutList(txn, name, stored));
    return RecordSeen(txn, name, list, now, initial);
  });
}

Status State::TouchList(const std::string& name, const std::string& etag,
                        const std::string& last_modified, TimePoint fetched_at, bool subscribed) {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  return env_->Update([&](WriteTxn& txn) -> Status {
    VMC_RETURN_IF_ERROR(RequireRecord(txn, name, subscribed));
    return Touch(txn, name, {"", etag, last_modified, fetched_at});
  });
}

Result<std::string> State::ResetVersion(const std::string& name, const std::string& reason,
                                        TimePoint at, bool subscribed) {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  std::string version;
  VMC_RETURN_IF_ERROR(env_->Update([&](WriteTxn& txn) -> Status {
    VMC_RETURN_IF_ERROR(RequireRecord(txn, name, subscribed));
    VMC_ASSIGN_OR_RETURN(const auto facts, txn.Get(kLists, name));
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
        kHistory, HistoryKey(name, history.second),
        EncodeHistory({list.version, list.content_sha512, list.created, list.fetched_at, reset})));
    return txn.Put(kLists, name, EncodeList(list));
  }));
  return version;
}

Status State::RecordAttempt(const std::string& name, const AttemptRecord& attempt,
                            bool subscribed) {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  const std::string value = EncodeAttempt(attempt);
  return env_->Update([&](WriteTxn& txn) -> Status {
    VMC_RETURN_IF_ERROR(RequireRecord(txn, name, subscribed));
    return txn.Put(kAttempts, name, value);
  });
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
      VMC_RETURN_IF_ERROR(txn.Put(kAttempts, r.name, EncodeAttempt(r.attempt)));
    }
    return Ok();
  }));
  return removed;
}

Result<std::optional<AttemptRecord>> State::LastAttempt(const std::string& name) const {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  std::optional<AttemptRecord> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN(const auto value, txn.Get(kAttempts, name));
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
    return txn.ForEachWithPrefix(kSeen, prefix,
                                 [&](std::string_view key, std::string_view value) -> Status {
                                   Reader r(value);
                                   SeenImage s{r.Time("first_seen"), r.Bool("initial")};
                                   if (!r.ok()) return Damaged(kSeen, key);
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
      VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool had, txn.Delete(kChoices, image));
      return Ok();
    }
    return txn.Put(kChoices, image, choice == AdminChoice::kAccepted ? "accepted" : "refused");
  });
}

Result<std::map<std::string, AdminChoice>> State::Choices() const {
  std::map<std::string, AdminChoice> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    out.clear();
    return txn.ForEachWithPrefix(
        kChoices, "", [&](std::string_view key, std::string_view value) -> Status {
          if (value != "accepted" && value != "refused") {
            return Damaged(kChoices, key);
          }
          out[std::string(key)] =
              value == "accepted" ? AdminChoice::kAccepted : AdminChoice::kRefused;
          return Ok();
        });
  }));
  return out;
}

Status State::PutCached(const std::string& image, const CachedImage& cached) {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(image));
  const std::string value = EncodeCached(cached);
  return env_->Update([&](WriteTxn& txn) { return txn.Put(kCached, image, value); });
}

Status State::RemoveCached(const std::string& image) {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(image));
  return env_->Update([&](WriteTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool had, txn.Delete(kCached, image));
    return Ok();
  });
}

Status State::PutCachedBatch(const std::vector<std::pair<std::string, CachedImage>>& images) {
  if (images.empty()) return Ok();
  std::vector<std::string> values;
  values.reserve(images.size());
  for (const auto& [image, cached] : images) {
    VMC_RETURN_IF_ERROR(ValidateIdentifier(image));
    values.push_back(EncodeCached(cached));
  }
  return env_->Update([&](WriteTxn& txn) -> Status {
    for (std::size_t i = 0; i < images.size(); ++i) {
      VMC_RETURN_IF_ERROR(txn.Put(kCached, images[i].first, values[i]));
    }
    return Ok();
  });
}

Status State::RemoveCachedBatch(const std::vector<std::string>& images) {
  if (images.empty()) return Ok();
  for (const auto& image : images) VMC_RETURN_IF_ERROR(ValidateIdentifier(image));
  return env_->Update([&](WriteTxn& txn) -> Status {
    for (const auto& image : images) {
      VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool had, txn.Delete(kCached, image));
    }
    return Ok();
  });
}

Result<std::map<std::string, CachedSummary>> State::CachedSummaries() const {
  std::map<std::string, CachedSummary> out;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    out.clear();
    return txn.ForEachWithPrefix(kCached, "",
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
    VMC_ASSIGN_OR_RETURN(const auto value, txn.Get(kCached, image));
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
    return txn.ForEachWithPrefix(kCached, "",
                                 [&](std::string_view key, std::string_view value) -> Status {
                                   VMC_ASSIGN_OR_RETURN(auto c, DecodeCached(key, value));
                                   out[std::string(key)] = std::move(c);
                                   return Ok();
                                 });
  }));
  return out;
}

}  // namespace vmc::catcher
