#include "catcher/update.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <deque>
#include <string_view>
#include <unordered_set>

#include "catcher/events.h"
#include "catcher/rollback.h"
#include "common/credentials.h"
#include "common/digest.h"
#include "common/dn.h"
#include "common/log.h"
#include "common/output.h"
#include "common/trust.h"
#include "common/verification.h"
#include "common/worker_pool.h"

namespace vmc::catcher {
namespace {

std::string Describe(const ResolvedSubscription& sub) {
  return "subscription " + sub.name + " (" + RedactUrl(sub.url) + ")";
}

// Step 4, the policy's half: the signer is the endorser trusted for this
// subscription, its certificate's own names compared with the endorser's as
// X.509 names (common/dn.h), never as printed text.
Status CheckSubscriptionEndorser(const X509_NAME* subject, const X509_NAME* issuer,
                                 const ResolvedSubscription& sub) {
  if (!sub.endorser_names.ok()) return sub.endorser_names.error();
  if (sub.endorser_names->Matches(subject, issuer)) return Ok();
  const std::string signer_dn = DnToString(subject);
  const std::string signer_ca_dn = DnToString(issuer);
  return Error(ErrorCode::kUntrustedEndorser,
               Describe(sub) + ": the list is signed by \"" + signer_dn + "\" (issuer \"" +
                   signer_ca_dn + "\"), not by the endorser trusted for it, \"" + sub.endorser_dn +
                   "\" (issuer \"" + sub.endorser_ca + "\")")
      .With("subscription", sub.name)
      .With("signer", signer_dn)
      .With("signer_ca", signer_ca_dn)
      .With("endorser", sub.endorser_dn);
}

// Step 7's cap: the subscription's own max_list_age, else the config's.
std::optional<std::chrono::seconds> MaxListAge(const ResolvedSubscription& sub,
                                               const UpdateParameters& params) {
  return sub.max_list_age ? sub.max_list_age : params.max_list_age;
}

// The signer's certificate kept with an accepted list (its first), for a
// 304's step 4. kStorage when missing or damaged: the list is then verified
// in full.
Result<X509Ptr> StoredSigner(const AcceptedList& current) {
  if (current.certificates.empty()) {
    return Error(ErrorCode::kStorage, "no signer certificate kept with the list");
  }
  const std::string& der = current.certificates.front();
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert == nullptr || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    ERR_clear_error();
    return Error(ErrorCode::kStorage, "the signer certificate kept with the list is damaged");
  }
  return cert;
}

// Step 6.
Status CheckIdentifier(const std::string& identifier, const ResolvedSubscription& sub,
                       const AcceptedList* current) {
  std::string expected = sub.list_identifier;
  if (expected.empty() && current) expected = current->list_identifier;
  if (expected.empty() || identifier == expected) return Ok();
  return Error(ErrorCode::kIdentifierMismatch,
               Describe(sub) + " served image list " + identifier + " instead of " + expected +
                   ". The list was not applied (a substituted list).")
      .With("subscription", sub.name)
      .With("identifier", identifier)
      .With("expected", expected);
}

}  // namespace

UpdateParameters UpdateParametersFor(const Context& ctx, TimePoint now) {
  UpdateParameters params;
  params.ca_dir = ctx.settings.ca_dir;
  params.key_minimums = ctx.settings.key_minimums;
  params.now = now;
  params.created_skew = ctx.settings.created_skew;
  params.max_list_age = ctx.settings.max_list_age;
  params.max_list_bytes = ctx.policy.limits.max_list_bytes;
  params.history_limit = ctx.settings.history_limit;
  return params;
}

Result<VerifiedCandidate> VerifyCandidate(std::string_view signed_bytes,
                                          const ResolvedSubscription& sub,
                                          const AcceptedList* current,
                                          const UpdateParameters& params) {
  // Step 2.
  std::optional<SmimeSplit> split;
  VMC_ASSIGN_OR_RETURN(VerifiedMessage message, VerifySmime(signed_bytes, &split));
  VMC_ASSIGN_OR_RETURN(CheckedContent content, CheckVerifiedMessage(message, sub, current, params));
  return VerifiedCandidate{std::move(message), std::move(content.list),
                           std::move(content.content_sha512), std::move(content.warnings),
                           std::move(split)};
}

Result<CheckedContent> CheckVerifiedMessage(const VerifiedMessage& message,
                                            const ResolvedSubscription& sub,
                                            const AcceptedList* current,
                                            const UpdateParameters& params) {
  // Step 3.
  if (params.trust) {
    VMC_RETURN_IF_ERROR(VerifySignerChain(*params.trust, message.signer.get(),
                                          message.other_certificates, params.now));
  } else {
    VMC_ASSIGN_OR_RETURN(const TrustStore trust,
                         TrustStore::Open(params.ca_dir, params.key_minimums));
    VMC_RETURN_IF_ERROR(
        VerifySignerChain(trust, message.signer.get(), message.other_certificates, params.now));
  }
  // Step 4.
  VMC_RETURN_IF_ERROR(CheckSubscriptionEndorser(X509_get_subject_name(message.signer.get()),
                                                X509_get_issuer_name(message.signer.get()), sub));
  // Step 5.
  std::vector<std::string> warnings;
  VMC_ASSIGN_OR_RETURN(ImageList list, ParseVerifiedContent(message, &warnings));
  // Step 4, the list's own declaration (readable only now).
  VMC_RETURN_IF_ERROR(CheckDeclaredEndorser(list, message));
  // Step 6.
  VMC_RETURN_IF_ERROR(CheckIdentifier(list.identifier(), sub, current));
  // Step 7.
  VMC_RETURN_IF_ERROR(
      CheckFreshness(list, params.now, params.created_skew, MaxListAge(sub, params)));
  // Step 8.
  VMC_ASSIGN_OR_RETURN(std::string content_sha512, Sha512Hex(message.content));
  std::optional<ListFingerprint> previous;
  if (current) {
    previous = ListFingerprint{current->version, current->content_sha512,
                               current->version_reset.has_value()};
  }
  if (Status s = CheckRollback(previous, {list.version(), content_sha512},
                               "image list " + list.identifier() + " of " + Describe(sub));
      !s.ok()) {
    return std::move(s).error().With("subscription", sub.name);
  }
  return CheckedContent{std::move(list), std::move(content_sha512), std::move(warnings)};
}

Status VerifyUnchanged(const AcceptedList& current, const ResolvedSubscription& sub,
                       const UpdateParameters& params) {
  // Step 3.
  if (params.trust) {
    VMC_RETURN_IF_ERROR(VerifyStoredChain(*params.trust, current.certificates, params.now));
  } else {
    VMC_ASSIGN_OR_RETURN(const TrustStore trust,
                         TrustStore::Open(params.ca_dir, params.key_minimums));
    VMC_RETURN_IF_ERROR(VerifyStoredChain(trust, current.certificates, params.now));
  }
  // Step 4: the policy may trust another endorser by now. (The list's own
  // declaration matched the signer when it was accepted; neither changed.)
  VMC_ASSIGN_OR_RETURN(const X509Ptr signer, StoredSigner(current));
  VMC_RETURN_IF_ERROR(CheckSubscriptionEndorser(X509_get_subject_name(signer.get()),
                                                X509_get_issuer_name(signer.get()), sub));
  // Step 6: the policy may name another list by now.
  VMC_RETURN_IF_ERROR(CheckIdentifier(current.list_identifier, sub, &current));
  // Step 7.
  return CheckFreshness(current.list_identifier, current.created, current.expires, params.now,
                        params.created_skew, MaxListAge(sub, params));
}

StoredListJudgement JudgeStoredList(const ResolvedSubscription& sub, const AcceptedList& stored,
                                    const UpdateParameters& params) {
  StoredListJudgement out;
  out.judged.content_sha512 = stored.content_sha512;
  auto message =
      VerifySmimeKept(stored.signed_bytes, stored.split ? &*stored.split : nullptr, &out.split);
  if (!message.ok()) {
    out.judged.refusal = message.error().message();
    out.error = std::move(message).error();
    return out;
  }
  auto content = CheckVerifiedMessage(*message, sub, &stored, params);
  if (content.ok()) {
    out.judged.list = std::move(content->list);
    return out;
  }
  out.judged.refusal = content.error().message();
  out.error = std::move(content).error();
  if (auto list = ImageList::Parse(message->content, nullptr); list.ok()) {
    out.judged.list = std::move(list).value();
  }
  return out;
}

AcceptedList ToAcceptedList(const VerifiedCandidate& c, std::string signed_bytes,
                            const FetchResult& fetch, TimePoint now) {
  AcceptedList a;
  a.list_identifier = c.list.identifier();
  a.version = c.list.version();
  a.content_sha512 = c.content_sha512;
  a.signer_dn = c.message.signer_dn;
  a.signer_ca = c.message.signer_ca_dn;
  a.created = *c.list.created();
  a.expires = *c.list.expires();
  a.fetched_at = now;
  a.etag = fetch.etag;
  a.last_modified = fetch.last_modified;
  a.url = fetch.effective_url;
  a.signed_bytes = std::move(signed_bytes);
  a.split = c.split;
  for (const auto& image : c.list.images()) a.images.push_back(image.identifier());
  // Kept for VerifyUnchanged; without them a 304 is verified in full.
  if (auto der = CertificateDer(c.message.signer.get()); der.ok()) {
    a.certificates.push_back(std::move(*der));
    for (const auto& cert : c.message.other_certificates) {
      auto other = CertificateDer(cert.get());
      if (!other.ok()) {
        a.certificates.clear();
        break;
      }
      a.certificates.push_back(std::move(*other));
    }
  }
  return a;
}

Result<FetchResult> FetchList(HttpClient& client, const std::string& url,
                              const std::string& credentials_file,
                              const std::optional<AcceptedList>& current,
                              std::uint64_t max_list_bytes) {
  VMC_RETURN_IF_ERROR(CheckListCredentials(url, credentials_file));
  LogDebug("fetching the list " + RedactUrl(url));
  FetchRequest request;
  request.url = url;
  request.protocols = ListProtocols(url);
  request.max_bytes = max_list_bytes;
  if (!credentials_file.empty()) {
    VMC_ASSIGN_OR_RETURN(request.credentials, LoadCredentials(credentials_file));
  }
  // Validators only from a list fetched from this very URL.
  if (current && current->url == RedactUrl(url)) {
    request.etag = current->etag;
    request.last_modified = current->last_modified;
  }
  return client.Fetch(request);
}

namespace {

// Whether `sub` is one made with `catcher subscribe` (its record is then
// required by every write, see State).
bool Subscribed(const ResolvedSubscription& sub) { return sub.origin == Origin::kCommand; }

UpdateOutcome Removed() {
  UpdateOutcome outcome;
  outcome.removed = true;
  return outcome;
}

// After a failed write for `sub`: whether the failure is that another process
// removed the subscription meanwhile.
bool WasRemoved(const Error& error, const ResolvedSubscription& sub) {
  return Subscribed(sub) && error.code() == ErrorCode::kNotFound;
}

// Runs the steps; for a 304 with `in_full` set, only step 1, leaving steps
// 2-8 over the list held, moved to *in_full, to the caller.
Result<UpdateOutcome> RunSteps(HttpClient& client, State& state, const ResolvedSubscription& sub,
                               const UpdateParameters& params,
                               std::optional<AcceptedList>* in_full) {
  if (Subscribed(sub)) {
    VMC_ASSIGN_OR_RETURN(const auto record, state.FindSubscription(sub.name));
    if (!record) return Removed();
  }
  VMC_ASSIGN_OR_RETURN(std::optional<AcceptedList> current, state.CurrentList(sub.name));
  // Step 1. (No transaction is open: State methods are one call each.)
  VMC_ASSIGN_OR_RETURN(FetchResult fetch, FetchList(client, sub.url, sub.credentials_file, current,
                                                    params.max_list_bytes));
  const bool unchanged = fetch.not_modified && current.has_value();
  if (fetch.not_modified && !current) {
    return Error(ErrorCode::kHttpStatus,
                 Describe(sub) +
                     ": the server answered 304 Not Modified to a request without "
                     "validators")
        .With("subscription", sub.name);
  }
  UpdateOutcome outcome;
  if (unchanged && in_full != nullptr) {
    // Step 9 when the caller's steps 2-8 pass: only the validators.
    outcome.touch = ListTouch{current->content_sha512, fetch.etag, fetch.last_modified, params.now};
    outcome.version = current->version;
    VMC_ASSIGN_OR_RETURN(current->split, state.ListSplit(sub.name));
    *in_full = std::move(current);
    return outcome;
  }
  if (unchanged && !current->certificates.empty()) {
    const Status judged = VerifyUnchanged(*current, sub, params);
    // Kept certificates that do not parse are damaged state: the list's own
    // bytes are verified in full instead, below.
    if (judged.ok() || judged.error().code() != ErrorCode::kStorage) {
      VMC_RETURN_IF_ERROR(judged);
      // Step 9: only the validators, recorded with the cycle's attempts.
      outcome.touch =
          ListTouch{current->content_sha512, fetch.etag, fetch.last_modified, params.now};
      outcome.version = current->version;
      return outcome;
    }
    LogWarning(Describe(sub) + ": " + judged.error().message() + "; verifying the list in full");
  }
  std::string bytes = unchanged ? current->signed_bytes : std::move(fetch.body);
  // Steps 2-8.
  VMC_ASSIGN_OR_RETURN(VerifiedCandidate candidate,
                       VerifyCandidate(bytes, sub, current ? &*current : nullptr, params));
  // Step 9. A 304 changes only validators: recorded with the cycle's attempts.
  if (unchanged) {
    outcome.touch = ListTouch{current->content_sha512, fetch.etag, fetch.last_modified, params.now};
  } else if (Status stored = state.AcceptList(
                 sub.name, ToAcceptedList(candidate, std::move(bytes), fetch, params.now),
                 current ? current->content_sha512 : std::string(), params.now,
                 params.history_limit, Subscribed(sub));
             !stored.ok()) {
    if (WasRemoved(stored.error(), sub)) return Removed();
    return std::move(stored).error();
  }
  outcome.changed = !unchanged && (!current || current->content_sha512 != candidate.content_sha512);
  outcome.version = candidate.list.version();
  outcome.warnings = std::move(candidate.warnings);
  if (outcome.changed && current) {
    // A set, not a search of the old list per image: lists reach ~75,000.
    const std::unordered_set<std::string_view> held(current->images.begin(), current->images.end());
    for (const auto& image : candidate.list.images()) {
      std::string id = image.identifier();
      if (!held.contains(id)) outcome.new_images.push_back(std::move(id));
    }
  }
  outcome.judged = JudgedList{candidate.content_sha512, std::move(candidate.list), ""};
  return outcome;
}

// Every message names the subscription once: the errors that name it say so
// in their "subscription" detail.
Error NamingSubscription(Error error, const ResolvedSubscription& sub) {
  if (error.Find("subscription") != nullptr) return error;
  return std::move(error.Prefix(Describe(sub) + ": ")).With("subscription", sub.name);
}

// UpdateSubscription, with RunSteps' `in_full`.
Result<UpdateOutcome> UpdateOne(HttpClient& client, State& state, const ResolvedSubscription& sub,
                                const UpdateParameters& params,
                                std::optional<AcceptedList>* in_full) {
  // Before any transfer: TLS to an https list would otherwise fall back to
  // the system's roots and report what they lack (tls-error), not that the
  // site's CA directory is missing or unreadable.
  if (params.trust_error) return NamingSubscription(*params.trust_error, sub);
  if (!params.trust) {
    if (Status s = CheckCaDir(params.ca_dir); !s.ok()) {
      return NamingSubscription(std::move(s).error(), sub);
    }
  }
  // kLocked from step 9: another process stored a list for this subscription
  // between our reading the list held and our storing the one fetched. Run
  // the steps again: the conditional fetch then finds what it stored.
  constexpr int kAttempts = 3;
  auto outcome = RunSteps(client, state, sub, params, in_full);
  for (int attempt = 1;
       attempt < kAttempts && !outcome.ok() && outcome.error().code() == ErrorCode::kLocked;
       ++attempt) {
    LogInfo(outcome.error().message() + "; updating it again");
    outcome = RunSteps(client, state, sub, params, in_full);
  }
  if (outcome.ok()) return outcome;
  return NamingSubscription(std::move(outcome).error(), sub);
}

}  // namespace

Result<UpdateOutcome> UpdateSubscription(HttpClient& client, State& state,
                                         const ResolvedSubscription& sub,
                                         const UpdateParameters& params) {
  return UpdateOne(client, state, sub, params, nullptr);
}

namespace {

void AnnounceNewImages(const UpdateOutcome& outcome, const EventRunner& events,
                       const CacheLayout& layout) {
  if (outcome.new_images.empty() || !events.enabled() || !outcome.judged || !outcome.judged->list) {
    return;
  }
  const ImageList& list = *outcome.judged->list;
  for (const auto& id : outcome.new_images) {
    const auto image = list.FindImage(id);
    if (!image) continue;
    // It is news, not a state to retry: a failure is only logged.
    if (Status s = events.Run(ImageEvent("SubscriptionImageNew", list, *image, id, layout));
        !s.ok()) {
      LogWarning(s.error().message());
    }
  }
}

AttemptRecord AttemptFor(const SubscriptionUpdate& r, TimePoint now) {
  if (r.error) {
    return {now, std::string(ErrorCodeName(r.error->code())), r.error->message(),
            ExitStatusFor(r.error->code())};
  }
  return {now, r.outcome.changed ? "updated" : "unchanged", "", 0};
}

// An unchanged list verified in full on UpdateAll's pool: what the task
// reads and writes. (A deque's elements stay where they are.)
struct InFull {
  std::size_t result;  // its index in the results
  const ResolvedSubscription* sub;
  AcceptedList held;
  StoredListJudgement judgement;
};

// The judgement of an unchanged list, into its update's result.
void TakeJudgement(InFull& in_full, SubscriptionUpdate& r) {
  if (in_full.judgement.error) {
    r.error = NamingSubscription(std::move(*in_full.judgement.error), *in_full.sub);
    r.outcome.touch.reset();
    LogError(r.error->message());
  }
  if (in_full.judgement.split) {
    r.outcome.split =
        ListSplit{in_full.judgement.judged.content_sha512, std::move(*in_full.judgement.split)};
  }
  r.outcome.judged = std::move(in_full.judgement.judged);
}

std::size_t PoolThreads(UnchangedLists unchanged) {
  if (unchanged != UnchangedLists::kVerifyInFull) return 0;
  return WorkerPool::Cores();
}

}  // namespace

std::vector<SubscriptionUpdate> UpdateAll(HttpClient& client, State& state,
                                          const std::vector<ResolvedSubscription>& subs,
                                          const UpdateParameters& params, const EventRunner& events,
                                          const CacheLayout& layout, UnchangedLists unchanged) {
  std::vector<SubscriptionUpdate> results;
  std::vector<const ResolvedSubscription*> updated;  // results' subscriptions
  std::deque<InFull> in_full;
  WorkerPool pool(PoolThreads(unchanged));
  for (const auto& sub : subs) {
    SubscriptionUpdate r{sub.name, std::nullopt, {}};
    std::optional<AcceptedList> held;
    auto outcome = UpdateOne(client, state, sub, params,
                             unchanged == UnchangedLists::kVerifyInFull ? &held : nullptr);
    if (outcome.ok() && outcome->removed) {
      LogInfo("subscription " + sub.name + " was removed meanwhile; not updated");
      continue;
    }
    if (outcome.ok()) {
      r.outcome = std::move(outcome).value();
      for (const auto& w : r.outcome.warnings) LogWarning(w);
      AnnounceNewImages(r.outcome, events, layout);
    } else {
      r.error = std::move(outcome).error();
      LogError(r.error->message());
    }
    if (held) {
      InFull& task = in_full.emplace_back(InFull{results.size(), &sub, std::move(*held), {}});
      pool.Submit([&task, &params] {
        task.judgement = JudgeStoredList(*task.sub, task.held, params);
        task.held = {};  // its bytes are not needed after the judgement
      });
    }
    results.push_back(std::move(r));
    updated.push_back(&sub);
  }
  pool.Finish();
  for (InFull& task : in_full) TakeJudgement(task, results[task.result]);
  // Only the record of the attempt changes when a list is refused.
  std::vector<CycleRecord> records;
  for (std::size_t i = 0; i < results.size(); ++i) {
    SubscriptionUpdate& r = results[i];
    records.push_back({r.name, Subscribed(*updated[i]), r.outcome.touch, AttemptFor(r, params.now),
                       std::move(r.outcome.split)});
    r.outcome.split.reset();
  }
  auto removed = state.RecordCycle(records);
  if (!removed.ok()) {
    LogError("cannot record the update attempts: " + removed.error().message());
    for (auto& r : results) {
      if (!r.error) r.error = removed.error();
    }
    return results;
  }
  std::erase_if(results, [&](const SubscriptionUpdate& r) {
    if (removed->count(r.name) == 0) return false;
    LogInfo("subscription " + r.name + " was removed meanwhile");
    return true;
  });
  return results;
}

Status WorstFailure(const std::vector<SubscriptionUpdate>& results) {
  const SubscriptionUpdate* worst = nullptr;
  size_t failures = 0;
  for (const auto& r : results) {
    if (!r.error) continue;
    ++failures;
    if (worst == nullptr || ExitStatusFor(r.error->code()) > ExitStatusFor(worst->error->code())) {
      worst = &r;
    }
  }
  if (worst == nullptr) return Ok();
  return Error(worst->error->code(),
               std::to_string(failures) + " of " + Counted(results.size(), "subscription") +
                   " failed (the worst: " + std::string(ErrorCodeName(worst->error->code())) +
                   ", subscription " + worst->name + "; see 'catcher subscriptions')")
      .With("subscription", worst->name);
}

}  // namespace vmc::catcher
