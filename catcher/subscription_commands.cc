// catcher subscribe | unsubscribe | subscriptions
#include <algorithm>

#include "catcher/commands.h"
#include "catcher/context.h"
#include "catcher/update.h"
#include "common/identifier.h"
#include "common/log.h"
#include "common/output.h"
#include "common/trust.h"

namespace vmc::catcher {
namespace {

Result<ImageSelection> SelectionFromOptions(const Invocation& inv) {
  ImageSelection selection;
  const std::string images = inv.Get<std::string>("images");
  if (images == "all") {
    selection.mode = SelectionMode::kAll;
  } else if (images == "none") {
    selection.mode = SelectionMode::kNone;
  } else {
    selection.mode = SelectionMode::kListed;
    size_t start = 0;
    while (start <= images.size()) {
      const size_t comma = images.find(',', start);
      const std::string id = images.substr(start, comma - start);
      VMC_RETURN_IF_ERROR(ValidateIdentifier(id));
      selection.listed.push_back(id);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  const std::string fresh = inv.Get<std::string>("new-images");
  if (fresh != "accept" && fresh != "refuse") {
    return Error(ErrorCode::kUsage, "--new-images takes accept or refuse, not " + fresh);
  }
  selection.new_images = fresh == "accept" ? NewImages::kAccept : NewImages::kRefuse;
  return selection;
}

// The endorser the new subscription trusts: --endorser NAME (from the
// policy), --endorser-dn/--endorser-ca, or (with --auto-endorse only) the
// list's signer.
Status ChooseEndorser(const Invocation& inv, const Context& ctx, ResolvedSubscription& sub,
                      bool* auto_endorse) {
  *auto_endorse = false;
  const auto name = inv.Find<std::string>("endorser");
  const auto dn = inv.Find<std::string>("endorser-dn");
  const auto ca = inv.Find<std::string>("endorser-ca");
  if (name) {
    const Endorser* e = ctx.policy.FindEndorser(*name);
    if (e == nullptr) {
      return Error(ErrorCode::kNotFound, "the policy has no endorser named " + *name)
          .With("endorser", *name);
    }
    sub.endorser_dn = e->dn;
    sub.endorser_ca = e->ca;
    sub.endorser_names = EndorserNames::Parse(e->dn, e->ca);
    return Ok();
  }
  if (dn && ca) {
    // A DN with two readings is refused here, before anything is stored.
    VMC_ASSIGN_OR_RETURN(sub.endorser_names, EndorserNames::Parse(*dn, *ca));
    sub.endorser_dn = *dn;
    sub.endorser_ca = *ca;
    return Ok();
  }
  if (dn || ca) return Error(ErrorCode::kUsage, "give both --endorser-dn and --endorser-ca");
  if (inv.Has("auto-endorse")) {
    *auto_endorse = true;
    return Ok();
  }
  return Error(ErrorCode::kUsage,
               "say whom to trust for this list: --endorser NAME (from the policy), "
               "--endorser-dn DN --endorser-ca DN, or --auto-endorse (trust the signer on first "
               "use)");
}

Status Subscribe(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(Context ctx, OpenContext(inv));
  ResolvedSubscription sub;
  sub.url = inv.Get<std::string>("url");
  sub.origin = Origin::kCommand;
  sub.credentials_file = inv.Find<std::string>("credentials-file").value_or("");
  VMC_RETURN_IF_ERROR(CheckListCredentials(sub.url, sub.credentials_file));
  VMC_ASSIGN_OR_RETURN(sub.selection, SelectionFromOptions(inv));
  for (const auto& existing : ctx.subscriptions) {
    if (existing.url == sub.url) {
      return Error(ErrorCode::kAlreadyExists,
                   "already subscribed to " + RedactUrl(sub.url) + " as " + existing.name)
          .With("subscription", existing.name);
    }
  }
  bool auto_endorse = false;
  VMC_RETURN_IF_ERROR(ChooseEndorser(inv, ctx, sub, &auto_endorse));
  const TimePoint now = SystemClock().Now();
  // Before the transfer, as every update does (catcher/update.cc).
  VMC_RETURN_IF_ERROR(CheckCaDir(ctx.settings.ca_dir));
  VMC_ASSIGN_OR_RETURN(HttpClient client, HttpClient::Create(HttpOptionsFor(ctx.settings)));
  VMC_ASSIGN_OR_RETURN(const FetchResult fetch,
                       FetchList(client, sub.url, sub.credentials_file, std::nullopt,
                                 ctx.policy.limits.max_list_bytes));
  if (auto_endorse) {
    // Trust on first use: the signer becomes the endorser, but only after its
    // signature and chain verify.
    VMC_ASSIGN_OR_RETURN(const VerifiedMessage first, VerifySmime(fetch.body));
    // The certificate's own names, kept as DER: never its printed text.
    VMC_ASSIGN_OR_RETURN(DistinguishedName subject,
                         DistinguishedName::Of(X509_get_subject_name(first.signer.get())));
    VMC_ASSIGN_OR_RETURN(DistinguishedName issuer,
                         DistinguishedName::Of(X509_get_issuer_name(first.signer.get())));
    sub.endorser_dn = first.signer_dn;
    sub.endorser_ca = first.signer_ca_dn;
    sub.endorser_names = EndorserNames{std::move(subject), std::move(issuer)};
    LogWarning("--auto-endorse: trusting the list's signer \"" + first.signer_dn + "\" (issuer \"" +
               first.signer_ca_dn + "\") on first use; check that this is the endorser you expect");
  }
  const UpdateParameters params = UpdateParametersFor(ctx, now);
  sub.name = "subscription";  // for messages until the list names it
  VMC_ASSIGN_OR_RETURN(const VerifiedCandidate candidate,
                       VerifyCandidate(fetch.body, sub, nullptr, params));
  for (const auto& w : candidate.warnings) LogWarning(w);
  sub.name = inv.Find<std::string>("name").value_or(candidate.list.identifier());
  VMC_RETURN_IF_ERROR(ValidateIdentifier(sub.name));
  if (ctx.policy.FindSubscription(sub.name) != nullptr) {
    return Error(ErrorCode::kAlreadyExists,
                 "the policy already has a subscription named " + sub.name + "; give --name")
        .With("subscription", sub.name);
  }
  SubscriptionRecord record{sub.name,
                            sub.url,
                            sub.endorser_dn,
                            sub.endorser_ca,
                            {sub.endorser_names->subject.der(), sub.endorser_names->issuer.der()},
                            candidate.list.identifier(),
                            sub.selection,
                            sub.credentials_file,
                            now};
  VMC_RETURN_IF_ERROR(
      ctx.state.AddSubscription(record, ToAcceptedList(candidate, fetch.body, fetch, now), now));
  if (inv.json) {
    rapidjson::StringBuffer b;
    JsonWriter w(b);
    w.StartObject();
    Field(w, "subscription", sub.name);
    Field(w, "list", candidate.list.identifier());
    Field(w, "version", candidate.list.version());
    Field(w, "images", candidate.list.image_count());
    Field(w, "endorser", sub.endorser_dn);
    w.EndObject();
    *inv.out << b.GetString() << "\n";
  } else {
    *inv.out << "subscribed " << sub.name << ": list " << candidate.list.identifier() << " version "
             << candidate.list.version() << ", " << candidate.list.image_count()
             << " images, endorser " << sub.endorser_dn << "\n";
  }
  return Ok();
}

Status Unsubscribe(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(Context ctx, OpenContext(inv));
  const std::string name = inv.Get<std::string>("subscription");
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  if (ctx.policy.FindSubscription(name) != nullptr) {
    return Error(ErrorCode::kUsage, "subscription " + name + " comes from the policy file " +
                                        ctx.policy.file + "; remove it there")
        .With("subscription", name);
  }
  VMC_ASSIGN_OR_RETURN(const auto record, ctx.state.FindSubscription(name));
  if (!record) {
    return Error(ErrorCode::kNotFound, "no subscription named " + name).With("subscription", name);
  }
  VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool removed, ctx.state.RemoveSubscription(name));
  if (!inv.json) *inv.out << "unsubscribed " << name << "\n";
  return Ok();
}

// The admin's recovery from a compromised key that signed a huge hv:version
// (DESIGN.md section 5, step 8): the next list is accepted whatever its
// version, once, and the reset stays in the list history with its reason.
Status ResetVersion(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(Context ctx, OpenContext(inv));
  const std::string name = inv.Get<std::string>("subscription");
  VMC_RETURN_IF_ERROR(ValidateIdentifier(name));
  const std::string reason = inv.Get<std::string>("reason");
  constexpr size_t kMaxReason = 1000;
  if (reason.find_first_not_of(" \t") == std::string::npos || reason.size() > kMaxReason) {
    return Error(ErrorCode::kUsage, "--reason must say why (1 to " + std::to_string(kMaxReason) +
                                        " characters): it is kept in the list history");
  }
  const auto sub = std::find_if(ctx.subscriptions.begin(), ctx.subscriptions.end(),
                                [&](const ResolvedSubscription& s) { return s.name == name; });
  if (sub == ctx.subscriptions.end()) {
    return Error(ErrorCode::kNotFound,
                 "no subscription named " + name + " (see 'catcher subscriptions')")
        .With("subscription", name);
  }
  const TimePoint now = SystemClock().Now();
  VMC_ASSIGN_OR_RETURN(const std::string version,
                       ctx.state.ResetVersion(name, reason, now, sub->origin == Origin::kCommand));
  LogWarning(
      "subscription " + name + ": version " + version +
      " reset by the admin; the next list is accepted whatever its hv:version. Reason: " + reason);
  if (inv.json) {
    rapidjson::StringBuffer b;
    JsonWriter w(b);
    w.StartObject();
    Field(w, "subscription", name);
    Field(w, "from_version", version);
    Field(w, "at", FormatDate(now));
    Field(w, "reason", reason);
    w.EndObject();
    *inv.out << b.GetString() << "\n";
  } else {
    *inv.out << "reset the version of " << name << " (was " << EscapeForLog(version)
             << "): its next list is accepted whatever its hv:version, once\n";
  }
  return Ok();
}

void WriteReset(JsonWriter& w, const char* key, const VersionReset& reset) {
  w.Key(key);
  w.StartObject();
  Field(w, "at", FormatDate(reset.at));
  Field(w, "reason", reset.reason);
  Field(w, "from_version", reset.from_version);
  w.EndObject();
}

// The list history, oldest first: earlier accepted versions and resets.
void WriteHistory(JsonWriter& w, const std::vector<HistoryEntry>& history) {
  w.Key("history");
  w.StartArray();
  for (const auto& h : history) {
    w.StartObject();
    Field(w, "event", h.reset ? "reset-version" : "accepted");
    Field(w, "version", h.version);
    Field(w, "created", FormatDate(h.created));
    Field(w, "last_verified", FormatDate(h.fetched_at));
    if (h.reset) {
      Field(w, "at", FormatDate(h.reset->at));
      Field(w, "reason", h.reset->reason);
    }
    w.EndObject();
  }
  w.EndArray();
}

std::string SelectionText(const ImageSelection& s) {
  std::string text = s.mode == SelectionMode::kAll    ? "all"
                     : s.mode == SelectionMode::kNone ? "none"
                                                      : std::to_string(s.listed.size()) + " listed";
  if (s.new_images == NewImages::kRefuse) text += ", new refused";
  return text;
}

Status Subscriptions(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(Context ctx, OpenContext(inv));
  rapidjson::StringBuffer b;
  JsonWriter w(b);
  w.StartArray();
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "ORIGIN", "VERSION", "LAST UPDATE", "RESULT", "URL"}};
  std::vector<std::string> reasons;
  for (const auto& sub : ctx.subscriptions) {
    VMC_ASSIGN_OR_RETURN(const auto list, ctx.state.CurrentList(sub.name));
    VMC_ASSIGN_OR_RETURN(const auto attempt, ctx.state.LastAttempt(sub.name));
    VMC_ASSIGN_OR_RETURN(const auto history, ctx.state.History(sub.name));
    w.StartObject();
    Field(w, "name", sub.name);
    Field(w, "origin", OriginName(sub.origin));
    Field(w, "url", RedactUrl(sub.url));
    Field(w, "endorser_dn", sub.endorser_dn);
    Field(w, "endorser_ca", sub.endorser_ca);
    Field(w, "images", SelectionText(sub.selection));
    Field(w, "list", list ? list->list_identifier : sub.list_identifier);
    Field(w, "version", list ? list->version : "");
    Field(w, "expires", list ? FormatDate(list->expires) : "");
    Field(w, "last_update", attempt ? FormatDate(attempt->at) : "");
    Field(w, "result", attempt ? attempt->result : "never updated");
    Field(w, "message", attempt ? attempt->message : "");
    Field(w, "last_verified", list ? FormatDate(list->fetched_at) : "");
    if (list && list->version_reset) {
      WriteReset(w, "version_reset", *list->version_reset);
    } else {
      w.Key("version_reset");
      w.Null();
    }
    WriteHistory(w, history);
    w.EndObject();
    rows.push_back({sub.name, std::string(OriginName(sub.origin)), list ? list->version : "-",
                    attempt ? FormatDate(attempt->at) : "-",
                    attempt ? attempt->result : "never updated", RedactUrl(sub.url)});
    if (attempt && !attempt->message.empty()) reasons.push_back(sub.name + ": " + attempt->message);
  }
  w.EndArray();
  if (inv.json) {
    *inv.out << b.GetString() << "\n";
  } else {
    PrintTable(*inv.out, rows);
    for (const auto& reason : reasons) *inv.out << "\n" << EscapeForLog(reason) << "\n";
  }
  return Ok();
}

}  // namespace

void AddSubscriptionCommands(CommandLine& cli) {
  cli.Add({{"subscribe"},
           "subscribe to an image list: fetch and verify it fully, then record it",
           "URL",
           "The endorser comes from --endorser NAME (a policy endorser), from "
           "--endorser-dn/--endorser-ca, or, only with --auto-endorse, from the list's signer.",
           [](po::options_description& o, po::positional_options_description& p) {
             o.add_options()                                                      //
                 ("url", po::value<std::string>()->required(), "the list's URL")  //
                 ("name", po::value<std::string>(),
                  "the subscription's name (default: the list's identifier)")                //
                 ("endorser", po::value<std::string>(), "a trusted endorser of the policy")  //
                 ("endorser-dn", po::value<std::string>(), "the endorser's subject DN")      //
                 ("endorser-ca", po::value<std::string>(), "the endorser's issuer DN")       //
                 ("auto-endorse", "trust the list's signer on first use (with a warning)")   //
                 ("images", po::value<std::string>()->default_value("all"),
                  "all, none, or identifiers separated by commas")  //
                 ("new-images", po::value<std::string>()->default_value("accept"),
                  "accept or refuse images added to the list later")  //
                 ("credentials-file", po::value<std::string>(),
                  "basic auth or token file for the list's server");
             p.add("url", 1);
           },
           Subscribe});
  cli.Add({{"unsubscribe"},
           "remove a subscription made with 'catcher subscribe'",
           "SUB",
           "",
           [](po::options_description& o, po::positional_options_description& p) {
             o.add_options()("subscription", po::value<std::string>()->required(), "its name");
             p.add("subscription", 1);
           },
           Unsubscribe});
  cli.Add({{"subscription", "reset-version"},
           "after a key compromise: accept the next list whatever its hv:version, once",
           "SUB --reason TEXT",
           "Lifts the rollback floor (step 8) that a list signed with a stolen key and a huge "
           "hv:version set. The reset, its time and reason are kept in the list history "
           "('catcher subscriptions --json').",
           [](po::options_description& o, po::positional_options_description& p) {
             o.add_options()                                                         //
                 ("subscription", po::value<std::string>()->required(), "its name")  //
                 ("reason", po::value<std::string>()->required(), "why, for the history");
             p.add("subscription", 1);
           },
           ResetVersion});
  cli.Add({{"subscriptions"},
           "list subscriptions (policy and subscribed), with their last update",
           "",
           "",
           nullptr,
           Subscriptions});
}

}  // namespace vmc::catcher
