// The records caster and catcher keep in their LMDB databases (store.h): one
// JSON object per value, written by RecordWriter and read back by
// RecordReader.
//
// A record is read only by the tool that wrote it, so anything a reader does
// not expect (not a JSON object, a field missing or of another type, bytes
// that are not base64) is damage, never a value to guess at: the reader
// reports kStorage naming the tool's database, the named database and the
// key, and the caller returns that instead of acting on the record.
//
// The encoding is fixed by the databases already on sites and must not
// change without a migration: fields in the order written, integers and
// booleans as JSON numbers and literals, a TimePoint as whole seconds since
// the epoch (a JSON integer), bytes (DER) as base64 (RFC 4648, padded, no line
// breaks), strings exactly as RapidJSON's Writer escapes them.
//
// Thread-safety: a RecordWriter or RecordReader belongs to one thread; the
// free functions are reentrant.
#ifndef VMC_COMMON_RECORD_CODEC_H_
#define VMC_COMMON_RECORD_CODEC_H_

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace vmc {

// Where a record is kept, for the error that reports it damaged.
struct RecordPlace {
  std::string store;  // whose database: "catcher", "caster"
  std::string db;     // the named database (StoreOptions::databases)
  std::string key;
};

// kStorage: "the <store> database entry <db>/<key> is damaged", with the
// database and key as details.
Error DamagedRecord(const RecordPlace& place);

// `bytes` as base64, without line breaks.
std::string ToBase64(std::string_view bytes);
// The bytes `text` encodes; nullopt unless it is padded base64 without
// blanks or line breaks.
std::optional<std::string> FromBase64(std::string_view text);

// Builds one record, field by field, in the order of the calls.
class RecordWriter {
 public:
  RecordWriter();
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  RecordWriter& Str(std::string_view name, std::string_view value);
  RecordWriter& Int(std::string_view name, int value);
  RecordWriter& Bool(std::string_view name, bool value);
  RecordWriter& Time(std::string_view name, TimePoint value);
  RecordWriter& StrArray(std::string_view name, const std::vector<std::string>& values);
  // The value as base64 (for DER, which JSON strings cannot carry).
  RecordWriter& Base64(std::string_view name, std::string_view value);
  // Each value as base64.
  RecordWriter& Base64Array(std::string_view name, const std::vector<std::string>& values);
  // A JSON object of strings, in the map's order.
  RecordWriter& StrMap(std::string_view name, const std::map<std::string, std::string>& values);
  // A nested object whose fields `fields` writes.
  RecordWriter& Object(std::string_view name, const std::function<void(RecordWriter&)>& fields);

  // The record's bytes.
  // REQUIRES: called once, after the last field.
  std::string Finish();

 private:
  void Key(std::string_view name);

  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

// Reads one record. Each getter returns the field's value; a field that is
// missing or of another type marks the record damaged and reads as an empty
// value, so that a decoder reads every field and checks status() once.
class RecordReader {
 public:
  // Parses `json`; a value that is not a JSON object is damaged.
  RecordReader(RecordPlace place, std::string_view json);
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // Whether the record has field `name` (for fields that records stored
  // before they existed lack).
  bool Has(std::string_view name) const;

  std::string Str(std::string_view name);
  int Int(std::string_view name);
  bool Bool(std::string_view name);
  TimePoint Time(std::string_view name);
  std::vector<std::string> StrArray(std::string_view name);
  // A field written by RecordWriter::Base64 or Base64Array; a value that is
  // not base64 is damage.
  std::string Base64(std::string_view name);
  std::vector<std::string> Base64Array(std::string_view name);
  std::map<std::string, std::string> StrMap(std::string_view name);
  // Reads nested object `name` with `fields` (whose damage is this record's).
  void Object(std::string_view name, const std::function<void(RecordReader&)>& fields);

  // Marks the record damaged: for a decoder's own checks of a value.
  void Fail() { *damaged_ = true; }

  // Ok, or DamagedRecord() when anything read so far was damaged.
  Status status() const;

 private:
  // A nested object of `parent`'s record.
  RecordReader(RecordReader& parent, const rapidjson::Value& object);

  // The field, or nullptr (marking the record damaged) when it is missing or
  // `is` rejects it.
  const rapidjson::Value* Field(std::string_view name, bool (rapidjson::Value::*is)() const);

  std::optional<rapidjson::Document> document_;  // only the outermost reader's
  const rapidjson::Value* object_ = nullptr;     // nullptr when not an object
  std::optional<RecordPlace> own_place_;
  const RecordPlace* place_;
  bool own_damaged_ = false;
  bool* damaged_;
};

}  // namespace vmc

#endif  // VMC_COMMON_RECORD_CODEC_H_
