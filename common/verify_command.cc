#include "common/verify_command.h"

#include "common/atomic_file.h"
#include "common/http.h"
#include "common/log.h"
#include "common/output.h"
#include "common/verification.h"

namespace vmc {

void DefineVerifyOptions(po::options_description& o, po::positional_options_description& p) {
  o.add_options()                                                                 //
      ("file", po::value<std::string>()->required(), "the signed list")           //
      ("at-time", po::value<std::string>(), "verify as of YYYY-MM-DDTHH:MM:SSZ")  //
      ("endorser-dn", po::value<std::string>(), "require this signer subject")    //
      ("endorser-ca", po::value<std::string>(), "require this signer issuer");
  p.add("file", 1);
}

Status RunVerify(const Invocation& inv, const std::filesystem::path& ca_dir) {
  const std::string file = inv.Get<std::string>("file");
  VMC_ASSIGN_OR_RETURN(const std::string bytes, ReadFileCapped(file, kDefaultMaxListBytes));
  OfflineCheck check;
  check.ca_dir = ca_dir;
  check.at = SystemClock().Now();
  if (auto at = inv.Find<std::string>("at-time")) {
    VMC_ASSIGN_OR_RETURN(check.at, ParseDate(*at));
  }
  check.expected_dn = inv.Find<std::string>("endorser-dn");
  check.expected_ca = inv.Find<std::string>("endorser-ca");
  auto verified = VerifySignedListOffline(bytes, check);
  if (!verified.ok()) return std::move(verified).error().Prefix(file + ": ").With("file", file);
  for (const auto& w : verified->warnings) LogWarning(w);
  const ImageList& l = verified->list;
  const VerifiedMessage& m = verified->message;
  if (inv.json) {
    rapidjson::StringBuffer b;
    JsonWriter w(b);
    w.StartObject();
    Field(w, "identifier", l.identifier());
    Field(w, "version", l.version());
    Field(w, "signer", m.signer_dn);
    Field(w, "issuer", m.signer_ca_dn);
    Field(w, "digest", m.digest);
    Field(w, "created", FormatDate(*l.created()));
    Field(w, "expires", FormatDate(*l.expires()));
    Field(w, "images", l.image_count());
    Field(w, "verified_at", FormatDate(check.at));
    w.EndObject();
    *inv.out << b.GetString() << "\n";
    return Ok();
  }
  PrintTable(*inv.out, {{"list", l.identifier()},
                        {"version", l.version()},
                        {"signer", m.signer_dn},
                        {"issuer", m.signer_ca_dn},
                        {"created", FormatDate(*l.created())},
                        {"expires", FormatDate(*l.expires())},
                        {"images", std::to_string(l.image_count())},
                        {"result",
                         "OK: signature, chain with CRLs, endorser, schema and dates "
                         "verified at " +
                             FormatDate(check.at)}});
  return Ok();
}

}  // namespace vmc
