#include "catcher/cache.h"

#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <set>

#include "catcher/claims.h"
#include "catcher/image_fetch.h"
#include "catcher/inventory.h"
#include "common/atomic_file.h"
#include "common/credentials.h"
#include "common/digest.h"
#include "common/identifier.h"
#include "common/log.h"

namespace vmc::catcher {
namespace {

namespace fs = std::filesystem;

bool IsSha512Name(const std::string& name) {
  if (name.size() != kSha512HexSize) return false;
  for (const char c : name) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

const ResolvedSubscription* FindSubscription(Context& ctx, const std::string& name) {
  for (const auto& s : ctx.subscriptions) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

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
    out.push_back({&item, &list, list.images()[item.index]});
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
fs::path LinkTemp(const fs::path& view) {
  return view.parent_path() / ("." + view.filename().string() + ".link");
}

bool IsLinkTemp(const std::string& name) {
  return name.size() > 6 && name[0] == '.' && name.ends_with(".link");
}

// Hard-links `content` as `view`, replacing any old view atomically.
Status Link(const fs::path& content, const fs::path& view) {
  // rename() of a hard link onto another link of the same file does nothing
  // and succeeds (POSIX), which would leave the temporary link behind.
  if (SameFile(content, view)) return Ok();
  const fs::path tmp = LinkTemp(view);
  unlink(tmp.c_str());
  if (link(content.c_str(), tmp.c_str()) != 0) return SystemError("link", tmp, errno);
  if (rename(tmp.c_str(), view.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return SystemError("rename onto", view, err);
  }
  return Ok();
}

Result<std::uint64_t> ContentBytes(const CacheLayout& layout) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(layout.content, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

class Availability {
 public:
  Availability(Context& ctx, const EventRunner& events, const CacheLayout& layout,
               const CacheOptions& options, CacheReport& report)
      : ctx_(ctx), events_(events), layout_(layout), options_(options), report_(report) {}

  Status Load() {
    VMC_ASSIGN_OR_RETURN(cached_, ctx_.state.Cached());
    return Ok();
  }

  // Makes one wanted image available under its identifier, or finishes a
  // due AvailablePostfix.
  Status Offer(const Entry& e) {
    const std::string id = e.image.identifier();
    const std::string sha = e.image.sha512();
    VMC_RETURN_IF_ERROR(ValidateIdentifier(id));
    const fs::path content = layout_.ContentFile(sha);
    const fs::path view = layout_.ViewFile(id);
    if (!fs::exists(content)) return Ok();  // not downloaded (its failure is reported)
    const auto claimed = claimed_.find(id);
    if (claimed != claimed_.end() && claimed->second != sha) {
      LogWarning("image " + id + " is named by two lists with different content; keeping the " +
                 "one of subscription " + claimed->second);
      return Ok();
    }
    claimed_[id] = sha;
    auto it = cached_.find(id);
    if (it != cached_.end() && it->second.sha512 == sha && SameFile(view, content)) {
      if (it->second.postfix_due) RunPostfix(id, it->second);
      return Ok();
    }
    if (it != cached_.end() && it->second.sha512 != sha) {
      // The identifier now names other content (a new image version).
      VMC_RETURN_IF_ERROR(ExpireOne(ctx_, events_, layout_, id, it->second, report_));
      cached_.erase(it);
    }
    const CacheDirectories dirs = EventDirectories(layout_);
    const Event prefix = ImageEvent("AvailablePrefix", *e.list, e.image, id, dirs);
    // The same content offered again (a damaged view) stays its owner's
    // (catcher/claims.h).
    const std::string owner = it != cached_.end() && it->second.sha512 == sha
                                  ? it->second.subscription
                                  : e.item->subscription;
    CachedImage record{sha, owner, prefix.variables, true, options_.now};
    // Recorded before the view appears: a crash from here on re-announces.
    VMC_RETURN_IF_ERROR(ctx_.state.PutCached(id, record));
    if (Status s = events_.Run(prefix); !s.ok()) report_.Fail(std::move(s).error());
    VMC_RETURN_IF_ERROR(Link(content, view));
    ++report_.made_available;
    RunPostfix(id, record);
    cached_[id] = record;
    return Ok();
  }

  static Status ExpireOne(Context& ctx, const EventRunner& events, const CacheLayout& layout,
                          const std::string& id, const CachedImage& record, CacheReport& report) {
    VMC_RETURN_IF_ERROR(ValidateIdentifier(id));
    if (Status s = events.Run(WithType(record.variables, "ExpirePrefix")); !s.ok()) {
      report.Fail(std::move(s).error());
    }
    const fs::path view = layout.ViewFile(id);
    const fs::path dest = layout.expired / id;
    if (fs::exists(view)) {
      // An older expired/<id> goes first: when it is a hard link of the same
      // file (the content stayed, wanted under another identifier), rename()
      // would do nothing, succeed, and leave the view in the cache.
      if (unlink(dest.c_str()) != 0 && errno != ENOENT) {
        return SystemError("remove the older", dest, errno);
      }
      if (rename(view.c_str(), dest.c_str()) != 0) {
        return SystemError("move to expired/", view, errno);
      }
    }
    if (Status s = events.Run(WithType(record.variables, "ExpirePostfix")); !s.ok()) {
      report.Fail(std::move(s).error());
    }
    VMC_RETURN_IF_ERROR(ctx.state.RemoveCached(id));
    ++report.expired;
    return Ok();
  }

 private:
  void RunPostfix(const std::string& id, CachedImage& record) {
    Status s = events_.Run(WithType(record.variables, "AvailablePostfix"));
    if (!s.ok()) {
      // Stays due: the next cache run retries it.
      report_.Fail(std::move(s).error());
      return;
    }
    record.postfix_due = false;
    if (Status put = ctx_.state.PutCached(id, record); !put.ok()) {
      report_.Fail(std::move(put).error());
    }
  }

  Context& ctx_;
  const EventRunner& events_;
  const CacheLayout& layout_;
  const CacheOptions& options_;
  CacheReport& report_;
  std::map<std::string, CachedImage> cached_;
  std::map<std::string, std::string> claimed_;  // identifier -> sha512 this run
};

// A file:// image only from a file:// list: a remote list must not make the
// catcher copy a local file into the world-readable cache (its endorser
// would only need the file's SHA-512, e.g. of a file it wants to confirm).
Status CheckImageScheme(const Image& image, const ResolvedSubscription* sub) {
  const std::string uri = image.uri();
  auto is_file = [](std::string_view url) {
    return url.size() >= 7 && strncasecmp(url.data(), "file://", 7) == 0;
  };
  if (!is_file(uri) || (sub != nullptr && is_file(sub->url))) return Ok();
  return Error(ErrorCode::kInvalidValue,
               "image " + image.identifier() + " names the local file " + uri +
                   ", which only a list read from a local file may do; not downloaded")
      .With("image", image.identifier())
      .With("url", uri);
}

// The downloads still needed, one per SHA-512, within the cache quota.
std::vector<FetchJob> PlanDownloads(Context& ctx, const CacheLayout& layout,
                                    const std::vector<Entry>& wanted, CacheReport& report) {
  std::vector<FetchJob> jobs;
  std::set<std::string> planned;
  std::uint64_t used = ContentBytes(layout).value();
  const auto quota = ctx.policy.limits.cache_quota_bytes;
  for (const auto& e : wanted) {
    const std::string sha = e.image.sha512();
    if (planned.count(sha) != 0 || fs::exists(layout.ContentFile(sha))) continue;
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
    if (Status s = CheckImageScheme(e.image, sub); !s.ok()) {
      report.Fail(std::move(s).error());
      continue;
    }
    used += e.image.size();
    FetchJob job;
    job.url = e.image.uri();
    job.sha512 = sha;
    job.size = e.image.size();
    job.label = e.image.identifier();
    if (sub != nullptr && !sub->credentials_file.empty()) {
      auto credentials = LoadCredentials(sub->credentials_file);
      if (!credentials.ok()) {
        report.Fail(std::move(credentials).error());
        continue;
      }
      job.credentials = std::move(credentials).value();
    }
    jobs.push_back(std::move(job));
  }
  return jobs;
}

Status PurgeExpired(const CacheLayout& layout, const Settings& settings, TimePoint now,
                    CacheReport& report) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(layout.expired, ec)) {
    struct stat st {};
    if (lstat(e.path().c_str(), &st) != 0) continue;
    const TimePoint changed{std::chrono::seconds{st.st_ctim.tv_sec}};
    if (now - changed < settings.expired_grace) continue;
    fs::remove_all(e.path(), ec);
    if (!ec) ++report.purged;
  }
  return Ok();
}

// Once the process is asked to stop, every transfer still running is aborted
// and none starts: their network errors are the stop's, not the server's.
bool StoppedBy(const CacheOptions& options, const Error& error) {
  return options.cancel != nullptr && options.cancel->load() && error.code() == ErrorCode::kNetwork;
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

Status WithProcessEvents(const CacheLayout& layout, const EventRunner& events, CacheReport& report,
                         const std::function<Status()>& steps) {
  const CacheDirectories dirs = EventDirectories(layout);
  if (Status s = events.Run(ProcessEvent("ProcessPrefix", dirs)); !s.ok()) {
    report.Fail(std::move(s).error());
  }
  Status result = steps();
  if (Status s = events.Run(ProcessEvent("ProcessPostfix", dirs)); !s.ok()) {
    report.Fail(std::move(s).error());
  }
  return result;
}

Status DownloadWanted(Context& ctx, const EventRunner& events, const CacheOptions& options,
                      CacheReport& report) {
  const CacheLayout layout(ctx.settings.state_dir);
  VMC_RETURN_IF_ERROR(layout.Create());
  VMC_ASSIGN_OR_RETURN(const Inventory inventory, BuildInventory(ctx, options.now));
  LogConflicts(inventory);
  const std::vector<Entry> wanted = WantedEntries(inventory);
  const std::vector<FetchJob> jobs = PlanDownloads(ctx, layout, wanted, report);
  FetchOptions fetch;
  fetch.http = HttpOptionsFor(ctx.settings);
  fetch.concurrency = options.downloads;
  fetch.cancel = options.cancel;
  const auto results = FetchAll(CacheDirsFor(layout), jobs, fetch);
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].ok()) {
      ++report.downloaded;
    } else if (StoppedBy(options, results[i].error())) {
      report.Interrupt(results[i].error());
    } else {
      report.Fail(results[i].error());
    }
  }
  Availability availability(ctx, events, layout, options, report);
  VMC_RETURN_IF_ERROR(availability.Load());
  for (const auto& e : wanted) {
    if (options.cancel != nullptr && options.cancel->load()) break;
    if (Status s = availability.Offer(e); !s.ok()) report.Fail(std::move(s).error());
  }
  return Ok();
}

Status ExpireUnwanted(Context& ctx, const EventRunner& events, const CacheOptions& options,
                      CacheReport& report) {
  const CacheLayout layout(ctx.settings.state_dir);
  VMC_RETURN_IF_ERROR(layout.Create());
  VMC_ASSIGN_OR_RETURN(const Inventory inventory, BuildInventory(ctx, options.now));
  std::map<std::string, std::string> wanted;  // identifier -> sha512
  std::set<std::string> wanted_content;
  for (const auto& e : WantedEntries(inventory)) {
    wanted.emplace(e.image.identifier(), e.image.sha512());
    wanted_content.insert(e.image.sha512());
  }
  VMC_ASSIGN_OR_RETURN(const auto cached, ctx.state.Cached());
  for (const auto& [id, record] : cached) {
    const auto w = wanted.find(id);
    if (w != wanted.end() && w->second == record.sha512) continue;
    if (Status s = Availability::ExpireOne(ctx, events, layout, id, record, report); !s.ok()) {
      report.Fail(std::move(s).error());
    }
  }
  // Temporary links of views that a crash left behind (see Link()).
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(layout.cache, ec)) {
    if (IsLinkTemp(e.path().filename().string())) fs::remove(e.path(), ec);
  }
  // Content no image wants any more: its views in expired/ keep the bytes
  // until they are purged; partial downloads of it are dropped.
  for (const auto& e : fs::directory_iterator(layout.content, ec)) {
    const std::string name = e.path().filename().string();
    if (wanted_content.count(name) == 0) fs::remove(e.path(), ec);
  }
  for (const auto& e : fs::directory_iterator(layout.partial, ec)) {
    const std::string name = e.path().filename().string();
    const std::string sha = name.substr(0, name.find('.'));
    if (wanted_content.count(sha) == 0) fs::remove(e.path(), ec);
  }
  return PurgeExpired(layout, ctx.settings, options.now, report);
}

Status CheckCache(Context& ctx, const EventRunner& events, CacheReport& report) {
  const CacheLayout layout(ctx.settings.state_dir);
  VMC_RETURN_IF_ERROR(layout.Create());
  VMC_ASSIGN_OR_RETURN(const auto cached, ctx.state.Cached());
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(layout.content, ec)) {
    const std::string name = e.path().filename().string();
    std::string why;
    if (!IsSha512Name(name)) {
      why = "is not named by a SHA-512";
    } else {
      auto digest = HashFile(e.path());
      if (!digest.ok()) {
        report.Fail(std::move(digest).error());
        continue;
      }
      if (digest->sha512_hex == name) continue;
      why = "has SHA-512 " + digest->sha512_hex;
    }
    // Every image made available from the corrupt file leaves the cache as
    // an expired one does: the handler that imported it hears ExpirePrefix
    // and ExpirePostfix, and its view goes to expired/. It is wanted again
    // and downloaded anew by the next cache run.
    for (const auto& [id, record] : cached) {
      if (record.sha512 != name) continue;
      if (Status s = Availability::ExpireOne(ctx, events, layout, id, record, report); !s.ok()) {
        report.Fail(std::move(s).error());
      }
    }
    const fs::path dest = layout.expired / ("corrupt-" + std::to_string(getpid()) + "-" + name);
    if (rename(e.path().c_str(), dest.c_str()) != 0) {
      report.Fail(SystemError("move out of the cache", e.path(), errno));
      continue;
    }
    report.Fail(Error(ErrorCode::kChecksumMismatch, "cached file " + e.path().string() + " " + why +
                                                        "; moved to " + dest.string())
                    .With("path", dest.string()));
  }
  return Ok();
}

}  // namespace vmc::catcher
