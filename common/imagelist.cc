#include "common/imagelist.h"

#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <span>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/digest.h"
#include "common/identifier.h"
#include "common/imagelist_keys.h"
#include "common/json_reader.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "common/schema.h"
#include "common/utf8.h"
#include "schemas/embedded_schemas.h"

namespace vmc {
namespace {

constexpr std::string_view kSchemaName = "imagelist.schema.json";
constexpr std::string_view kWrapper = "hv:imagelist";
constexpr std::string_view kWrappedBase = "/hv:imagelist";
// ---------------------------------------------------------------------------
// Small JSON helpers.

std::string_view View(const rapidjson::Value& string) {
  return {string.GetString(), string.GetStringLength()};
}

rapidjson::Value Name(std::string_view key) {
  return rapidjson::Value(rapidjson::StringRef(key.data(), key.size()));
}

rapidjson::Value CopyString(std::string_view text, rapidjson::Document::AllocatorType& alloc) {
  return rapidjson::Value(text.data(), static_cast<rapidjson::SizeType>(text.size()), alloc);
}

const rapidjson::Value* Member(const rapidjson::Value& object, std::string_view key) {
  if (!object.IsObject()) return nullptr;
  const auto it = object.FindMember(Name(key));
  return it == object.MemberEnd() ? nullptr : &it->value;
}

rapidjson::Value* Member(rapidjson::Value& object, std::string_view key) {
  if (!object.IsObject()) return nullptr;
  const auto it = object.FindMember(Name(key));
  // Against the const end: RapidJSON's operator== takes a ConstMemberIterator,
  // so with two MemberIterators C++20 finds it ambiguous with its reversed form.
  return it == std::as_const(object).MemberEnd() ? nullptr : &it->value;
}

// Replaces or adds `key`, keeping the order of the other members.
void Put(rapidjson::Value& object, std::string_view key, rapidjson::Value value,
         rapidjson::Document::AllocatorType& alloc) {
  if (rapidjson::Value* existing = Member(object, key)) {
    *existing = std::move(value);
    return;
  }
  object.AddMember(CopyString(key, alloc), std::move(value), alloc);
}

template <typename Writer>
std::string Serialize(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Any value as text: strings verbatim, numbers in decimal, the rest as JSON.
std::string ValueText(const rapidjson::Value& value) {
  if (value.IsString()) return std::string(View(value));
  return Serialize<rapidjson::Writer<rapidjson::StringBuffer>>(value);
}

std::string Excerpt(const rapidjson::Value& value) {
  if (value.IsObject()) return "an object";
  if (value.IsArray()) return "an array";
  if (value.IsString()) return QuoteUntrusted(View(value));
  return Serialize<rapidjson::Writer<rapidjson::StringBuffer>>(value);
}

std::optional<std::uint64_t> ParseCountText(std::string_view text) {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// hv:size and friends: an integer, or AppDB's digit string.
std::optional<std::uint64_t> ParseCount(const rapidjson::Value& value) {
  if (value.IsUint64()) return value.GetUint64();
  if (value.IsString()) return ParseCountText(View(value));
  return std::nullopt;
}

Error AtPointer(Error error, const std::string& pointer) {
  return std::move(error).Prefix("image list at " + pointer + ": ").With("pointer", pointer);
}

// ---------------------------------------------------------------------------
// Reading (common/json_reader.h has the rules and why).

// A list at the fetch cap (16 MiB by default, DESIGN.md section 5 step 1)
// is far below this; a site may raise its cap, but no list of images comes
// near RapidJSON's 4 GiB. Lists nest about six levels; unknown keys may add
// a few.
constexpr JsonReadOptions kListJson{.max_bytes = std::size_t{1} << 30,
                                    .max_depth = kMaxImageListDepth,
                                    .syntax = JsonSyntax::kStrict};
// A value given to SetJson() sits a few levels down in the list.
constexpr JsonReadOptions kValueJson{.max_bytes = kListJson.max_bytes,
                                     .max_depth = kMaxImageListDepth - 8,
                                     .syntax = JsonSyntax::kStrict};

// Where: the byte, and the pointer of the value being read (quoted, since it
// holds the list's keys; --json has it whole).
Error ListRefused(const JsonRefusal& refusal) {
  const std::string offset = std::to_string(refusal.offset);
  if (refusal.rule == JsonRule::kTooLarge) {
    return Error(ErrorCode::kListTooLarge, "image list is refused: " + refusal.reason)
        .With("offset", offset);
  }
  const std::string where =
      refusal.pointer.empty() ? "" : " (at " + QuoteUntrusted(refusal.pointer) + ")";
  return Error(ErrorCode::kJsonMalformed,
               "image list is not valid JSON at byte " + offset + where + ": " + refusal.reason)
      .With("offset", offset)
      .With("pointer", refusal.pointer);
}

// A value's refusal gets the pointer of its key from the caller (AtPointer);
// where inside the value it is wrong, the offset says.
Result<rapidjson::Document> ParseValue(std::string_view text) {
  JsonReadResult read = ReadJson(text, kValueJson);
  if (read.ok()) return std::move(read.document());
  const JsonRefusal& refusal = read.refusal();
  const std::string offset = std::to_string(refusal.offset);
  return Error(ErrorCode::kJsonMalformed,
               "the value is not valid JSON at byte " + offset + ": " + refusal.reason)
      .With("offset", offset);
}

// ---------------------------------------------------------------------------
// Typed values: the checks the schema cannot make (calendar dates, 64-bit
// counts, and everything after a NUL byte, where RapidJSON's regex stops).

Status CheckTyped(ValueKind kind, const rapidjson::Value& value) {
  switch (kind) {
    case ValueKind::kAny:
    case ValueKind::kStructure:
      return Ok();
    case ValueKind::kText:
      if (value.IsString()) return Ok();
      return Error(ErrorCode::kInvalidValue, "expected a string, not " + Excerpt(value));
    case ValueKind::kIdentifier:
      if (!value.IsString()) {
        return Error(ErrorCode::kInvalidIdentifier,
                     "expected an identifier string, not " + Excerpt(value));
      }
      return ValidateIdentifier(View(value));
    case ValueKind::kDate: {
      // ParseDate() quotes its input whole: keep hostile lengths out of it.
      constexpr std::size_t kDateLength = 20;
      if (!value.IsString() || value.GetStringLength() != kDateLength) {
        return Error(ErrorCode::kInvalidDate,
                     "invalid date " + Excerpt(value) + ": expected UTC as YYYY-MM-DDTHH:MM:SSZ");
      }
      const auto date = ParseDate(View(value));
      if (!date.ok()) return date.error();
      return Ok();
    }
    case ValueKind::kCount:
      if (ParseCount(value)) return Ok();
      return Error(ErrorCode::kInvalidValue,
                   Excerpt(value) +
                       " is not a count: expected a non-negative integer below 2^64, as a number "
                       "or a string of digits");
    case ValueKind::kSha512: {
      if (!value.IsString()) {
        return Error(ErrorCode::kInvalidValue, "expected a SHA-512 string, not " + Excerpt(value));
      }
      const auto bytes = DecodeSha512Hex(View(value));
      if (!bytes.ok()) return bytes.error();
      return Ok();
    }
  }
  return Ok();
}

// Command-line text as the value of a key of `kind`: counts become integers
// and checksums lower case; everything else stays the text given.
Status MakeValue(ValueKind kind, std::string_view text, rapidjson::Document::AllocatorType& alloc,
                 rapidjson::Value* out) {
  if (!IsValidUtf8(text)) {
    return Error(ErrorCode::kInvalidValue, "the value " + QuoteUntrusted(text) + " is not UTF-8");
  }
  if (kind == ValueKind::kCount) {
    const auto count = ParseCountText(text);
    if (!count) {
      return Error(ErrorCode::kInvalidValue,
                   QuoteUntrusted(text) + " is not a count: expected decimal digits, below 2^64");
    }
    out->SetUint64(*count);
    return Ok();
  }
  if (kind == ValueKind::kSha512) {
    VMC_ASSIGN_OR_RETURN(const std::string hex, NormalizeSha512Hex(text));
    *out = CopyString(hex, alloc);
    return Ok();
  }
  *out = CopyString(text, alloc);
  return CheckTyped(kind, *out);
}

Status CheckKeyName(std::string_view key) {
  if (key.empty()) return Error(ErrorCode::kInvalidValue, "a key cannot be empty");
  if (!IsValidUtf8(key)) {
    return Error(ErrorCode::kInvalidValue, "the key " + QuoteUntrusted(key) + " is not UTF-8");
  }
  return Ok();
}

// `pointer()` names the object; it is only built for an error (a list of
// 10,000 images would otherwise build 10,000 strings to throw away).
template <typename PointerFn>
Status CheckMembers(const rapidjson::Value& object, std::span<const KeyKind> table,
                    const PointerFn& pointer) {
  for (const auto& member : object.GetObject()) {
    const Status status = CheckTyped(KindOf(table, View(member.name)), member.value);
    if (!status.ok())
      return AtPointer(status.error(), pointer() + "/" + JsonPointerToken(View(member.name)));
  }
  return Ok();
}

// Runs beside the schema check (SchemaCheckBeside), so `list` may be
// anything: what is not shaped as the schema requires is skipped here, as
// the schema check refuses it, and its error is the one reported.
Status CheckSemantics(const rapidjson::Value* list, const std::string& base) {
  if (list == nullptr || !list->IsObject()) return Ok();
  VMC_RETURN_IF_ERROR(CheckMembers(*list, kListKeys, [&] { return base; }));
  const rapidjson::Value* images = Member(*list, "hv:images");
  if (images == nullptr || !images->IsArray()) return Ok();
  std::unordered_map<std::string_view, rapidjson::SizeType> seen;
  seen.reserve(images->Size());
  for (rapidjson::SizeType i = 0; i < images->Size(); ++i) {
    const auto pointer = [&] { return base + "/hv:images/" + std::to_string(i) + "/hv:image"; };
    const rapidjson::Value* image = Member((*images)[i], "hv:image");
    if (image == nullptr || !image->IsObject()) continue;
    VMC_RETURN_IF_ERROR(CheckMembers(*image, kImageKeys, pointer));
    const rapidjson::Value* identifier = Member(*image, "dc:identifier");
    if (identifier == nullptr || !identifier->IsString()) continue;
    const auto [first, inserted] = seen.emplace(View(*identifier), i);
    if (!inserted) {
      return AtPointer(
          Error(ErrorCode::kInvalidValue, "image identifier " + QuoteUntrusted(first->first) +
                                              " is used twice (also by image " +
                                              std::to_string(first->second) + ")"),
          pointer() + "/dc:identifier");
    }
  }
  return Ok();
}

// ---------------------------------------------------------------------------
// Schema validation, compiled once per process.

// A draft (ImageList::ParseDraft) lacks what `caster sign` fills: of the
// list's required keys only dc:identifier remains.
Result<JsonSchema> CompileDraftSchema(std::string_view root) {
  rapidjson::Document schema;
  const std::string_view text = EmbeddedSchema(kSchemaName);
  schema.Parse(text.data(), text.size());
  rapidjson::Value* required =
      schema.HasParseError() ? nullptr
                             : rapidjson::Pointer("/definitions/imagelist/required").Get(schema);
  if (required == nullptr || !required->IsArray()) {
    return Error(ErrorCode::kNotFound,
                 "the built-in image list schema has no /definitions/imagelist/required");
  }
  required->Clear();
  required->PushBack(Name("dc:identifier"), schema.GetAllocator());
  return JsonSchema::FromText(Serialize<rapidjson::Writer<rapidjson::StringBuffer>>(schema),
                              "imagelist.schema.json (draft)", root);
}

// Compiled once per thread: RapidJSON 1.1's compiled patterns keep their
// match state, so one compiled schema validates one document at a time (its
// lock, common/schema.h), and a cycle verifies its lists on every core at
// once. An old list without the wrapper is validated against the inner
// schema, so that pointers name the bytes as written.
const Result<JsonSchema>& SchemaFor(bool wrapped, bool draft) {
  constexpr std::string_view kInner = "/definitions/imagelist";
  if (draft && wrapped) {
    thread_local const Result<JsonSchema> kWrappedDraft = CompileDraftSchema("");
    return kWrappedDraft;
  }
  if (draft) {
    thread_local const Result<JsonSchema> kUnwrappedDraft = CompileDraftSchema(kInner);
    return kUnwrappedDraft;
  }
  if (wrapped) {
    thread_local const Result<JsonSchema> kWrappedFinal = JsonSchema::FromEmbedded(kSchemaName);
    return kWrappedFinal;
  }
  thread_local const Result<JsonSchema> kUnwrapped = JsonSchema::FromEmbedded(kSchemaName, kInner);
  return kUnwrapped;
}

// The schema found the fault; the code says what kind of value is wrong,
// as CheckTyped() would have.
Error Recode(const Error& error) {
  ErrorCode code = error.code();
  for (const auto& [key, value] : error.details()) {
    if (key != "schema_pointer") continue;
    if (value == "/definitions/identifier") code = ErrorCode::kInvalidIdentifier;
    if (value == "/definitions/date") code = ErrorCode::kInvalidDate;
  }
  Error recoded(code, error.message());
  for (const auto& [key, value] : error.details()) recoded.With(key, value);
  return recoded;
}

Status ValidateSchema(const Result<JsonSchema>& schema, const rapidjson::Value& value) {
  if (!schema.ok()) return schema.error();
  const Status status = schema->Validate(value, "image list");
  if (!status.ok()) return Recode(status.error());
  return Ok();
}

// Schema validation beside the parse. Validating a parsed list walks the
// whole document again after parsing it (a third of reading a list of 10,000
// images); instead a second reader of the same text feeds the validator on
// another core while this thread builds the document and checks its keys.
// The outcome is the one ValidateSchema gives for the parsed document: the
// same bytes through the same reader and handler make the same events.
class SchemaCheckBeside {
 public:
  // Below this size a thread costs more than it saves.
  static constexpr std::size_t kMinBytes = 256 * 1024;

  // REQUIRES: `text` passed CheckJsonText; `schema` and `text` outlive this.
  SchemaCheckBeside(const JsonSchema& schema, std::string_view text)
      : check_(schema.StartEventCheck()), worker_([this, text] {
          try {
            // A violation stops the reader too; only a completed read makes
            // "no violation" mean something.
            complete_ = ReadCheckedJsonEvents(text, kListJson, &check_->handler());
          } catch (const std::exception&) {
            complete_ = false;  // e.g. out of memory: Finish reports it
          }
        }) {}
  ~SchemaCheckBeside() {
    if (worker_.joinable()) worker_.join();
  }
  SchemaCheckBeside(const SchemaCheckBeside&) = delete;
  SchemaCheckBeside& operator=(const SchemaCheckBeside&) = delete;

  // REQUIRES: `doc` is `text` parsed by ParseCheckedJson without refusal.
  Status Finish(const rapidjson::Value& doc) {
    worker_.join();
    const Status status = check_->Finish(doc, "image list");
    if (!status.ok()) return Recode(status.error());
    if (!complete_) {
      return Error(ErrorCode::kSchemaViolation,
                   "image list: the schema check could not read the list to its end");
    }
    return Ok();
  }

 private:
  std::unique_ptr<JsonSchema::EventCheck> check_;
  bool complete_ = false;  // written by worker_ before it ends
  std::thread worker_;     // last: starts once the members above exist
};

bool IsOldList(const rapidjson::Value& doc) {
  return doc.IsObject() && Member(doc, kWrapper) == nullptr &&
         (Member(doc, "hv:images") != nullptr || Member(doc, "dc:identifier") != nullptr);
}

std::string TextOf(const rapidjson::Value& object, std::string_view key) {
  const rapidjson::Value* value = Member(object, key);
  return value ? ValueText(*value) : std::string();
}

std::optional<TimePoint> DateOf(const rapidjson::Value& object, std::string_view key) {
  const rapidjson::Value* value = Member(object, key);
  if (value == nullptr || !value->IsString()) return std::nullopt;
  const auto date = ParseDate(View(*value));
  if (!date.ok()) return std::nullopt;
  return *date;
}

std::optional<std::uint64_t> CountOf(const rapidjson::Value& object, std::string_view key) {
  const rapidjson::Value* value = Member(object, key);
  return value ? ParseCount(*value) : std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------------------
// Image

std::string Image::Text(std::string_view key) const { return TextOf(*image_, key); }
std::string Image::identifier() const { return Text("dc:identifier"); }
std::string Image::title() const { return Text("dc:title"); }
std::string Image::description() const { return Text("dc:description"); }
std::string Image::uri() const { return Text("hv:uri"); }
// The invariant (header) guarantees a valid count; 0 is unreachable.
std::uint64_t Image::size() const { return CountOf(*image_, "hv:size").value_or(0); }
std::string Image::version() const { return Text("hv:version"); }
std::string Image::hypervisor() const { return Text("hv:hypervisor"); }
std::string Image::format() const { return Text("hv:format"); }
std::string Image::arch() const { return Text("sl:arch"); }
std::string Image::os() const { return Text("sl:os"); }
std::string Image::osversion() const { return Text("sl:osversion"); }
std::string Image::comments() const { return Text("sl:comments"); }
std::optional<std::uint64_t> Image::ram_minimum() const {
  return CountOf(*image_, "hv:ram_minimum");
}
std::optional<std::uint64_t> Image::core_minimum() const {
  return CountOf(*image_, "hv:core_minimum");
}
std::optional<TimePoint> Image::expires() const { return DateOf(*image_, "dc:date:expires"); }
std::string Image::mpuri() const { return Text("ad:mpuri"); }

std::string Image::sha512() const {
  std::string hex = Text("sl:checksum:sha512");
  std::transform(hex.begin(), hex.end(), hex.begin(), [](char c) {
    return (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return hex;
}

std::string Image::vo() const {
  if (Member(*image_, "ad:vo") != nullptr) return Text("ad:vo");
  return TextOf(*list_, "ad:vo");
}

std::optional<std::string> Image::Get(std::string_view key) const {
  const rapidjson::Value* value = Member(*image_, key);
  if (value == nullptr) return std::nullopt;
  return ValueText(*value);
}

std::string Image::pointer() const {
  return std::string(kWrappedBase) + "/hv:images/" + std::to_string(index_) + "/hv:image";
}

// ---------------------------------------------------------------------------
// ImageList: construction

ImageList::ImageList(rapidjson::Document document) : document_(std::move(document)) {
  IndexImages();
}

void ImageList::IndexImages() {
  images_.clear();
  by_identifier_.clear();
  const rapidjson::Value* images = Member(list(), "hv:images");
  if (images == nullptr) return;
  images_.reserve(images->Size());
  by_identifier_.reserve(images->Size());
  for (rapidjson::SizeType i = 0; i < images->Size(); ++i) {
    const rapidjson::Value* image = Member((*images)[i], "hv:image");
    images_.push_back(Image(image, &list(), i));
    const rapidjson::Value* id = image ? Member(*image, "dc:identifier") : nullptr;
    // Identifiers are unique (Parse, AddImage, SetImage keep it so).
    if (id != nullptr && id->IsString()) by_identifier_.emplace(View(*id), i);
  }
}
ImageList::ImageList(ImageList&&) noexcept = default;
ImageList& ImageList::operator=(ImageList&&) noexcept = default;
ImageList::~ImageList() = default;

ImageList ImageList::Clone() const {
  rapidjson::Document copy;
  copy.CopyFrom(document_, copy.GetAllocator());
  return ImageList(std::move(copy));
}

Result<ImageList> ImageList::Create(const NewListFields& fields) {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(fields.identifier));
  rapidjson::Document doc;
  auto& alloc = doc.GetAllocator();
  rapidjson::Value list(rapidjson::kObjectType);
  const std::pair<std::string_view, std::string_view> texts[] = {
      {"dc:identifier", fields.identifier},
      {"dc:title", fields.title},
      {"dc:description", fields.description},
      {"dc:source", fields.source},
      {"hv:uri", fields.uri}};
  for (const auto& [key, text] : texts) {
    if (!IsValidUtf8(text)) {
      return Error(ErrorCode::kInvalidValue, "the " + std::string(key) + " " +
                                                 QuoteUntrusted(text) +
                                                 " of a new image list is not UTF-8");
    }
    list.AddMember(Name(key), CopyString(text, alloc), alloc);
  }
  list.AddMember(Name("hv:images"), rapidjson::Value(rapidjson::kArrayType), alloc);
  doc.SetObject();
  doc.AddMember(Name(kWrapper), list, alloc);
  return ImageList(std::move(doc));
}

Result<ImageList> ImageList::Parse(std::string_view json, std::vector<std::string>* warnings) {
  return Read(json, warnings, /*draft=*/false);
}

Result<ImageList> ImageList::ParseDraft(std::string_view json, std::vector<std::string>* warnings) {
  return Read(json, warnings, /*draft=*/true);
}

Result<ImageList> ImageList::Read(std::string_view json, std::vector<std::string>* warnings,
                                  bool draft) {
  if (const auto refusal = CheckJsonText(json, kListJson)) return ListRefused(*refusal);
  const Result<JsonSchema>& wrapped = SchemaFor(/*wrapped=*/true, draft);
  std::optional<SchemaCheckBeside> beside;
  if (json.size() >= SchemaCheckBeside::kMinBytes && wrapped.ok()) beside.emplace(*wrapped, json);
  JsonReadResult read = ParseCheckedJson(json, kListJson);
  if (!read.ok()) return ListRefused(read.refusal());
  rapidjson::Document& doc = read.document();
  if (!IsOldList(doc)) {
    // While the schema check may still run; its refusal is reported first.
    const Status semantics = CheckSemantics(Member(doc, kWrapper), std::string(kWrappedBase));
    VMC_RETURN_IF_ERROR(beside ? beside->Finish(doc) : ValidateSchema(wrapped, doc));
    VMC_RETURN_IF_ERROR(semantics);
    return ImageList(std::move(doc));
  }
  VMC_RETURN_IF_ERROR(ValidateSchema(SchemaFor(/*wrapped=*/false, draft), doc));
  VMC_RETURN_IF_ERROR(CheckSemantics(&doc, ""));
  if (warnings != nullptr) {
    warnings->push_back(
        "image list " + QuoteUntrusted(TextOf(doc, "dc:identifier")) +
        " has no \"hv:imagelist\" wrapper (an old list format); accepted, and written with it");
  }
  // Wrap in place: the values stay in the document's allocator.
  rapidjson::Value list;
  list.Swap(doc);
  doc.SetObject();
  doc.AddMember(Name(kWrapper), list, doc.GetAllocator());
  return ImageList(std::move(doc));
}

// ---------------------------------------------------------------------------
// ImageList: reads

rapidjson::Value& ImageList::list() { return *Member(document_, kWrapper); }
const rapidjson::Value& ImageList::list() const { return *Member(document_, kWrapper); }

std::string ImageList::identifier() const { return TextOf(list(), "dc:identifier"); }
std::string ImageList::title() const { return TextOf(list(), "dc:title"); }
std::string ImageList::description() const { return TextOf(list(), "dc:description"); }
std::string ImageList::source() const { return TextOf(list(), "dc:source"); }
std::string ImageList::uri() const { return TextOf(list(), "hv:uri"); }
std::string ImageList::version() const { return TextOf(list(), "hv:version"); }
std::optional<TimePoint> ImageList::created() const { return DateOf(list(), "dc:date:created"); }
std::optional<TimePoint> ImageList::expires() const { return DateOf(list(), "dc:date:expires"); }
std::string ImageList::vo() const { return TextOf(list(), "ad:vo"); }

std::optional<Endorser> ImageList::endorser() const {
  const rapidjson::Value* endorser = Member(list(), "hv:endorser");
  const rapidjson::Value* x509 = endorser ? Member(*endorser, "hv:x509") : nullptr;
  if (x509 == nullptr) return std::nullopt;
  return Endorser{TextOf(*x509, "hv:dn"), TextOf(*x509, "hv:ca"), TextOf(*x509, "hv:email"),
                  TextOf(*x509, "dc:creator")};
}

std::size_t ImageList::image_count() const {
  const rapidjson::Value* images = Member(list(), "hv:images");
  return images ? images->Size() : 0;
}

std::optional<Image> ImageList::FindImage(std::string_view identifier) const {
  const auto it = by_identifier_.find(identifier);
  if (it == by_identifier_.end()) return std::nullopt;
  return images_[it->second];
}

std::optional<std::string> ImageList::Get(std::string_view key) const {
  const rapidjson::Value* value = Member(list(), key);
  if (value == nullptr) return std::nullopt;
  return ValueText(*value);
}

const rapidjson::Value& ImageList::json() const { return document_; }

// ---------------------------------------------------------------------------
// ImageList: list mutations

Status ImageList::SetListValue(std::string_view key, rapidjson::Value value) {
  const std::string pointer = std::string(kWrappedBase) + "/" + JsonPointerToken(key);
  if (Status s = CheckKeyName(key); !s.ok()) return AtPointer(s.error(), pointer);
  const ValueKind kind = KindOf(kListKeys, key);
  if (kind == ValueKind::kStructure) {
    return AtPointer(Error(ErrorCode::kInvalidValue,
                           std::string(key) + " is changed only through its own commands"),
                     pointer);
  }
  if (Status s = CheckTyped(kind, value); !s.ok()) return AtPointer(s.error(), pointer);
  Put(list(), key, std::move(value), document_.GetAllocator());
  return Ok();
}

Status ImageList::Set(std::string_view key, std::string_view text) {
  rapidjson::Value value;
  if (Status s = MakeValue(KindOf(kListKeys, key), text, document_.GetAllocator(), &value);
      !s.ok()) {
    return AtPointer(s.error(), std::string(kWrappedBase) + "/" + JsonPointerToken(key));
  }
  return SetListValue(key, std::move(value));
}

Status ImageList::SetJson(std::string_view key, std::string_view json) {
  const std::string pointer = std::string(kWrappedBase) + "/" + JsonPointerToken(key);
  auto parsed = ParseValue(json);
  if (!parsed.ok()) return AtPointer(parsed.error(), pointer);
  return SetListValue(key, rapidjson::Value(*parsed, document_.GetAllocator()));
}

Status ImageList::Unset(std::string_view key) {
  const std::string pointer = std::string(kWrappedBase) + "/" + JsonPointerToken(key);
  if (Contains(kFixedListKeys, key)) {
    return AtPointer(Error(ErrorCode::kInvalidValue, std::string(key) + " cannot be removed"),
                     pointer);
  }
  const auto it = list().FindMember(Name(key));
  if (it == std::as_const(list()).MemberEnd()) {  // the const end: see Member()
    return AtPointer(Error(ErrorCode::kNotFound, "no key " + QuoteUntrusted(key)), pointer);
  }
  list().EraseMember(it);
  return Ok();
}

void ImageList::SetCreated(TimePoint t) {
  Put(list(), "dc:date:created", CopyString(FormatDate(t), document_.GetAllocator()),
      document_.GetAllocator());
}

void ImageList::SetExpires(TimePoint t) {
  Put(list(), "dc:date:expires", CopyString(FormatDate(t), document_.GetAllocator()),
      document_.GetAllocator());
}

Status ImageList::SetVersion(std::string_view version) { return Set("hv:version", version); }

Status ImageList::SetEndorser(const Endorser& endorser) {
  const std::pair<std::string_view, std::string_view> fields[] = {{"hv:dn", endorser.dn},
                                                                  {"hv:ca", endorser.ca},
                                                                  {"hv:email", endorser.email},
                                                                  {"dc:creator", endorser.creator}};
  for (const auto& [key, text] : fields) {
    if (!IsValidUtf8(text)) {
      return AtPointer(Error(ErrorCode::kInvalidValue, QuoteUntrusted(text) + " is not UTF-8"),
                       std::string(kWrappedBase) + "/hv:endorser/hv:x509/" + JsonPointerToken(key));
    }
  }
  auto& alloc = document_.GetAllocator();
  if (Member(list(), "hv:endorser") == nullptr) {
    Put(list(), "hv:endorser", rapidjson::Value(rapidjson::kObjectType), alloc);
  }
  rapidjson::Value& outer = *Member(list(), "hv:endorser");
  if (Member(outer, "hv:x509") == nullptr) {
    Put(outer, "hv:x509", rapidjson::Value(rapidjson::kObjectType), alloc);
  }
  rapidjson::Value& x509 = *Member(outer, "hv:x509");
  for (const auto& [key, text] : fields) Put(x509, key, CopyString(text, alloc), alloc);
  return Ok();
}

// ---------------------------------------------------------------------------
// ImageList: image mutations

rapidjson::Value* ImageList::FindImageObject(std::string_view identifier, std::size_t* index) {
  const auto it = by_identifier_.find(identifier);
  if (it == by_identifier_.end()) return nullptr;
  *index = it->second;
  return Member((*Member(list(), "hv:images"))[static_cast<rapidjson::SizeType>(it->second)],
                "hv:image");
}

namespace {

Error NoSuchImage(std::string_view list, std::string_view image) {
  return Error(ErrorCode::kNotFound,
               "image list " + QuoteUntrusted(list) + " has no image " + QuoteUntrusted(image))
      .With("image", EscapeForLog(image.substr(0, kMaxIdentifierLength + 1)));
}

Error ImageTaken(std::string_view list, std::string_view image) {
  return Error(ErrorCode::kAlreadyExists, "image list " + QuoteUntrusted(list) +
                                              " already has an image " + QuoteUntrusted(image))
      .With("image", EscapeForLog(image.substr(0, kMaxIdentifierLength + 1)));
}

}  // namespace

Status ImageList::AddImage(const NewImageFields& fields) {
  const std::string pointer =
      std::string(kWrappedBase) + "/hv:images/" + std::to_string(image_count()) + "/hv:image";
  if (Status s = ValidateIdentifier(fields.identifier); !s.ok()) {
    return AtPointer(s.error(), pointer + "/dc:identifier");
  }
  if (FindImage(fields.identifier)) return ImageTaken(identifier(), fields.identifier);
  auto sha512 = NormalizeSha512Hex(fields.sha512);
  if (!sha512.ok()) return AtPointer(sha512.error(), pointer + "/sl:checksum:sha512");
  for (const auto& [key, text] :
       {std::pair<std::string_view, std::string_view>{"hv:uri", fields.uri},
        {"dc:title", fields.title}}) {
    if (!IsValidUtf8(text)) {
      return AtPointer(Error(ErrorCode::kInvalidValue, QuoteUntrusted(text) + " is not UTF-8"),
                       pointer + "/" + JsonPointerToken(key));
    }
  }
  auto& alloc = document_.GetAllocator();
  rapidjson::Value image(rapidjson::kObjectType);
  for (const std::string_view key : kLegacyImageKeys) {
    image.AddMember(Name(key), rapidjson::Value(rapidjson::kStringType), alloc);
  }
  Put(image, "dc:identifier", CopyString(fields.identifier, alloc), alloc);
  Put(image, "hv:uri", CopyString(fields.uri, alloc), alloc);
  Put(image, "hv:size", rapidjson::Value(fields.size), alloc);
  Put(image, "sl:checksum:sha512", CopyString(*sha512, alloc), alloc);
  Put(image, "dc:title", CopyString(fields.title, alloc), alloc);
  rapidjson::Value entry(rapidjson::kObjectType);
  entry.AddMember(Name("hv:image"), image, alloc);
  if (Member(list(), "hv:images") == nullptr) {
    Put(list(), "hv:images", rapidjson::Value(rapidjson::kArrayType), alloc);
  }
  Member(list(), "hv:images")->PushBack(entry, alloc);
  IndexImages();  // the array may have moved its elements
  return Ok();
}

Status ImageList::RemoveImage(std::string_view identifier) {
  std::size_t index = 0;
  if (FindImageObject(identifier, &index) == nullptr) {
    return NoSuchImage(this->identifier(), identifier);
  }
  rapidjson::Value& images = *Member(list(), "hv:images");
  images.Erase(images.Begin() + index);
  IndexImages();
  return Ok();
}

Status ImageList::SetImageValue(std::string_view image_id, std::string_view key,
                                rapidjson::Value value) {
  std::size_t index = 0;
  rapidjson::Value* image = FindImageObject(image_id, &index);
  if (image == nullptr) return NoSuchImage(identifier(), image_id);
  const std::string pointer = Image(image, &list(), index).pointer() + "/" + JsonPointerToken(key);
  if (Status s = CheckKeyName(key); !s.ok()) return AtPointer(s.error(), pointer);
  if (Status s = CheckTyped(KindOf(kImageKeys, key), value); !s.ok()) {
    return AtPointer(s.error(), pointer);
  }
  if (key == "dc:identifier" && View(value) != image_id && FindImage(View(value))) {
    return ImageTaken(identifier(), View(value));
  }
  Put(*image, key, std::move(value), document_.GetAllocator());
  // The image's members may have moved, and short strings (identifiers
  // among them) live inside them: the index's views must be taken again.
  IndexImages();
  return Ok();
}

Status ImageList::SetImage(std::string_view image, std::string_view key, std::string_view text) {
  rapidjson::Value value;
  if (Status s = MakeValue(KindOf(kImageKeys, key), text, document_.GetAllocator(), &value);
      !s.ok()) {
    std::size_t index = 0;
    const rapidjson::Value* object = FindImageObject(image, &index);
    if (object == nullptr) return NoSuchImage(identifier(), image);
    return AtPointer(s.error(),
                     Image(object, &list(), index).pointer() + "/" + JsonPointerToken(key));
  }
  return SetImageValue(image, key, std::move(value));
}

Status ImageList::SetImageJson(std::string_view image, std::string_view key,
                               std::string_view json) {
  auto parsed = ParseValue(json);
  if (!parsed.ok()) {
    std::size_t index = 0;
    const rapidjson::Value* object = FindImageObject(image, &index);
    if (object == nullptr) return NoSuchImage(identifier(), image);
    return AtPointer(parsed.error(),
                     Image(object, &list(), index).pointer() + "/" + JsonPointerToken(key));
  }
  return SetImageValue(image, key, rapidjson::Value(*parsed, document_.GetAllocator()));
}

Status ImageList::UnsetImage(std::string_view image_id, std::string_view key) {
  std::size_t index = 0;
  rapidjson::Value* image = FindImageObject(image_id, &index);
  if (image == nullptr) return NoSuchImage(identifier(), image_id);
  const std::string pointer = Image(image, &list(), index).pointer() + "/" + JsonPointerToken(key);
  if (Contains(kFixedImageKeys, key)) {
    return AtPointer(Error(ErrorCode::kInvalidValue, std::string(key) + " cannot be removed"),
                     pointer);
  }
  const auto it = image->FindMember(Name(key));
  if (it == std::as_const(*image).MemberEnd()) {  // the const end: see Member()
    return AtPointer(Error(ErrorCode::kNotFound, "no key " + QuoteUntrusted(key)), pointer);
  }
  image->EraseMember(it);
  IndexImages();  // as in SetImageValue: the members moved
  return Ok();
}

// ---------------------------------------------------------------------------
// ImageList: validation and writing

Status ImageList::Validate() const {
  VMC_RETURN_IF_ERROR(ValidateSchema(SchemaFor(/*wrapped=*/true, /*draft=*/false), document_));
  return CheckSemantics(&list(), std::string(kWrappedBase));
}

std::string ImageList::Write() const { return WriteDeterministicJson(document_); }

}  // namespace vmc
