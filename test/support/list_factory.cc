#include "test/support/list_factory.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstdlib>

#include "common/digest.h"
#include "common/identifier.h"
#include "common/imagelist.h"
#include "common/smime.h"

namespace vmc::test {
namespace {

// `text` as a JSON string literal, quotes included.
std::string JsonString(std::string_view text) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return b.GetString();
}

// Replaces every occurrence of the quoted placeholder with the quoted raw text.
void Substitute(std::string& json, const std::string& placeholder, const std::string& raw) {
  const std::string from = JsonString(placeholder);
  const std::string to = JsonString(raw);
  for (size_t at = json.find(from); at != std::string::npos; at = json.find(from, at + to.size())) {
    json.replace(at, from.size(), to);
  }
}

// The identifier the model holds: the real one when the rule allows it,
// otherwise a placeholder that Substitute() later replaces.
std::string ModelIdentifier(const std::string& wanted, const std::string& placeholder,
                            std::vector<std::pair<std::string, std::string>>* raw) {
  if (ValidateIdentifier(wanted).ok()) return wanted;
  raw->emplace_back(placeholder, wanted);
  return placeholder;
}

Status SetListKeys(ImageList& list, const std::map<std::string, std::string>& text,
                   const std::map<std::string, std::string>& json) {
  for (const auto& [key, value] : text) VMC_RETURN_IF_ERROR(list.Set(key, value));
  for (const auto& [key, value] : json) VMC_RETURN_IF_ERROR(list.SetJson(key, value));
  return Ok();
}

Status SetImageKeys(ImageList& list, const std::string& image,
                    const std::map<std::string, std::string>& text,
                    const std::map<std::string, std::string>& json) {
  for (const auto& [key, value] : text) VMC_RETURN_IF_ERROR(list.SetImage(image, key, value));
  for (const auto& [key, value] : json) VMC_RETURN_IF_ERROR(list.SetImageJson(image, key, value));
  return Ok();
}

}  // namespace

std::string NewTestUuid() {
  auto uuid = NewUuid();
  if (!uuid.ok()) std::abort();  // no randomness: no test is meaningful
  return *uuid;
}

Result<std::string> BuildListJson(const ListSpec& spec, const PkiIdentity& signer) {
  std::vector<std::pair<std::string, std::string>> raw;
  const std::string list_id = spec.identifier.empty() ? NewTestUuid() : spec.identifier;
  NewListFields fields;
  fields.identifier = ModelIdentifier(list_id, "vmc-test-placeholder-list", &raw);
  fields.title = spec.title;
  fields.description = spec.description;
  fields.source = "https://lists.example/";
  fields.uri = "https://lists.example/" + fields.identifier + ".list";
  VMC_ASSIGN_OR_RETURN(ImageList list, ImageList::Create(fields));

  const TimePoint now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  list.SetCreated(spec.created.value_or(now - std::chrono::hours(1)));
  list.SetExpires(spec.expires.value_or(now + std::chrono::hours(24 * 30)));
  VMC_RETURN_IF_ERROR(list.SetVersion(spec.version));

  const PkiIdentity& declared = spec.endorser.value_or(signer);
  VMC_ASSIGN_OR_RETURN(const SigningIdentity identity,
                       LoadSigningIdentity(declared.cert, declared.key, std::nullopt));
  Endorser endorser;
  endorser.dn = spec.endorser_dn.value_or(identity.subject_dn);
  endorser.ca = spec.endorser_ca.value_or(identity.issuer_dn);
  endorser.email = identity.email;
  endorser.creator = "list_factory";
  VMC_RETURN_IF_ERROR(list.SetEndorser(endorser));

  for (size_t i = 0; i < spec.images.size(); ++i) {
    const ImageSpec& s = spec.images[i];
    NewImageFields image;
    image.identifier =
        ModelIdentifier(s.identifier, "vmc-test-placeholder-image-" + std::to_string(i), &raw);
    image.uri = s.uri.empty() ? "https://images.example/" + image.identifier + ".img" : s.uri;
    image.size = s.size;
    if (s.sha512.empty()) {
      VMC_ASSIGN_OR_RETURN(image.sha512, Sha512Hex(s.identifier));
    } else {
      image.sha512 = s.sha512;
    }
    image.title = s.title.empty() ? "Image " + image.identifier : s.title;
    VMC_RETURN_IF_ERROR(list.AddImage(image));
    if (s.size_as_string) {
      VMC_RETURN_IF_ERROR(
          list.SetImageJson(image.identifier, "hv:size", JsonString(std::to_string(s.size))));
    }
    if (s.expires) {
      VMC_RETURN_IF_ERROR(
          list.SetImage(image.identifier, "dc:date:expires", FormatDate(*s.expires)));
    }
    VMC_RETURN_IF_ERROR(SetImageKeys(list, image.identifier, s.text, s.json));
  }
  VMC_RETURN_IF_ERROR(SetListKeys(list, spec.text, spec.json));

  std::string json = list.Write();
  for (const auto& [placeholder, wanted] : raw) Substitute(json, placeholder, wanted);
  return json;
}

Result<std::string> SignContent(std::string_view content, const PkiIdentity& signer) {
  VMC_ASSIGN_OR_RETURN(const SigningIdentity identity,
                       LoadSigningIdentity(signer.cert, signer.key, std::nullopt));
  return SignSmime(content, identity);
}

Result<std::string> BuildSignedList(const ListSpec& spec, const PkiIdentity& signer) {
  VMC_ASSIGN_OR_RETURN(const std::string json, BuildListJson(spec, signer));
  return SignContent(json, signer);
}

}  // namespace vmc::test
