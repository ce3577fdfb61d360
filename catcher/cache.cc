#include "catcher/cache.h"

#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "catcher/claims.h"
#include "catcher/download_budget.h"
#include "catcher/image_conversion.h"
#include "catcher/image_fetch.h"
#include "catcher/image_inspection.h"
#include "catcher/inventory.h"
#include "catcher/qemu_img.h"
#include "common/atomic_file.h"
#include "common/credentials.h"
#include "common/digest.h"
#include "common/identifier.h"
#include "common/log.h"
#include "common/safe_dir.h"
#include "common/unique_fd.h"
#include "common/url.h"

namespace vmc::catcher {
namespace {

namespace fs = std::filesystem;

// What the steps of one cache run share (CacheRun hands it down).
struct RunScope {
  Cycle& cycle;
  Context& ctx;
  const EventRunner& events;
  const CacheLayout& layout;
  const CacheDirFds& dirs;
  TimePoint now;
  const std::atomic<bool>* cancel;
  CacheReport& report;

  bool Stopping() const { return cancel != nullptr && cancel->load(); }
};

RunScope ScopeOf(Cycle& cycle, const CacheDirFds& dirs, const std::atomic<bool>* cancel,
                 CacheReport& report) {
  return {cycle, cycle.context(), cycle.events(), cycle.layout(),
          dirs,  cycle.now(),     cancel,         report};
}

bool IsSha512Name(const std::string& name) {
  if (name.size() != kSha512HexSize) return false;
  return std::ranges::all_of(
      name, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

const ResolvedSubscription* FindSubscription(Context& ctx, const std::string& name) {
  for (const auto& s : ctx.subscriptions) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// The file an image is given as (its view links it): the image's own bytes,
// or their conversion.
struct ImageFile {
  std::string format;
  std::string sha512;
};

// An image of the inventory with its list, for events.
struct Entry {
  const InventoryImage* item;
  const ImageList* list;
  Image image;
};

std::vector<Entry> WantedEntries(const Inventory& inventory) {
  std::vector<Entry> out;
  for (const auto& item : inventory.images) {
    if (!IsWanted(item.state)) continue;
    const ImageList& list = inventory.lists[item.list_index].list;
    out.push_back({&item, &list, list.image(item.index)});
  }
  return out;
}

Event WithType(const std::map<std::string, std::string>& variables, const std::string& type) {
  Event e;
  e.type = type;
  e.variables = variables;
  e.variables["VMCATCHER_EVENT_TYPE"] = type;
  return e;
}

// The temporary name Link() gives a view before renaming it into place. No
// identifier starts with '.', so it never names a view.
std::string LinkTemp(const std::string& id) { return "." + id + ".link"; }

bool IsLinkTemp(const std::string& name) {
  return name.size() > 6 && name[0] == '.' && name.ends_with(".link");
}

// Whether cache/<id> is a hard link of cache/.sha512/<sha> (never a
// symbolic link to it: a view is followed by the middleware).
bool IsViewOf(const CacheDirFds& dirs, const std::string& id, const std::string& sha) {
  struct stat view {
  }, content{};
  return dirs.cache.Stat(id, &view).ok() && S_ISREG(view.st_mode) &&
         dirs.content.Stat(sha, &content).ok() && S_ISREG(content.st_mode) &&
         view.st_dev == content.st_dev && view.st_ino == content.st_ino;
}

// Hard-links the content file `sha` as the view `id`, replacing any old view
// (or anything planted there) atomically. The content file is opened without
// following a link and linked from its descriptor.
Status Link(const CacheDirFds& dirs, const std::string& sha, const std::string& id) {
  // rename() of a hard link onto another link of the same file does nothing
  // and succeeds (POSIX), which would leave the temporary link behind.
  if (IsViewOf(dirs, id, sha)) return Ok();
  VMC_ASSIGN_OR_RETURN(const UniqueFd content, dirs.content.OpenFile(sha, O_RDONLY));
  const std::string tmp = LinkTemp(id);
  VMC_RETURN_IF_ERROR(dirs.cache.Unlink(tmp));
  VMC_RETURN_IF_ERROR(dirs.content.LinkOpenFile(content.get(), sha, dirs.cache, tmp));
  if (Status s = dirs.cache.Rename(tmp, dirs.cache, id); !s.ok()) {
    (void)dirs.cache.Unlink(tmp);
    return s;
  }
  return Ok();
}

// Removes an entry planted where catcher keeps its own files (a link, a
// FIFO, ...): removing it never follows it. Returns the error to report.
Error RemovePlanted(const SafeDir& dir, const std::string& name) {
  Error error = UnsafePathError(dir.PathOf(name), "not a regular file");
  if (Status s = dir.Unlink(name); !s.ok()) return std::move(s).error();
  return std::move(error).Prefix("removed: ");
}

Result<std::uint64_t> ContentBytes(const CacheLayout& layout) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(layout.content, ec)) {
    // A link planted there is not content (and is removed when met).
    if (e.symlink_status(ec).type() == fs::file_type::regular) total += e.file_size(ec);
  }
  return total;
}

// Images are offered and expired in batches of this many: a cache run of a
// list at the size cap (~75,000 images) commits a few hundred times, not twice
// per image. A batch's records are written before any of its views appear
// (crash safety, cache.h), so a crash re-announces at most one batch.
constexpr std::size_t kCacheBatch = 512;

// qemu-img info reads headers and tables, never the whole disk: a minute is
// far more than any image takes, and bounds one that makes it loop.
constexpr std::chrono::seconds kInspectionTimeout{60};

// What the handler of an image's AvailablePrefix/Postfix is given beside
// vmcatcher's variables: the format of the file it imports, the SHA-512 of
// the endorsed bytes and that of the file (the same until a conversion).
void PutFileVariables(Event& e, const std::string& format, const std::string& source_sha,
                      const std::string& file_sha) {
  e.variables["CATCHER_EVENT_FORMAT"] = format;
  e.variables["CATCHER_EVENT_SOURCE_SHA512"] = source_sha;
  e.variables["CATCHER_EVENT_FILE_SHA512"] = file_sha;
}

class Availability {
 public:
  explicit Availability(const RunScope& run)
      : run_(run), ctx_(run.ctx), events_(run.events), dirs_(run.dirs), report_(run.report) {}

  Status Load() {
    VMC_ASSIGN_OR_RETURN(const auto* summaries, run_.cycle.CachedSummaries());
    cached_ = *summaries;
    return Ok();
  }

  // Makes one wanted image available under its identifier, or finishes a
  // due AvailablePostfix: queued, and done in inventory order by Flush(),
  // which runs when the batch is full.
  Status Offer(const Entry& e) {
    const std::string id = e.image.identifier();
    const std::string sha = e.image.sha512();
    VMC_RETURN_IF_ERROR(ValidateIdentifier(id));
    // The inventory of this run found its view a link of its content: no
    // need to look at both files again.
    const bool linked = e.item->state == InventoryState::kCached;
    if (!linked) {
      VMC_ASSIGN_OR_RETURN(const EntryType content, dirs_.content.Stat(sha));
      if (content == EntryType::kMissing) return Ok();  // not downloaded (its failure is reported)
      if (content != EntryType::kRegular) return RemovePlanted(dirs_.content, sha);
    }
    VMC_ASSIGN_OR_RETURN(const std::optional<ImageFile> file, TheFile(e, linked));
    if (!file) return Ok();  // refused
    const auto claimed = claimed_.find(id);
    if (claimed != claimed_.end() && claimed->second != sha) {
      // ResolveClaims (claims.h) leaves one content per identifier wanted;
      // a defence in depth.
      LogWarning("image " + id + " is named by two lists with different content; keeping " +
                 "the one offered first in this run");
      return Ok();
    }
    // Offered already in this run (another list names the same image).
    if (claimed != claimed_.end()) return Ok();
    claimed_[id] = sha;
    auto it = cached_.find(id);
    // The inventory's "linked" speaks of the file it knew: bytes inspected
    // (or converted) only now are looked at again.
    const bool view_ok =
        (linked && !e.item->file_sha512.empty()) || IsViewOf(dirs_, id, file->sha512);
    if (it != cached_.end() && it->second.sha512 == sha && view_ok) {
      if (it->second.postfix_due) {
        VMC_ASSIGN_OR_RETURN(const auto record, ctx_.state.FindCached(id));
        if (!record) return Ok();  // expired by another process meanwhile
        records_[id] = *record;
        Queue({id, file->sha512, std::nullopt});
      }
      return Ok();
    }
    // The same content offered again (a damaged view) stays its owner's
    // (catcher/claims.h).
    std::string owner = e.item->subscription;
    if (it != cached_.end() && it->second.sha512 == sha) owner = it->second.subscription;
    if (it != cached_.end() && it->second.sha512 != sha) {
      // The identifier now names other content (a new image version). What
      // is queued goes first, so that events keep the inventory's order.
      VMC_RETURN_IF_ERROR(Flush());
      VMC_ASSIGN_OR_RETURN(const auto record, ctx_.state.FindCached(id));
      if (record) VMC_RETURN_IF_ERROR(ExpireOne(run_, id, *record));
      cached_.erase(it);
    }
    Event prefix = ImageEvent("AvailablePrefix", *e.list, e.image, id, run_.layout);
    PutFileVariables(prefix, file->format, sha, file->sha512);
    records_[id] = CachedImage{sha, owner, prefix.variables, true, run_.now};
    cached_[id] = CachedSummary{sha, owner, true};
    Queue({id, file->sha512, std::move(prefix)});
    return Ok();
  }

  // Does what Offer() queued: one commit records the batch's images as
  // "postfix due" before their views appear (a crash from there on
  // re-announces), then each gets AvailablePrefix, its view and
  // AvailablePostfix, and one commit records the postfixes that succeeded.
  // Stops between images once the process is asked to stop: an image
  // recorded but not yet linked is offered again by the next run.
  Status Flush() {
    std::vector<Pending> batch = std::move(pending_);
    pending_.clear();
    if (batch.empty() || Stopping()) return Ok();
    VMC_RETURN_IF_ERROR(SaveInspections());
    std::vector<std::pair<std::string, CachedImage>> due;
    for (const Pending& p : batch) {
      if (p.prefix) due.emplace_back(p.id, records_.at(p.id));
    }
    VMC_RETURN_IF_ERROR(ctx_.state.PutCachedBatch(due));
    std::vector<std::pair<std::string, CachedImage>> done;
    for (const Pending& p : batch) {
      if (Stopping()) break;
      CachedImage& record = records_.at(p.id);
      if (p.prefix) {
        if (Status s = events_.Run(*p.prefix); !s.ok()) {
          report_.Fail(std::move(s).error());
        }
        if (Status s = Link(dirs_, p.sha, p.id); !s.ok()) {
          report_.Fail(std::move(s).error());
          continue;
        }
        ++report_.made_available;
      }
      if (Status s = events_.Run(WithType(record.variables, "AvailablePostfix")); !s.ok()) {
        // Stays due: the next cache run retries it.
        report_.Fail(std::move(s).error());
        continue;
      }
      record.postfix_due = false;
      cached_[p.id].postfix_due = false;
      done.emplace_back(p.id, record);
    }
    if (Status s = ctx_.state.PutCachedBatch(done); !s.ok()) report_.Fail(std::move(s).error());
    return Ok();
  }

  // What becomes of the view of an image that expires: an expired image's
  // goes to expired/ (its bytes stay until purged); a refused image's bytes
  // are unsafe or not what the list says, and leave the cache at once.
  enum class ViewFate { kToExpired, kRemoved };

  // Runs ExpirePrefix, moves the view to expired/ (or removes it) and runs
  // ExpirePostfix; the caller removes the record (one image: ExpireOne;
  // many: batched).
  static Status ExpireView(const EventRunner& events, const CacheDirFds& dirs,
                           const std::string& id, const CachedImage& record, CacheReport& report,
                           ViewFate fate = ViewFate::kToExpired) {
    VMC_RETURN_IF_ERROR(ValidateIdentifier(id));
    if (Status s = events.Run(WithType(record.variables, "ExpirePrefix")); !s.ok()) {
      report.Fail(std::move(s).error());
    }
    VMC_ASSIGN_OR_RETURN(const EntryType view, dirs.cache.Stat(id));
    if (view == EntryType::kRegular && fate == ViewFate::kRemoved) {
      VMC_RETURN_IF_ERROR(dirs.cache.Unlink(id));
    } else if (view == EntryType::kRegular) {
      // An older expired/<id> goes first: when it is a hard link of the same
      // file (the content stayed, wanted under another identifier), rename()
      // would do nothing, succeed, and leave the view in the cache.
      VMC_RETURN_IF_ERROR(dirs.expired.Unlink(id));
      VMC_RETURN_IF_ERROR(dirs.cache.Rename(id, dirs.expired, id));
    } else if (view == EntryType::kOther) {
      // Not catcher's view: a link planted under its name goes, unfollowed.
      report.Fail(RemovePlanted(dirs.cache, id));
    } else if (view == EntryType::kDirectory) {
      report.Fail(UnsafePathError(dirs.cache.PathOf(id), "a directory, not a view; left alone"));
    }
    if (Status s = events.Run(WithType(record.variables, "ExpirePostfix")); !s.ok()) {
      report.Fail(std::move(s).error());
    }
    return Ok();
  }

  static Status ExpireOne(const RunScope& run, const std::string& id, const CachedImage& record,
                          ViewFate fate = ViewFate::kToExpired) {
    VMC_RETURN_IF_ERROR(ExpireView(run.events, run.dirs, id, record, run.report, fate));
    VMC_RETURN_IF_ERROR(run.ctx.state.RemoveCached(id));
    ++run.report.expired;
    return Ok();
  }

 private:
  struct Pending {
    std::string id;
    std::string sha;  // of the file its view links: the image's, or its conversion's
    // AvailablePrefix, when it and the view are still to come; nullopt when
    // only an AvailablePostfix that did not succeed before is due.
    std::optional<Event> prefix;
  };

  bool Stopping() const { return run_.Stopping(); }

  // The file a wanted image is given as: its own bytes, or their
  // conversion to a format the site takes. Bytes not inspected yet are
  // inspected (once per SHA-512 and run) and a conversion not made yet is
  // made (once per SHA-512 and target), each recorded. nullopt when the
  // image is refused (Refuse).
  Result<std::optional<ImageFile>> TheFile(const Entry& e, bool linked) {
    const InventoryImage& item = *e.item;
    const std::string sha = e.image.sha512();
    if (!item.file_sha512.empty()) {
      VMC_ASSIGN_OR_RETURN(const bool present, FilePresent(item, sha, linked));
      if (present) {
        accepted_.insert(sha);
        accepted_.insert(item.file_sha512);
        return std::optional<ImageFile>(ImageFile{item.file_format, item.file_sha512});
      }
      // A conversion whose file the store no longer has (removed by hand,
      // or a check stopped between moving it out and forgetting it) is made
      // again, and its record replaced.
      LogWarning("image " + e.image.identifier() + ": its conversion " +
                 item.file_sha512.substr(0, 16) + "... is not in the cache; converting again");
    }
    std::string format = item.format;
    if (format.empty()) {
      VMC_ASSIGN_OR_RETURN(const InspectionRecord* found, Inspection(sha));
      auto judged = JudgeInspection({found->format, found->virtual_size, found->danger},
                                    e.image.format(), FormatRulesOf(ctx_.policy));
      if (!judged.ok()) return Refuse(e, std::move(judged).error(), linked);
      format = std::move(judged).value();
    }
    const ResolvedSubscription* sub = FindSubscription(ctx_, item.subscription);
    if (sub == nullptr) return Error(ErrorCode::kNotFound, "no subscription " + item.subscription);
    auto target = ConversionTarget(format, FormatsFor(*sub, ctx_.settings));
    if (!target.ok()) return Refuse(e, std::move(target).error(), linked);
    accepted_.insert(sha);
    if (!*target) return std::optional<ImageFile>(ImageFile{format, sha});
    VMC_ASSIGN_OR_RETURN(const ConversionRecord* converted, Conversion(sha, format, **target));
    if (converted == nullptr) return std::optional<ImageFile>();  // stopped: the next run
    accepted_.insert(converted->sha512);
    return std::optional<ImageFile>(ImageFile{converted->format, converted->sha512});
  }

  // Whether the file the inventory gives the image is in the content store:
  // its own bytes (just stat-ed by Offer) or a view's link to it are proof.
  Result<bool> FilePresent(const InventoryImage& item, const std::string& sha, bool linked) const {
    if (linked || item.file_sha512 == sha) return true;
    VMC_ASSIGN_OR_RETURN(const EntryType type, dirs_.content.Stat(item.file_sha512));
    return type == EntryType::kRegular;
  }

  // Reports the refusal of an image: an image already available from these
  // bytes expires, and the bytes leave the cache when no image of the run
  // took them (RemoveRefused).
  Result<std::optional<ImageFile>> Refuse(const Entry& e, Error why, bool linked) {
    const std::string id = e.image.identifier();
    report_.Fail(std::move(why).Prefix("image " + id + " refused: ").With("image", id));
    refused_.insert(e.image.sha512());
    // Available from these bytes before (its view linked, or damaged and
    // about to be offered again): it is withdrawn as an expired image is.
    const auto it = cached_.find(id);
    if (linked || (it != cached_.end() && it->second.sha512 == e.image.sha512())) {
      VMC_RETURN_IF_ERROR(Flush());
      VMC_ASSIGN_OR_RETURN(const auto record, ctx_.state.FindCached(id));
      if (record) VMC_RETURN_IF_ERROR(ExpireOne(run_, id, *record, ViewFate::kRemoved));
      cached_.erase(id);
    }
    return std::optional<ImageFile>();
  }

  // The conversion of the bytes `sha` (of format `format`) to `target`:
  // made in this run already, or made now and recorded (one commit each: a
  // conversion takes seconds to minutes). nullptr when the process is
  // stopping: the conversion is stopped too, and the next run makes it.
  Result<const ConversionRecord*> Conversion(const std::string& sha, const std::string& format,
                                             const std::string& target) {
    const std::string key = ConversionKey(sha, target);
    if (const auto it = converted_.find(key); it != converted_.end()) return &it->second;
    VMC_ASSIGN_OR_RETURN(const QemuImg* qemu, Qemu());
    VMC_ASSIGN_OR_RETURN(const InspectionRecord* inspection, Inspection(sha));
    LogInfo("converting " + sha.substr(0, 16) + "... from " + format + " to " + target);
    auto made = ConvertImage(*qemu, dirs_, sha, format, target, inspection->virtual_size, run_.now,
                             run_.cancel);
    if (!made.ok() && Stopping()) {
      LogInfo("conversion of " + sha.substr(0, 16) + "... to " + target +
              " stopped for the exit; the next run converts it again");
      return nullptr;
    }
    VMC_ASSIGN_OR_RETURN(ConversionRecord record, std::move(made));
    VMC_RETURN_IF_ERROR(ctx_.state.PutConversion(sha, record));
    ++report_.converted;
    return &converted_.emplace(key, std::move(record)).first->second;
  }

  Result<const QemuImg*> Qemu() {
    if (!qemu_) {
      VMC_ASSIGN_OR_RETURN(QemuImg found, QemuImg::Find());
      qemu_.emplace(std::move(found));
    }
    return &*qemu_;
  }

  // Records the inspections of this run not recorded yet, in one commit.
  Status SaveInspections() {
    VMC_RETURN_IF_ERROR(ctx_.state.PutInspections(unsaved_));
    unsaved_.clear();
    return Ok();
  }

  // What the inspection of the bytes `sha` found: recorded before, or
  // inspected now and recorded.
  Result<const InspectionRecord*> Inspection(const std::string& sha) {
    // A record made by another run (another process) since the inventory
    // was taken is not looked for: inspecting again finds the same.
    auto it = inspected_.find(sha);
    if (it != inspected_.end()) return &it->second;
    VMC_ASSIGN_OR_RETURN(const QemuImg* qemu, Qemu());
    VMC_ASSIGN_OR_RETURN(const ImageInspection inspection,
                         InspectImage(*qemu, dirs_.content, sha, kInspectionTimeout));
    const InspectionRecord record{inspection.format, inspection.virtual_size,
                                  inspection.danger, qemu->version(),
                                  run_.now,          kInspectionRules};
    unsaved_[sha] = record;
    return &inspected_.emplace(sha, record).first->second;
  }

 public:
  // Removes the bytes the run refused and no image of it took: a refused
  // image's content never stays in the cache.
  void RemoveRefused() {
    // What was found is kept before the bytes go: otherwise the next run
    // would download them again to find it once more.
    if (Status s = SaveInspections(); !s.ok()) {
      report_.Fail(std::move(s).error());
      return;
    }
    // Images the stop kept from being offered may take these bytes: the
    // next run's expiry judges them.
    if (Stopping()) return;
    for (const std::string& sha : refused_) {
      if (accepted_.contains(sha)) continue;
      if (Status s = dirs_.content.Unlink(sha); !s.ok()) report_.Fail(std::move(s).error());
    }
  }

 private:
  void Queue(Pending p) {
    pending_.push_back(std::move(p));
    if (pending_.size() < kCacheBatch) return;
    if (Status s = Flush(); !s.ok()) report_.Fail(std::move(s).error());
  }

  const RunScope& run_;
  Context& ctx_;
  const EventRunner& events_;
  const CacheDirFds& dirs_;
  CacheReport& report_;
  // Every record of the state, as far as offering needs to know it.
  std::map<std::string, CachedSummary> cached_;
  // The whole records of the images this run acts on (made available, or
  // with a postfix due): only these need their event variables.
  std::map<std::string, CachedImage> records_;
  std::map<std::string, std::string> claimed_;         // identifier -> sha512 this run
  std::vector<Pending> pending_;                       // queued by Offer(), in order
  std::optional<QemuImg> qemu_;                        // found when first needed
  std::map<std::string, InspectionRecord> inspected_;  // by SHA-512, this run
  std::set<std::string> accepted_;  // bytes an image of this run took, or was given
  std::set<std::string> refused_;   // bytes an image of this run refused
  std::map<std::string, InspectionRecord> unsaved_;    // inspected, not yet recorded
  std::map<std::string, ConversionRecord> converted_;  // by ConversionKey, this run
};

// The schemes an image of `sub`'s list may use. file only for a list read
// from a local file: a remote list must not make the catcher copy a local
// file into the world-readable cache (its endorser would only need the file's
// SHA-512, e.g. of a file it wants to confirm). libcurl enforces the set for
// the transfer; PlanDownloads judges the parsed URL first, before any I/O.
std::string ImageProtocols(const ResolvedSubscription* sub) {
  return sub != nullptr && ListProtocols(sub->url) == "file" ? kLocalProtocols : kRemoteProtocols;
}

// The image's origin when its URL may be fetched with `protocols`; else why
// not, without a byte read (so nothing tells whether a local file exists).
Result<UrlOrigin> CheckImageUrl(const Image& image, const std::string& protocols) {
  auto origin = ParseOrigin(image.uri());
  if (!origin.ok()) {
    return Error(ErrorCode::kInvalidValue, "image " + image.identifier() + ": its URL " +
                                               std::move(origin).error().message() +
                                               "; not downloaded")
        .With("image", image.identifier());
  }
  if (SchemeAllowed(origin->scheme, protocols)) return origin;
  const std::string why =
      origin->scheme == "file"
          ? "names a local file, which only a list read from a local file may do"
          : "uses the scheme \"" + origin->scheme + "\"";
  return Error(ErrorCode::kInvalidValue, "image " + image.identifier() + " " + why +
                                             " (allowed here: " + protocols + "); not downloaded")
      .With("image", image.identifier())
      .With("url", RedactUrl(image.uri()));
}

// Credentials files read once per cache run.
class CredentialsCache {
 public:
  Result<Credentials> Load(const fs::path& file) {
    auto it = loaded_.find(file);
    if (it == loaded_.end()) it = loaded_.emplace(file, LoadCredentials(file)).first;
    return it->second;
  }

 private:
  std::map<fs::path, Result<Credentials>> loaded_;
};

// What an image download may carry: the subscription's credentials when the
// image is on its list's own origin (which CheckListCredentials keeps https),
// else the admin's image-credentials for the image's exact origin, else none.
// A subscription's credentials never go to another host, port or scheme.
Result<Credentials> CredentialsForImage(const UrlOrigin& image, const ResolvedSubscription* sub,
                                        const Settings& settings, CredentialsCache& cache) {
  if (sub != nullptr && !sub->credentials_file.empty()) {
    const auto list = ParseOrigin(sub->url);
    if (list.ok() && list->scheme == "https" && *list == image) {
      return cache.Load(sub->credentials_file);
    }
  }
  if (image.scheme == "https") {
    const auto it = settings.image_credentials.find(image.ToString());
    if (it != settings.image_credentials.end()) return cache.Load(it->second);
  }
  return Credentials{};
}

// The downloads still needed, one per SHA-512, within the cache quota.
std::vector<FetchJob> PlanDownloads(Context& ctx, const CacheLayout& layout,
                                    const std::vector<Entry>& wanted, CacheReport& report) {
  std::vector<FetchJob> jobs;
  std::set<std::string> planned;
  CredentialsCache credentials;
  const auto quota = ctx.policy.limits.cache_quota_bytes;
  // A stat of every cached file: only when there is a quota to check.
  std::uint64_t used = quota ? ContentBytes(layout).value() : 0;
  for (const auto& e : wanted) {
    const std::string sha = e.image.sha512();
    if (e.item->state == InventoryState::kCached || planned.contains(sha) ||
        fs::exists(layout.ContentFile(sha))) {
      continue;
    }
    planned.insert(sha);
    if (quota && used + e.image.size() > *quota) {
      report.Fail(Error(ErrorCode::kDiskFull,
                        "image " + e.image.identifier() + " (" + std::to_string(e.image.size()) +
                            " bytes) does not fit the cache quota of " + std::to_string(*quota) +
                            " bytes (" + std::to_string(used) + " used)")
                      .With("image", e.image.identifier()));
      continue;
    }
    const ResolvedSubscription* sub = FindSubscription(ctx, e.item->subscription);
    FetchJob job;
    job.protocols = ImageProtocols(sub);
    auto origin = CheckImageUrl(e.image, job.protocols);
    if (!origin.ok()) {
      report.Fail(std::move(origin).error());
      continue;
    }
    auto chosen = CredentialsForImage(*origin, sub, ctx.settings, credentials);
    if (!chosen.ok()) {
      report.Fail(std::move(chosen).error().Prefix("image " + e.image.identifier() + ": "));
      continue;
    }
    used += e.image.size();
    job.url = e.image.uri();
    job.sha512 = sha;
    job.size = e.image.size();
    job.label = e.image.identifier();
    job.budget =
        DownloadBudget(job.size, ctx.settings.download_min_rate, ctx.settings.download_min_time);
    job.credentials = std::move(chosen).value();
    jobs.push_back(std::move(job));
  }
  return jobs;
}

// Removes what expired/ has held for the grace period: entries, never what
// a link there names. catcher puts only files there; a directory is left.
Status PurgeExpired(const SafeDir& expired, const Settings& settings, TimePoint now,
                    CacheReport& report) {
  VMC_ASSIGN_OR_RETURN(const auto names, expired.List());
  for (const auto& name : names) {
    struct stat st {};
    auto type = expired.Stat(name, &st);
    if (!type.ok() || *type == EntryType::kMissing) continue;
    const TimePoint changed{std::chrono::seconds{st.st_ctim.tv_sec}};
    if (now - changed < settings.expired_grace) continue;
    if (*type == EntryType::kDirectory) {
      LogWarning(expired.PathOf(name).string() + " is a directory, which catcher never puts " +
                 "in expired/; left alone");
      continue;
    }
    if (expired.Unlink(name).ok()) ++report.purged;
  }
  return Ok();
}

// Once the process is asked to stop, every transfer still running is aborted
// and none starts: their network errors are the stop's, not the server's.
bool StoppedBy(const RunScope& run, const Error& error) {
  return run.Stopping() && error.code() == ErrorCode::kNetwork;
}

// Makes available every wanted image whose content is in the store.
Status OfferEntries(const RunScope& run, const std::vector<Entry>& wanted) {
  Availability availability(run);
  VMC_RETURN_IF_ERROR(availability.Load());
  for (const auto& e : wanted) {
    if (run.Stopping()) break;
    if (Status s = availability.Offer(e); !s.ok()) run.report.Fail(std::move(s).error());
  }
  Status flushed = availability.Flush();
  availability.RemoveRefused();
  return flushed;
}

}  // namespace

void CacheReport::Interrupt(const Error& error) {
  LogInfo(error.message() + "; the next run resumes it where it stopped");
  ++interrupted;
}

void CacheReport::Fail(Error error) {
  LogError(error.message());
  failures.push_back(error.message());
  if (!first_error) first_error = std::move(error);
}

Result<CacheRun> CacheRun::Open(Cycle& cycle, const std::atomic<bool>* cancel,
                                CacheReport& report) {
  VMC_ASSIGN_OR_RETURN(CacheDirFds dirs, OpenCacheDirs(cycle.layout()));
  return CacheRun(cycle, std::make_shared<const CacheDirFds>(std::move(dirs)), cancel, report);
}

Status CacheRun::WithProcessEvents(const std::function<Status()>& steps) {
  const EventRunner& events = cycle_.events();
  if (Status s = events.Run(ProcessEvent("ProcessPrefix", cycle_.layout())); !s.ok()) {
    report_.Fail(std::move(s).error());
  }
  Status result = steps();
  if (Status s = events.Run(ProcessEvent("ProcessPostfix", cycle_.layout())); !s.ok()) {
    report_.Fail(std::move(s).error());
  }
  return result;
}

Status CacheRun::DownloadWanted(unsigned downloads) {
  VMC_ASSIGN_OR_RETURN(const Inventory* inventory, cycle_.TheInventory());
  LogConflicts(*inventory);
  const RunScope run = ScopeOf(cycle_, *dirs_, cancel_, report_);
  const std::vector<Entry> wanted = WantedEntries(*inventory);
  const std::vector<FetchJob> jobs = PlanDownloads(run.ctx, run.layout, wanted, report_);
  FetchOptions fetch;
  fetch.http = HttpOptionsFor(run.ctx.settings);
  fetch.concurrency = downloads;
  fetch.cancel = cancel_;
  const auto results = FetchAll(*dirs_, jobs, fetch);
  for (const auto& result : results) {
    if (result.ok()) {
      ++report_.downloaded;
    } else if (StoppedBy(run, result.error())) {
      report_.Interrupt(result.error());
    } else {
      report_.Fail(result.error());
    }
  }
  return OfferEntries(run, wanted);
}

Status CacheRun::OfferAndPlan(std::vector<FetchJob>& jobs) {
  VMC_ASSIGN_OR_RETURN(const Inventory* inventory, cycle_.TheInventory());
  LogConflicts(*inventory);
  const RunScope run = ScopeOf(cycle_, *dirs_, cancel_, report_);
  const std::vector<Entry> wanted = WantedEntries(*inventory);
  VMC_RETURN_IF_ERROR(OfferEntries(run, wanted));
  jobs = PlanDownloads(run.ctx, run.layout, wanted, report_);
  return Ok();
}

Status CacheRun::ExpireUnwanted() {
  VMC_ASSIGN_OR_RETURN(const Inventory* inventory, cycle_.TheInventory());
  Context& ctx = cycle_.context();
  const EventRunner& events = cycle_.events();
  const CacheDirFds& dirs = *dirs_;
  CacheReport& report = report_;
  const std::vector<Entry> entries = WantedEntries(*inventory);
  std::map<std::string, std::string> wanted;  // identifier -> sha512
  std::set<std::string> wanted_content;
  for (const auto& e : entries) {
    wanted.emplace(e.image.identifier(), e.image.sha512());
    wanted_content.insert(e.image.sha512());
  }
  // (identifier, sha512) of the images refused for their bytes.
  std::set<std::pair<std::string, std::string>> refused;
  for (const auto& item : inventory->images) {
    if (item.state != InventoryState::kRefused) continue;
    const Image image = inventory->lists[item.list_index].list.image(item.index);
    refused.emplace(image.identifier(), image.sha512());
  }
  // The whole records (their event variables) only when some image goes.
  VMC_ASSIGN_OR_RETURN(const auto* summaries, cycle_.CachedSummaries());
  const bool any_gone = std::any_of(summaries->begin(), summaries->end(), [&](const auto& entry) {
    const auto w = wanted.find(entry.first);
    return w == wanted.end() || w->second != entry.second.sha512;
  });
  std::map<std::string, CachedImage> cached;
  if (any_gone) {
    VMC_ASSIGN_OR_RETURN(cached, ctx.state.Cached());
  }
  // Records leave in batches (one commit per kCacheBatch images), each after
  // its images' views and events; a crash in between expires those again.
  std::vector<std::string> gone;
  const auto commit = [&] {
    if (Status s = ctx.state.RemoveCachedBatch(gone); !s.ok()) {
      report.Fail(std::move(s).error());
    } else {
      report.expired += static_cast<int>(gone.size());
    }
    gone.clear();
  };
  for (const auto& [id, record] : cached) {
    const auto w = wanted.find(id);
    if (w != wanted.end() && w->second == record.sha512) continue;
    const auto fate = refused.contains({id, record.sha512}) ? Availability::ViewFate::kRemoved
                                                            : Availability::ViewFate::kToExpired;
    if (Status s = Availability::ExpireView(events, dirs, id, record, report, fate); !s.ok()) {
      report.Fail(std::move(s).error());
      continue;
    }
    gone.push_back(id);
    if (gone.size() >= kCacheBatch) commit();
  }
  commit();
  // What was found of bytes no list names any more is forgotten; a refusal
  // is kept while a list names its bytes, so that they are not fetched again.
  std::set<std::string> named;
  for (const auto& item : inventory->images) {
    named.insert(inventory->lists[item.list_index].list.image(item.index).sha512());
  }
  if (Status s = ctx.state.KeepInspections(named); !s.ok()) report.Fail(std::move(s).error());
  // A conversion stays while a wanted image is given it: the inventory
  // names the target of each image it knew the format of; every conversion
  // of bytes it did not (inspected by this run, after the inventory was
  // taken) stays too. The others go with their files: a site that changed
  // its formats does not keep the conversions to the old ones.
  VMC_ASSIGN_OR_RETURN(const auto conversions, ctx.state.Conversions());
  std::set<std::string> kept_conversions;
  std::set<std::string> uninspected;
  for (const auto& e : entries) {
    const InventoryImage& item = *e.item;
    if (item.format.empty()) uninspected.insert(e.image.sha512());
    if (!item.format.empty() && item.file_format != item.format) {
      kept_conversions.insert(ConversionKey(e.image.sha512(), item.file_format));
    }
  }
  for (const auto& [key, conversion] : conversions) {
    if (uninspected.contains(key.substr(0, key.find('/')))) kept_conversions.insert(key);
  }
  std::erase_if(kept_conversions,
                [&](const std::string& key) { return !conversions.contains(key); });
  for (const auto& key : kept_conversions) wanted_content.insert(conversions.at(key).sha512);
  if (Status s = ctx.state.KeepConversions(kept_conversions); !s.ok()) {
    report.Fail(std::move(s).error());
  }
  // Temporary links of views that a crash left behind (see Link()).
  // (Unlink removes entries, never what a link there names.)
  VMC_ASSIGN_OR_RETURN(const auto views, dirs.cache.List());
  for (const auto& name : views) {
    if (IsLinkTemp(name)) (void)dirs.cache.Unlink(name);
  }
  // Content no image wants any more: its views in expired/ keep the bytes
  // until they are purged; partial downloads of it are dropped.
  VMC_ASSIGN_OR_RETURN(const auto contents, dirs.content.List());
  for (const auto& name : contents) {
    if (!wanted_content.contains(name)) (void)dirs.content.Unlink(name);
  }
  VMC_ASSIGN_OR_RETURN(const auto partials, dirs.partial.List());
  for (const auto& name : partials) {
    const std::string sha = name.substr(0, name.find('.'));
    if (!wanted_content.contains(sha)) (void)dirs.partial.Unlink(name);
  }
  return PurgeExpired(dirs.expired, ctx.settings, cycle_.now(), report);
}

Status CacheRun::Check() {
  Context& ctx = cycle_.context();
  const CacheDirFds& dirs = *dirs_;
  CacheReport& report = report_;
  const RunScope run = ScopeOf(cycle_, dirs, cancel_, report);
  VMC_ASSIGN_OR_RETURN(const auto cached, ctx.state.Cached());
  // Each image by the file its view links: its bytes, or their conversion.
  std::multimap<std::string, const std::pair<const std::string, CachedImage>*> by_file;
  for (const auto& entry : cached) {
    const auto file = entry.second.variables.find("CATCHER_EVENT_FILE_SHA512");
    const bool converted = file != entry.second.variables.end() && !file->second.empty();
    by_file.emplace(converted ? file->second : entry.second.sha512, &entry);
  }
  VMC_ASSIGN_OR_RETURN(const auto conversions, ctx.state.Conversions());
  std::set<std::string> sound_conversions;
  for (const auto& entry : conversions) sound_conversions.insert(entry.first);
  VMC_ASSIGN_OR_RETURN(const auto names, dirs.content.List());
  for (const std::string& name : names) {
    const fs::path path = dirs.content.PathOf(name);
    VMC_ASSIGN_OR_RETURN(const EntryType type, dirs.content.Stat(name));
    std::string why;
    if (type == EntryType::kMissing) continue;
    if (type == EntryType::kDirectory) {
      report.Fail(UnsafePathError(path, "a directory, not a file of the content store"));
      continue;
    }
    const bool planted = type != EntryType::kRegular;
    if (planted) {
      why = "is not a regular file";
    } else if (!IsSha512Name(name)) {
      why = "is not named by a SHA-512";
    } else {
      // Checked a regular file just above; only catcher can write here.
      auto digest = HashFile(path);
      if (!digest.ok()) {
        report.Fail(std::move(digest).error());
        continue;
      }
      ++report.checked;
      report.checked_bytes += digest->size;
      if (digest->sha512_hex == name) continue;
      why = "has SHA-512 " + digest->sha512_hex;
    }
    // Every image made available from the corrupt file leaves the cache as
    // an expired one does: the handler that imported it hears ExpirePrefix
    // and ExpirePostfix, and its view goes to expired/. It is wanted again
    // and downloaded anew by the next cache run.
    // A corrupt conversion is made again by the next run.
    for (const auto& [key, conversion] : conversions) {
      if (conversion.sha512 == name) sound_conversions.erase(key);
    }
    const auto [first, last] = by_file.equal_range(name);
    for (auto it = first; it != last; ++it) {
      const auto& [id, record] = *it->second;
      if (Status s = Availability::ExpireOne(run, id, record); !s.ok()) {
        report.Fail(std::move(s).error());
      }
    }
    if (planted) {
      // A link is removed, never followed nor kept.
      report.Fail(RemovePlanted(dirs.content, name));
      continue;
    }
    const std::string dest = "corrupt-" + std::to_string(getpid()) + "-" + name;
    if (Status s = dirs.content.Rename(name, dirs.expired, dest); !s.ok()) {
      report.Fail(std::move(s).error());
      continue;
    }
    report.Fail(Error(ErrorCode::kChecksumMismatch, "cached file " + path.string() + " " + why +
                                                        "; moved to " +
                                                        dirs.expired.PathOf(dest).string())
                    .With("path", dirs.expired.PathOf(dest).string()));
  }
  if (sound_conversions.size() != conversions.size()) {
    VMC_RETURN_IF_ERROR(ctx.state.KeepConversions(sound_conversions));
  }
  return Ok();
}

// One cache run at a time per state directory (the daemon's or a command's).
// A command waits for the lock as long as it takes. With `cancel` (the
// daemon) the lock is polled instead, so that SIGTERM stops the daemon while
// another run, a `catcher cache` by hand, holds the cache for hours; nullopt
// then says the process stopped before its turn came.
Result<std::optional<FileLock>> LockCache(const CacheLayout& layout,
                                          const std::atomic<bool>* cancel) {
  constexpr char kPurpose[] = "a cache run";
  if (cancel == nullptr) {
    VMC_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(layout.lock, true, kPurpose));
    return std::optional<FileLock>(std::move(lock));
  }
  bool told = false;
  for (;;) {
    auto lock = FileLock::Acquire(layout.lock, false, kPurpose);
    if (lock.ok()) return std::optional<FileLock>(std::move(lock).value());
    if (lock.error().code() != ErrorCode::kLocked) return std::move(lock).error();
    if (!told) {
      LogInfo(lock.error().message() + "; waiting for it to finish");
      told = true;
    }
    if (cancel->load()) {
      LogInfo("the cache was not run: the process is stopping while " + lock.error().message());
      return std::optional<FileLock>();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Status RunCache(Cycle& cycle, const CacheSteps& steps, const std::atomic<bool>* cancel,
                CacheReport& report) {
  VMC_ASSIGN_OR_RETURN(const std::optional<FileLock> lock, LockCache(cycle.layout(), cancel));
  if (!lock) return Ok();
  VMC_ASSIGN_OR_RETURN(CacheRun run, CacheRun::Open(cycle, cancel, report));
  return run.WithProcessEvents([&]() -> Status {
    // The check moves corrupt files out before the cycle's inventory is
    // taken (by the first step that needs it); downloads change no image's
    // being wanted, so expiry shares that inventory.
    if (steps.check) VMC_RETURN_IF_ERROR(run.Check());
    if (steps.download) {
      VMC_RETURN_IF_ERROR(run.DownloadWanted(DownloadsAtOnce(cycle.context().settings)));
    }
    // Stopping: expiry (and the handlers it runs) waits for the next run.
    if (cancel != nullptr && cancel->load()) return Ok();
    if (steps.expire) VMC_RETURN_IF_ERROR(run.ExpireUnwanted());
    return Ok();
  });
}

}  // namespace vmc::catcher
