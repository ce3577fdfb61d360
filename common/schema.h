// JSON Schema validation with the schemas compiled into the binary
// (schemas/*.schema.json, draft-04 as RapidJSON 1.1.0 implements it).
//
// A JsonSchema is compiled once and validates any number of documents. It
// reports the FIRST violation, as kSchemaViolation with the JSON pointer of
// the offending value and the schema keyword it broke:
//   image list violates the schema at /hv:imagelist/hv:images/0/hv:image/hv:size:
//   "abc" does not match pattern (...)
// with details "pointer" (into the validated value), "keyword" and
// "schema_pointer" (into the schema document). The quoted value is a short,
// escaped excerpt, safe to print whatever the document holds.
//
// Input: validated values are untrusted (they come from the network).
// Thread-safety: Validate() may be called from several threads at once; the
// calls are serialized, because RapidJSON 1.1.0 keeps regex match state
// inside the compiled schema.
#ifndef VMC_COMMON_SCHEMA_H_
#define VMC_COMMON_SCHEMA_H_

#include <rapidjson/document.h>
#include <rapidjson/schema.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace vmc {

// The first violation of a schema, as facts. Validate() says it as an
// Error; a caller with its own way of saying where (the policy's line and
// column) takes the facts, never the sentence apart.
struct SchemaViolation {
  std::string pointer;         // into the validated value ("" for its root)
  std::string keyword;         // the schema keyword broken ("pattern", "required", ...)
  std::string schema_pointer;  // into the schema document
  std::string missing;         // for "required": the first key missing, else ""
  // What is wrong with the value, without where: "\"abc\" does not match
  // pattern (a count)", "required key \"name\" is missing".
  std::string reason;

  // kSchemaViolation: "<what> violates the schema at <pointer>: <reason>",
  // with details "pointer", "keyword", "schema_pointer" and, when set,
  // "missing".
  Error ToError(std::string_view what) const;
};

class JsonSchema {
 public:
  // Compiles the embedded schema `name` ("imagelist.schema.json").
  // `root`, when not empty, is a JSON pointer into the schema document naming
  // the sub-schema to validate against ("/definitions/imagelist"), so that one
  // file can describe a document and its parts.
  // Returns kNotFound for an unknown name or root, kJsonMalformed when the
  // schema text is not JSON.
  static Result<JsonSchema> FromEmbedded(std::string_view name, std::string_view root = "");

  // As FromEmbedded(), from schema text; `name` only labels errors.
  static Result<JsonSchema> FromText(std::string_view text, std::string_view name,
                                     std::string_view root = "");

  JsonSchema(JsonSchema&&) noexcept;
  JsonSchema& operator=(JsonSchema&&) noexcept;
  ~JsonSchema();

  // Returns Ok() when `value` satisfies the schema, otherwise kSchemaViolation
  // for the first violation found. `what` names the document in the message
  // ("image list", "policy file /etc/catcher/policy.json").
  // REQUIRES: `value` nests at most a few hundred levels deep (RapidJSON
  // walks it recursively); readers bound the depth when they parse.
  Status Validate(const rapidjson::Value& value, std::string_view what) const;

  // As Validate(): empty when `value` satisfies the schema.
  std::optional<SchemaViolation> Check(const rapidjson::Value& value) const;

  // Validation fed by a reader's SAX events instead of a parsed value, so
  // that it can run on a second core while the same text is being parsed
  // into the value. Holds the schema (its lock) while it lives.
  class EventCheck {
   public:
    ~EventCheck();
    EventCheck(const EventCheck&) = delete;
    EventCheck& operator=(const EventCheck&) = delete;

    // The handler to give the reader; it returns false, stopping the
    // reader, at the first violation.
    rapidjson::SchemaValidator& handler() { return validator_; }

    // After the events of a whole document: what Validate(value, what)
    // returns for the same document parsed into `value`.
    Status Finish(const rapidjson::Value& value, std::string_view what) const;

   private:
    friend class JsonSchema;
    explicit EventCheck(const JsonSchema& schema);

    std::unique_lock<std::mutex> lock_;  // before validator_: taken first
    const rapidjson::Document& schema_document_;
    rapidjson::SchemaValidator validator_;
  };

  // REQUIRES: this schema outlives the check.
  std::unique_ptr<EventCheck> StartEventCheck() const;

 private:
  struct Compiled;
  explicit JsonSchema(std::unique_ptr<Compiled> compiled);

  std::unique_ptr<Compiled> compiled_;
};

}  // namespace vmc

#endif  // VMC_COMMON_SCHEMA_H_
