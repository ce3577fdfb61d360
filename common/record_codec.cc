#include "common/record_codec.h"

#include <openssl/evp.h>

#include <chrono>
#include <cstddef>
#include <utility>

namespace vmc {
namespace {

rapidjson::SizeType Size(std::string_view text) {
  return static_cast<rapidjson::SizeType>(text.size());
}

std::string Copy(const rapidjson::Value& string) {
  return {string.GetString(), string.GetStringLength()};
}

bool IsBase64Alphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// EVP_DecodeBlock skips blanks around the text and reads '=' anywhere, so
// the shape ToBase64 writes is checked first: every character of the
// alphabet, and only the last one or two padding.
bool IsPaddedBase64(std::string_view text) {
  if (text.size() % 4 != 0) return false;
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  for (std::size_t i = 0; i + padding < text.size(); ++i) {
    if (!IsBase64Alphabet(text[i])) return false;
  }
  return true;
}

}  // namespace

Error DamagedRecord(const RecordPlace& place) {
  return Error(ErrorCode::kStorage, "the " + place.store + " database entry " + place.db + "/" +
                                        place.key + " is damaged")
      .With("database", place.db)
      .With("key", place.key);
}

std::string ToBase64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> FromBase64(std::string_view text) {
  if (!IsPaddedBase64(text)) return std::nullopt;
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

// --- RecordWriter -----------------------------------------------------------

RecordWriter::RecordWriter() : writer_(buffer_) { writer_.StartObject(); }

void RecordWriter::Key(std::string_view name) { writer_.Key(name.data(), Size(name)); }

RecordWriter& RecordWriter::Str(std::string_view name, std::string_view value) {
  Key(name);
  writer_.String(value.data(), Size(value));
  return *this;
}

RecordWriter& RecordWriter::Int(std::string_view name, int value) {
  Key(name);
  writer_.Int(value);
  return *this;
}

RecordWriter& RecordWriter::Bool(std::string_view name, bool value) {
  Key(name);
  writer_.Bool(value);
  return *this;
}

RecordWriter& RecordWriter::Time(std::string_view name, TimePoint value) {
  Key(name);
  writer_.Int64(value.time_since_epoch().count());
  return *this;
}

RecordWriter& RecordWriter::StrArray(std::string_view name,
                                     const std::vector<std::string>& values) {
  Key(name);
  writer_.StartArray();
  for (const auto& v : values) writer_.String(v.data(), Size(v));
  writer_.EndArray();
  return *this;
}

RecordWriter& RecordWriter::Base64(std::string_view name, std::string_view value) {
  return Str(name, ToBase64(value));
}

RecordWriter& RecordWriter::Base64Array(std::string_view name,
                                        const std::vector<std::string>& values) {
  Key(name);
  writer_.StartArray();
  for (const auto& v : values) {
    const std::string text = ToBase64(v);
    writer_.String(text.data(), Size(text));
  }
  writer_.EndArray();
  return *this;
}

RecordWriter& RecordWriter::StrMap(std::string_view name,
                                   const std::map<std::string, std::string>& values) {
  Key(name);
  writer_.StartObject();
  for (const auto& [k, v] : values) {
    writer_.Key(k.data(), Size(k));
    writer_.String(v.data(), Size(v));
  }
  writer_.EndObject();
  return *this;
}

RecordWriter& RecordWriter::Object(std::string_view name,
                                   const std::function<void(RecordWriter&)>& fields) {
  Key(name);
  writer_.StartObject();
  fields(*this);
  writer_.EndObject();
  return *this;
}

std::string RecordWriter::Finish() {
  writer_.EndObject();
  return {buffer_.GetString(), buffer_.GetSize()};
}

// --- RecordReader -----------------------------------------------------------

RecordReader::RecordReader(RecordPlace place, std::string_view json)
    : own_place_(std::move(place)), place_(&*own_place_), damaged_(&own_damaged_) {
  document_.emplace();
  document_->Parse(json.data(), json.size());
  if (!document_->HasParseError() && document_->IsObject()) {
    object_ = &*document_;
  } else {
    Fail();
  }
}

RecordReader::RecordReader(RecordReader& parent, const rapidjson::Value& object)
    : object_(&object), place_(parent.place_), damaged_(parent.damaged_) {}

bool RecordReader::Has(std::string_view name) const {
  return object_ != nullptr &&
         object_->FindMember(rapidjson::StringRef(name.data(), Size(name))) != object_->MemberEnd();
}

const rapidjson::Value* RecordReader::Field(std::string_view name,
                                            bool (rapidjson::Value::*is)() const) {
  if (object_ != nullptr) {
    const auto it = object_->FindMember(rapidjson::StringRef(name.data(), Size(name)));
    if (it != object_->MemberEnd() && (it->value.*is)()) return &it->value;
  }
  Fail();
  return nullptr;
}

std::string RecordReader::Str(std::string_view name) {
  const rapidjson::Value* v = Field(name, &rapidjson::Value::IsString);
  return v != nullptr ? Copy(*v) : std::string();
}

int RecordReader::Int(std::string_view name) {
  const rapidjson::Value* v = Field(name, &rapidjson::Value::IsInt);
  return v != nullptr ? v->GetInt() : 0;
}

bool RecordReader::Bool(std::string_view name) {
  const rapidjson::Value* v = Field(name, &rapidjson::Value::IsBool);
  return v != nullptr && v->GetBool();
}

TimePoint RecordReader::Time(std::string_view name) {
  const rapidjson::Value* v = Field(name, &rapidjson::Value::IsInt64);
  return v != nullptr ? TimePoint{std::chrono::seconds{v->GetInt64()}} : TimePoint{};
}

std::vector<std::string> RecordReader::StrArray(std::string_view name) {
  const rapidjson::Value* v = Field(name, &rapidjson::Value::IsArray);
  if (v == nullptr) return {};
  std::vector<std::string> out;
  out.reserve(v->Size());
  for (const auto& item : v->GetArray()) {
    if (!item.IsString()) {
      Fail();
      return {};
    }
    out.push_back(Copy(item));
  }
  return out;
}

std::string RecordReader::Base64(std::string_view name) {
  std::optional<std::string> bytes = FromBase64(Str(name));
  if (!bytes) {
    Fail();
    return {};
  }
  return std::move(*bytes);
}

std::vector<std::string> RecordReader::Base64Array(std::string_view name) {
  std::vector<std::string> out = StrArray(name);
  for (std::string& item : out) {
    std::optional<std::string> bytes = FromBase64(item);
    if (!bytes) {
      Fail();
      return {};
    }
    item = std::move(*bytes);
  }
  return out;
}

std::map<std::string, std::string> RecordReader::StrMap(std::string_view name) {
  const rapidjson::Value* v = Field(name, &rapidjson::Value::IsObject);
  if (v == nullptr) return {};
  std::map<std::string, std::string> out;
  for (const auto& m : v->GetObject()) {
    if (!m.value.IsString()) {
      Fail();
      return {};
    }
    // The writer wrote them in order: each goes at the end.
    out.emplace_hint(out.end(), Copy(m.name), Copy(m.value));
  }
  return out;
}

void RecordReader::Object(std::string_view name, const std::function<void(RecordReader&)>& fields) {
  const rapidjson::Value* v = Field(name, &rapidjson::Value::IsObject);
  if (v == nullptr) return;
  RecordReader nested(*this, *v);
  fields(nested);
}

Status RecordReader::status() const {
  if (*damaged_) return DamagedRecord(*place_);
  return Ok();
}

}  // namespace vmc
