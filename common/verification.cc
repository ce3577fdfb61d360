#include "common/verification.h"

#include "common/dn.h"
#include "common/trust.h"

namespace vmc {
namespace {

// "image list <id>" for messages; the identifier is schema-checked by now.
std::string Describe(const ImageList& list) { return "image list " + list.identifier(); }

// Step 4 compares the certificate's own name with the DN text of the list,
// the policy or the command line, parsed strictly (common/dn.h): never text
// printed from the certificate. A DN with two readings is refused here.
Status RequireSameName(const X509_NAME* signer_side, std::string_view expected,
                       std::string_view what, ErrorCode code, const std::string& context) {
  auto parsed = ParseDn(expected);
  if (!parsed.ok()) return std::move(parsed).error().Prefix(context + ": ");
  if (SameDn(signer_side, parsed->get())) return Ok();
  const std::string signer = DnToString(signer_side);
  return Error(code, context + ": the signer's " + std::string(what) + " \"" + signer +
                         "\" is not \"" + std::string(expected) + "\"")
      .With("signer", signer)
      .With("expected", std::string(expected));
}

X509_NAME* SubjectOf(const VerifiedMessage& message) {
  return X509_get_subject_name(message.signer.get());
}

X509_NAME* IssuerOf(const VerifiedMessage& message) {
  return X509_get_issuer_name(message.signer.get());
}

}  // namespace

Status CheckDeclaredEndorser(const ImageList& list, const VerifiedMessage& message) {
  const auto endorser = list.endorser();
  const std::string context = Describe(list);
  if (!endorser || endorser->dn.empty() || endorser->ca.empty()) {
    return Error(ErrorCode::kEndorserMismatch,
                 context + " names no endorser (hv:endorser/hv:x509 hv:dn and hv:ca)")
        .With("pointer", "/hv:imagelist/hv:endorser");
  }
  VMC_RETURN_IF_ERROR(RequireSameName(SubjectOf(message), endorser->dn, "subject (hv:dn)",
                                      ErrorCode::kEndorserMismatch, context));
  return RequireSameName(IssuerOf(message), endorser->ca, "issuer (hv:ca)",
                         ErrorCode::kEndorserMismatch, context);
}

Result<ImageList> ParseVerifiedContent(const VerifiedMessage& message,
                                       std::vector<std::string>* warnings) {
  // Step 2's warnings (a SHA-1 signature) reach the same reader as step 5's.
  if (warnings != nullptr) {
    warnings->insert(warnings->end(), message.warnings.begin(), message.warnings.end());
  }
  return ImageList::Parse(message.content, warnings);
}

Status CheckFreshness(const ImageList& list, TimePoint now, std::chrono::seconds skew,
                      std::optional<std::chrono::seconds> max_age) {
  return CheckFreshness(list.identifier(), list.created(), list.expires(), now, skew, max_age);
}

Status CheckFreshness(std::string_view identifier, std::optional<TimePoint> created,
                      std::optional<TimePoint> expires, TimePoint now, std::chrono::seconds skew,
                      std::optional<std::chrono::seconds> max_age) {
  const std::string context = "image list " + std::string(identifier);
  if (!created || !expires) {
    return Error(ErrorCode::kSchemaViolation, context + " lacks dc:date:created or dc:date:expires")
        .With("pointer", "/hv:imagelist");
  }
  if (*created > now + skew) {
    return Error(ErrorCode::kListFutureDated,
                 context + " is dated in the future (created " + FormatDate(*created) + ", now " +
                     FormatDate(now) + "). It will not be used until then.")
        .With("created", FormatDate(*created))
        .With("now", FormatDate(now));
  }
  if (*expires <= now) {
    return Error(ErrorCode::kListExpired, context + " is expired (invalid since " +
                                              FormatDate(*expires) +
                                              "). Its images will not be updated.")
        .With("expires", FormatDate(*expires))
        .With("now", FormatDate(now));
  }
  if (max_age && *created + *max_age < now) {
    const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - *created);
    return Error(ErrorCode::kListTooOld,
                 context + " is too old: created " + FormatDate(*created) + ", " +
                     std::to_string(age.count()) + " s before now (" + FormatDate(now) +
                     "), more than max-list-age (" + std::to_string(max_age->count()) +
                     " s) allows. A replayed or frozen list? Its images will not be updated.")
        .With("created", FormatDate(*created))
        .With("now", FormatDate(now))
        .With("max_list_age", std::to_string(max_age->count()));
  }
  return Ok();
}

Result<VerifiedList> VerifySignedListOffline(std::string_view signed_bytes,
                                             const OfflineCheck& check) {
  // Step 2: one signer, signature and digest.
  VMC_ASSIGN_OR_RETURN(VerifiedMessage message, VerifySmime(signed_bytes));
  // Step 3: the chain to the CA directory, with CRLs, at the fixed time.
  VMC_RETURN_IF_ERROR(
      VerifySignerChain(check.ca_dir, message.signer.get(), message.other_certificates, check.at));
  // Step 4, the expected endorser given on the command line.
  if (check.expected_dn) {
    VMC_RETURN_IF_ERROR(RequireSameName(SubjectOf(message), *check.expected_dn, "subject",
                                        ErrorCode::kUntrustedEndorser, "signed list"));
  }
  if (check.expected_ca) {
    VMC_RETURN_IF_ERROR(RequireSameName(IssuerOf(message), *check.expected_ca, "issuer",
                                        ErrorCode::kUntrustedEndorser, "signed list"));
  }
  // Step 5: JSON from the verified bytes only, then the schema.
  std::vector<std::string> warnings;
  VMC_ASSIGN_OR_RETURN(ImageList list, ParseVerifiedContent(message, &warnings));
  // Step 4, the list's own endorser.
  VMC_RETURN_IF_ERROR(CheckDeclaredEndorser(list, message));
  // Step 7: dates at the same instant.
  VMC_RETURN_IF_ERROR(CheckFreshness(list, check.at, check.created_skew));
  return VerifiedList{std::move(message), std::move(list), std::move(warnings)};
}

}  // namespace vmc
