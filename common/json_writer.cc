#include "common/json_writer.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <string_view>
#include <vector>

namespace vmc {
namespace {

using SortedWriter =
    rapidjson::PrettyWriter<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::ASCII<>>;

std::string_view NameOf(const rapidjson::Value::Member& member) {
  return {member.name.GetString(), member.name.GetStringLength()};
}

void WriteSorted(const rapidjson::Value& value, SortedWriter* writer) {
  if (value.IsObject()) {
    std::vector<const rapidjson::Value::Member*> members;
    members.reserve(value.MemberCount());
    for (const auto& member : value.GetObject()) members.push_back(&member);
    std::sort(members.begin(), members.end(),
              [](const auto* a, const auto* b) { return NameOf(*a) < NameOf(*b); });
    writer->StartObject();
    for (const auto* member : members) {
      writer->Key(member->name.GetString(), member->name.GetStringLength());
      WriteSorted(member->value, writer);
    }
    writer->EndObject();
  } else if (value.IsArray()) {
    writer->StartArray();
    for (const auto& element : value.GetArray()) WriteSorted(element, writer);
    writer->EndArray();
  } else {
    value.Accept(*writer);
  }
}

}  // namespace

std::string WriteDeterministicJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  SortedWriter writer(buffer);
  writer.SetIndent(' ', 4);
  WriteSorted(value, &writer);
  std::string out(buffer.GetString(), buffer.GetSize());
  out += '\n';
  return out;
}

}  // namespace vmc
