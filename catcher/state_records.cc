#include "catcher/state_records.h"

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <charconv>
#include <utility>

namespace vmc::catcher {
namespace {

constexpr char kStore[] = "catcher";

RecordPlace Place(std::string_view db, std::string_view key) {
  return {kStore, std::string(db), std::string(key)};
}

const char* SelectionName(SelectionMode mode) {
  switch (mode) {
    case SelectionMode::kAll:
      return "all";
    case SelectionMode::kNone:
      return "none";
    case SelectionMode::kListed:
      return "listed";
  }
  return "listed";
}

// Anything but the three names written is damage, not "listed".
SelectionMode ReadSelectionMode(RecordReader& r) {
  const std::string mode = r.Str("images");
  if (mode == "all") return SelectionMode::kAll;
  if (mode == "none") return SelectionMode::kNone;
  if (mode != "listed") r.Fail();
  return SelectionMode::kListed;
}

void WriteReset(RecordWriter& w, std::string_view name, const VersionReset& reset) {
  w.Object(name, [&](RecordWriter& o) {
    o.Time("at", reset.at).Str("reason", reset.reason).Str("from_version", reset.from_version);
  });
}

// Absent from records stored before resets existed, and when there is none.
std::optional<VersionReset> ReadReset(RecordReader& r, std::string_view name) {
  if (!r.Has(name)) return std::nullopt;
  VersionReset reset;
  r.Object(name, [&](RecordReader& o) {
    reset.at = o.Time("at");
    reset.reason = o.Str("reason");
    reset.from_version = o.Str("from_version");
  });
  return reset;
}

// A SAX reader of a "cached" record's top-level sha512, subscription and
// postfix_due; the variables are parsed (so that a damaged record is still
// refused) but not kept.
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

}  // namespace

Error DamagedEntry(std::string_view db, std::string_view key) {
  return DamagedRecord(Place(db, key));
}

std::string EncodeSubscription(const SubscriptionRecord& r) {
  RecordWriter w;
  w.Str("name", r.name)
      .Str("url", r.url)
      .Str("endorser_dn", r.endorser_dn)
      .Str("endorser_ca", r.endorser_ca)
      .Base64Array("endorser_names", r.endorser_names_der)
      .Str("list_identifier", r.list_identifier)
      .Str("images", SelectionName(r.selection.mode))
      .StrArray("listed_images", r.selection.listed)
      .Bool("accept_new", r.selection.new_images == NewImages::kAccept)
      .Str("credentials_file", r.credentials_file)
      .Time("created", r.created);
  return w.Finish();
}

Result<SubscriptionRecord> DecodeSubscription(std::string_view key, std::string_view json) {
  RecordReader r(Place(kSubscriptionsDb, key), json);
  SubscriptionRecord s;
  s.name = r.Str("name");
  s.url = r.Str("url");
  s.endorser_dn = r.Str("endorser_dn");
  s.endorser_ca = r.Str("endorser_ca");
  // Absent from a subscription stored before the DER names were kept.
  if (r.Has("endorser_names")) s.endorser_names_der = r.Base64Array("endorser_names");
  s.list_identifier = r.Str("list_identifier");
  s.selection.mode = ReadSelectionMode(r);
  s.selection.listed = r.StrArray("listed_images");
  s.selection.new_images = r.Bool("accept_new") ? NewImages::kAccept : NewImages::kRefuse;
  s.credentials_file = r.Str("credentials_file");
  s.created = r.Time("created");
  VMC_RETURN_IF_ERROR(r.status());
  return s;
}

std::string EncodeList(const AcceptedList& l) {
  RecordWriter w;
  w.Str("list_identifier", l.list_identifier)
      .Str("version", l.version)
      .Str("content_sha512", l.content_sha512)
      .Str("signer_dn", l.signer_dn)
      .Str("signer_ca", l.signer_ca)
      .Time("created", l.created)
      .Time("expires", l.expires)
      .Time("fetched_at", l.fetched_at)
      .Str("etag", l.etag)
      .Str("last_modified", l.last_modified)
      .Str("url", l.url)
      .StrArray("images", l.images)
      .Base64Array("certificates", l.certificates);
  if (l.version_reset) WriteReset(w, "version_reset", *l.version_reset);
  return w.Finish();
}

Result<AcceptedList> DecodeList(std::string_view key, std::string_view json) {
  RecordReader r(Place(kListsDb, key), json);
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
  if (r.Has("certificates")) l.certificates = r.Base64Array("certificates");
  l.version_reset = ReadReset(r, "version_reset");
  VMC_RETURN_IF_ERROR(r.status());
  return l;
}

std::string EncodeSplit(const SmimeSplit& split) {
  RecordWriter w;
  w.Str("message_sha512", split.message_sha512)
      .Str("openssl", split.openssl)
      .Int("reading", split.reading)
      .Base64("signature", split.signature_der)
      .Base64Array("certificates", split.certificates)
      .Str("seal", split.seal);
  return w.Finish();
}

Result<SmimeSplit> DecodeSplit(std::string_view key, std::string_view json) {
  RecordReader r(Place(kListSplitDb, key), json);
  SmimeSplit split;
  split.message_sha512 = r.Str("message_sha512");
  split.openssl = r.Str("openssl");
  split.reading = r.Int("reading");
  split.signature_der = r.Base64("signature");
  split.certificates = r.Base64Array("certificates");
  split.seal = r.Str("seal");
  VMC_RETURN_IF_ERROR(r.status());
  return split;
}

std::string EncodeHistory(const HistoryEntry& entry) {
  RecordWriter w;
  w.Str("version", entry.version)
      .Str("content_sha512", entry.content_sha512)
      .Time("created", entry.created)
      .Time("fetched_at", entry.fetched_at);
  if (entry.reset) WriteReset(w, "reset", *entry.reset);
  return w.Finish();
}

Result<HistoryEntry> DecodeHistory(std::string_view key, std::string_view json) {
  RecordReader r(Place(kHistoryDb, key), json);
  HistoryEntry h;
  h.version = r.Str("version");
  h.content_sha512 = r.Str("content_sha512");
  h.created = r.Time("created");
  h.fetched_at = r.Time("fetched_at");
  h.reset = ReadReset(r, "reset");
  VMC_RETURN_IF_ERROR(r.status());
  return h;
}

std::string EncodeAttempt(const AttemptRecord& a) {
  RecordWriter w;
  w.Time("at", a.at)
      .Str("result", a.result)
      .Str("message", a.message)
      .Int("exit_status", a.exit_status);
  return w.Finish();
}

Result<AttemptRecord> DecodeAttempt(std::string_view key, std::string_view json) {
  RecordReader r(Place(kAttemptsDb, key), json);
  AttemptRecord a;
  a.at = r.Time("at");
  a.result = r.Str("result");
  a.message = r.Str("message");
  a.exit_status = r.Int("exit_status");
  VMC_RETURN_IF_ERROR(r.status());
  return a;
}

std::string EncodeSeen(const SeenImage& s) {
  RecordWriter w;
  w.Time("first_seen", s.first_seen).Bool("initial", s.initial);
  return w.Finish();
}

Result<SeenImage> DecodeSeen(std::string_view key, std::string_view json) {
  RecordReader r(Place(kSeenDb, key), json);
  SeenImage s;
  s.first_seen = r.Time("first_seen");
  s.initial = r.Bool("initial");
  VMC_RETURN_IF_ERROR(r.status());
  return s;
}

std::string EncodeChoice(AdminChoice choice) {
  return choice == AdminChoice::kAccepted ? "accepted" : "refused";
}

Result<AdminChoice> DecodeChoice(std::string_view key, std::string_view value) {
  if (value == "accepted") return AdminChoice::kAccepted;
  if (value == "refused") return AdminChoice::kRefused;
  return DamagedEntry(kChoicesDb, key);
}

std::string EncodeCached(const CachedImage& c) {
  RecordWriter w;
  w.Str("sha512", c.sha512)
      .Str("subscription", c.subscription)
      .StrMap("variables", c.variables)
      .Bool("postfix_due", c.postfix_due)
      .Time("cached_at", c.cached_at);
  return w.Finish();
}

Result<CachedImage> DecodeCached(std::string_view key, std::string_view json) {
  RecordReader r(Place(kCachedDb, key), json);
  CachedImage c;
  c.sha512 = r.Str("sha512");
  c.subscription = r.Str("subscription");
  c.variables = r.StrMap("variables");
  c.postfix_due = r.Bool("postfix_due");
  c.cached_at = r.Time("cached_at");
  VMC_RETURN_IF_ERROR(r.status());
  return c;
}

Result<CachedSummary> DecodeCachedSummary(std::string_view key, std::string_view json) {
  SummaryHandler handler;
  rapidjson::Reader reader;
  rapidjson::MemoryStream stream(json.data(), json.size());
  if (!reader.Parse(stream, handler) || !handler.complete()) return DamagedEntry(kCachedDb, key);
  return std::move(handler.summary);
}

namespace {

// A size as a decimal string: the codec's integers are an int's.
std::uint64_t ReadSize(RecordReader& r, std::string_view name) {
  const std::string text = r.Str(name);
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) r.Fail();
  return value;
}

}  // namespace

std::string EncodeConversion(const ConversionRecord& c) {
  RecordWriter w;
  w.Str("format", c.format)
      .Str("sha512", c.sha512)
      .Str("size", std::to_string(c.size))
      .Str("qemu_img", c.qemu_img_version)
      .Time("at", c.at);
  return w.Finish();
}

Result<ConversionRecord> DecodeConversion(std::string_view key, std::string_view json) {
  RecordReader r(Place(kConversionsDb, key), json);
  ConversionRecord c;
  c.format = r.Str("format");
  c.sha512 = r.Str("sha512");
  c.size = ReadSize(r, "size");
  c.qemu_img_version = r.Str("qemu_img");
  c.at = r.Time("at");
  VMC_RETURN_IF_ERROR(r.status());
  return c;
}

std::string EncodeInspection(const InspectionRecord& i) {
  RecordWriter w;
  w.Str("format", i.format)
      .Str("virtual_size", std::to_string(i.virtual_size))
      .Str("danger", i.danger)
      .Str("qemu_img", i.qemu_img_version)
      .Time("at", i.at)
      .Int("rules", i.rules);
  return w.Finish();
}

Result<InspectionRecord> DecodeInspection(std::string_view key, std::string_view json) {
  RecordReader r(Place(kInspectionsDb, key), json);
  InspectionRecord i;
  i.format = r.Str("format");
  i.virtual_size = ReadSize(r, "virtual_size");
  i.danger = r.Str("danger");
  i.qemu_img_version = r.Str("qemu_img");
  i.at = r.Time("at");
  if (r.Has("rules")) i.rules = r.Int("rules");
  VMC_RETURN_IF_ERROR(r.status());
  return i;
}

}  // namespace vmc::catcher
