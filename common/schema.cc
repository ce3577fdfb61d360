#include "common/schema.h"

#include <rapidjson/error/en.h>
#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <mutex>
#include <string>

#include "schemas/embedded_schemas.h"

namespace vmc {

struct JsonSchema::Compiled {
  // The schema document must outlive `schema`, which points into it.
  rapidjson::Document document;
  std::unique_ptr<rapidjson::SchemaDocument> schema;
  std::mutex mutex;  // serializes Validate(): the compiled regexes hold match state
};

namespace {

template <typename Pointer>
std::string PointerText(const Pointer& pointer) {
  rapidjson::StringBuffer buffer;
  pointer.Stringify(buffer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// A short, printable rendering of an offending value: scalars as JSON (the
// ASCII writer escapes control and non-ASCII characters), containers by kind.
std::string Excerpt(const rapidjson::Value& value) {
  if (value.IsObject()) return "an object";
  if (value.IsArray()) return "an array";
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::ASCII<>> writer(buffer);
  value.Accept(writer);
  std::string text(buffer.GetString(), buffer.GetSize());
  constexpr std::size_t kMaxExcerpt = 80;
  if (text.size() > kMaxExcerpt) {
    text.resize(kMaxExcerpt);
    text += "...";
  }
  return text;
}

// RapidJSON 1.1.0 reports a failed "required" at the object, without the
// key: find the first required key the object lacks.
std::string MissingKey(const rapidjson::Value& schema, const rapidjson::Value& object) {
  const auto required = schema.FindMember("required");
  if (required == schema.MemberEnd() || !required->value.IsArray() || !object.IsObject()) {
    return {};
  }
  for (const auto& key : required->value.GetArray()) {
    if (key.IsString() && !object.HasMember(key)) return key.GetString();
  }
  return {};
}

std::string Description(const rapidjson::Value& schema) {
  const auto it = schema.FindMember("description");
  if (it == schema.MemberEnd() || !it->value.IsString()) return {};
  return std::string(" (") + it->value.GetString() + ")";
}

SchemaViolation Violation(const rapidjson::SchemaValidator& validator,
                          const rapidjson::Value& checked,
                          const rapidjson::Document& schema_document) {
  SchemaViolation violation;
  violation.pointer = PointerText(validator.GetInvalidDocumentPointer());
  violation.keyword = validator.GetInvalidSchemaKeyword();
  violation.schema_pointer = PointerText(validator.GetInvalidSchemaPointer());
  const rapidjson::Value* value = validator.GetInvalidDocumentPointer().Get(checked);
  const rapidjson::Value* schema = validator.GetInvalidSchemaPointer().Get(schema_document);
  if (violation.keyword == "required" && schema && value) {
    violation.missing = MissingKey(*schema, *value);
  }
  if (!violation.missing.empty()) {
    violation.reason = "required key \"" + violation.missing + "\" is missing";
  } else {
    violation.reason = (value ? Excerpt(*value) : std::string("the value")) + " does not match " +
                       violation.keyword;
    if (schema) violation.reason += Description(*schema);
  }
  return violation;
}

}  // namespace

JsonSchema::JsonSchema(std::unique_ptr<Compiled> compiled) : compiled_(std::move(compiled)) {}
JsonSchema::JsonSchema(JsonSchema&&) noexcept = default;
JsonSchema& JsonSchema::operator=(JsonSchema&&) noexcept = default;
JsonSchema::~JsonSchema() = default;

Result<JsonSchema> JsonSchema::FromEmbedded(std::string_view name, std::string_view root) {
  const std::string_view text = EmbeddedSchema(name);
  if (text.empty()) {
    return Error(ErrorCode::kNotFound, "no schema named \"" + std::string(name) + "\" is built in");
  }
  return FromText(text, name, root);
}

Result<JsonSchema> JsonSchema::FromText(std::string_view text, std::string_view name,
                                        std::string_view root) {
  auto compiled = std::make_unique<Compiled>();
  rapidjson::Document& document = compiled->document;
  document.Parse(text.data(), text.size());
  if (document.HasParseError()) {
    return Error(ErrorCode::kJsonMalformed,
                 "schema " + std::string(name) + " is not JSON at byte " +
                     std::to_string(document.GetErrorOffset()) + ": " +
                     rapidjson::GetParseError_En(document.GetParseError()));
  }
  if (!document.IsObject()) {
    return Error(ErrorCode::kJsonMalformed, "schema " + std::string(name) + " is not an object");
  }
  if (!root.empty()) {
    const rapidjson::Pointer pointer(root.data(), root.size());
    const rapidjson::Value* sub = pointer.IsValid() ? pointer.Get(document) : nullptr;
    if (sub == nullptr || !sub->IsObject()) {
      return Error(ErrorCode::kNotFound,
                   "schema " + std::string(name) + " has no sub-schema at " + std::string(root));
    }
    // A root "$ref" makes RapidJSON validate against the referenced schema;
    // the root's own keywords are then ignored, as draft-04 specifies.
    rapidjson::StringBuffer fragment;
    pointer.StringifyUriFragment(fragment);
    document.RemoveMember("$ref");
    document.AddMember("$ref", rapidjson::Value(fragment.GetString(), document.GetAllocator()),
                       document.GetAllocator());
  }
  compiled->schema = std::make_unique<rapidjson::SchemaDocument>(document);
  return JsonSchema(std::move(compiled));
}

JsonSchema::EventCheck::EventCheck(const JsonSchema& schema)
    : lock_(schema.compiled_->mutex),
      schema_document_(schema.compiled_->document),
      validator_(*schema.compiled_->schema) {}

JsonSchema::EventCheck::~EventCheck() = default;

Status JsonSchema::EventCheck::Finish(const rapidjson::Value& value, std::string_view what) const {
  if (validator_.IsValid()) return Ok();
  return Violation(validator_, value, schema_document_).ToError(what);
}

std::unique_ptr<JsonSchema::EventCheck> JsonSchema::StartEventCheck() const {
  return std::unique_ptr<EventCheck>(new EventCheck(*this));
}

std::optional<SchemaViolation> JsonSchema::Check(const rapidjson::Value& value) const {
  std::lock_guard<std::mutex> lock(compiled_->mutex);
  rapidjson::SchemaValidator validator(*compiled_->schema);
  value.Accept(validator);
  if (validator.IsValid()) return std::nullopt;
  return Violation(validator, value, compiled_->document);
}

Status JsonSchema::Validate(const rapidjson::Value& value, std::string_view what) const {
  const std::optional<SchemaViolation> violation = Check(value);
  if (!violation) return Ok();
  return violation->ToError(what);
}

Error SchemaViolation::ToError(std::string_view what) const {
  Error error(ErrorCode::kSchemaViolation,
              std::string(what) + " violates the schema at " +
                  (pointer.empty() ? std::string("the top level") : pointer) + ": " + reason);
  error.With("pointer", pointer).With("keyword", keyword).With("schema_pointer", schema_pointer);
  if (!missing.empty()) error.With("missing", missing);
  return error;
}

}  // namespace vmc
