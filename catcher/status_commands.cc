// catcher status [--json | --prometheus] | export --format json|opennebula
#include <openssl/evp.h>
#include <sys/statvfs.h>

#include <map>

#include "catcher/cache_layout.h"
#include "catcher/commands.h"
#include "catcher/context.h"
#include "catcher/cycle.h"
#include "catcher/inventory.h"
#include "common/log.h"
#include "common/output.h"

namespace vmc::catcher {
namespace {

namespace fs = std::filesystem;

struct CacheFigures {
  std::uint64_t bytes = 0;
  std::uint64_t files = 0;
  std::uint64_t free_bytes = 0;
  std::uint64_t total_bytes = 0;
};

CacheFigures Figures(const CacheLayout& layout) {
  CacheFigures f;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(layout.content, ec)) {
    if (!e.is_regular_file(ec)) continue;
    f.bytes += e.file_size(ec);
    ++f.files;
  }
  struct statvfs vfs {};
  const fs::path where = fs::exists(layout.cache) ? layout.cache : layout.cache.parent_path();
  if (statvfs(where.c_str(), &vfs) == 0) {
    f.free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    f.total_bytes = static_cast<std::uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  }
  return f;
}

// Prometheus label values: backslash, quote and newline escaped.
std::string Label(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

struct Snapshot {
  Context ctx;
  Inventory inventory;
  std::map<std::string, std::optional<AttemptRecord>> attempts;
  std::map<std::string, std::optional<AcceptedList>> lists;
  CacheFigures cache;
};

Result<Snapshot> TakeSnapshot(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(Context ctx, OpenContext(inv));
  Cycle cycle = Cycle::Observe(ctx, SystemClock());
  VMC_ASSIGN_OR_RETURN(Inventory inventory, cycle.TakeInventory());
  cycle.LogWork();
  std::map<std::string, std::optional<AttemptRecord>> attempts;
  std::map<std::string, std::optional<AcceptedList>> lists;
  for (const auto& sub : ctx.subscriptions) {
    VMC_ASSIGN_OR_RETURN(attempts[sub.name], ctx.state.LastAttempt(sub.name));
    VMC_ASSIGN_OR_RETURN(lists[sub.name], ctx.state.CurrentList(sub.name));
  }
  const CacheFigures figures = Figures(CacheLayout(ctx.settings.state_dir));
  return Snapshot{std::move(ctx), std::move(inventory), std::move(attempts), std::move(lists),
                  figures};
}

void PrintPrometheus(const Snapshot& s, std::ostream& out) {
  out << "# HELP catcher_subscription_last_update_timestamp_seconds When the last update ran.\n"
         "# TYPE catcher_subscription_last_update_timestamp_seconds gauge\n";
  for (const auto& sub : s.ctx.subscriptions) {
    const auto& a = s.attempts.at(sub.name);
    if (a) {
      out << "catcher_subscription_last_update_timestamp_seconds{subscription=\"" << Label(sub.name)
          << "\"} " << a->at.time_since_epoch().count() << "\n";
    }
  }
  // One series per subscription: a label holding the result would start a
  // new series at every change of it, and end the old one without a value
  // an alert could see. Why it failed is `catcher status`'s to say.
  out << "# HELP catcher_subscription_up Whether the last update succeeded (1) or failed (0).\n"
         "# TYPE catcher_subscription_up gauge\n";
  for (const auto& sub : s.ctx.subscriptions) {
    const auto& a = s.attempts.at(sub.name);
    const bool up = a && (a->result == "updated" || a->result == "unchanged");
    out << "catcher_subscription_up{subscription=\"" << Label(sub.name) << "\"} " << (up ? 1 : 0)
        << "\n";
  }
  // A frozen feed (a server replaying an old list, or serving nothing new
  // that still verifies) shows here first: alert when it lags.
  out << "# HELP catcher_subscription_last_verified_timestamp_seconds When an update last judged "
         "the subscription's list current (accepted, or a 304 judged again).\n"
         "# TYPE catcher_subscription_last_verified_timestamp_seconds gauge\n";
  for (const auto& sub : s.ctx.subscriptions) {
    const auto& l = s.lists.at(sub.name);
    if (l) {
      out << "catcher_subscription_last_verified_timestamp_seconds{subscription=\""
          << Label(sub.name) << "\"} " << l->fetched_at.time_since_epoch().count() << "\n";
    }
  }
  out << "# HELP catcher_list_expiry_timestamp_seconds When the accepted list expires.\n"
         "# TYPE catcher_list_expiry_timestamp_seconds gauge\n";
  for (const auto& sub : s.ctx.subscriptions) {
    const auto& l = s.lists.at(sub.name);
    if (l) {
      out << "catcher_list_expiry_timestamp_seconds{subscription=\"" << Label(sub.name)
          << "\",version=\"" << Label(l->version) << "\"} " << l->expires.time_since_epoch().count()
          << "\n";
    }
  }
  std::map<std::string, int> by_state;
  for (const auto& i : s.inventory.images) ++by_state[std::string(InventoryStateName(i.state))];
  out << "# HELP catcher_images Images of the subscribed lists by state.\n"
         "# TYPE catcher_images gauge\n";
  for (const char* state :
       {"cached", "wanted", "available", "expired", "denied", "conflict", "refused"}) {
    out << "catcher_images{state=\"" << state << "\"} " << by_state[state] << "\n";
  }
  int converted = 0;
  for (const auto& i : s.inventory.images) {
    const Image& image = s.inventory.lists[i.list_index].list.image(i.index);
    if (i.state == InventoryState::kCached && !i.file_sha512.empty() &&
        i.file_sha512 != image.sha512()) {
      ++converted;
    }
  }
  out << "# HELP catcher_images_converted Cached images given to the site as a conversion of "
         "their bytes to a format it takes.\n"
         "# TYPE catcher_images_converted gauge\n"
      << "catcher_images_converted " << converted << "\n";
  out << "# HELP catcher_cache_bytes Bytes in the image cache.\n"
         "# TYPE catcher_cache_bytes gauge\n"
      << "catcher_cache_bytes " << s.cache.bytes << "\n"
      << "# HELP catcher_cache_files Files in the image cache.\n"
         "# TYPE catcher_cache_files gauge\n"
      << "catcher_cache_files " << s.cache.files << "\n"
      << "# HELP catcher_cache_free_bytes Free bytes on the cache's filesystem.\n"
         "# TYPE catcher_cache_free_bytes gauge\n"
      << "catcher_cache_free_bytes " << s.cache.free_bytes << "\n";
}

void PrintJson(const Snapshot& s, std::ostream& out) {
  rapidjson::StringBuffer b;
  JsonWriter w(b);
  w.StartObject();
  w.Key("subscriptions");
  w.StartArray();
  for (const auto& sub : s.ctx.subscriptions) {
    const auto& a = s.attempts.at(sub.name);
    const auto& l = s.lists.at(sub.name);
    w.StartObject();
    Field(w, "name", sub.name);
    Field(w, "origin", OriginName(sub.origin));
    Field(w, "last_update", a ? FormatDate(a->at) : "");
    Field(w, "result", a ? a->result : "never updated");
    Field(w, "message", a ? a->message : "");
    Field(w, "version", l ? l->version : "");
    Field(w, "expires", l ? FormatDate(l->expires) : "");
    w.EndObject();
  }
  w.EndArray();
  w.Key("images");
  w.StartArray();
  for (const auto& i : s.inventory.images) {
    w.StartObject();
    Field(w, "identifier", s.inventory.lists[i.list_index].list.image(i.index).identifier());
    Field(w, "subscription", i.subscription);
    Field(w, "state", InventoryStateName(i.state));
    Field(w, "reason", i.reason);
    // The chain from the endorsed bytes to the file the site is given.
    Field(w, "format", i.format);
    Field(w, "file_format", i.file_format);
    Field(w, "file_sha512", i.file_sha512);
    w.EndObject();
  }
  w.EndArray();
  w.Key("cache");
  w.StartObject();
  Field(w, "bytes", s.cache.bytes);
  Field(w, "files", s.cache.files);
  Field(w, "free_bytes", s.cache.free_bytes);
  w.EndObject();
  w.EndObject();
  out << b.GetString() << "\n";
}

void PrintHuman(const Snapshot& s, std::ostream& out) {
  std::vector<std::vector<std::string>> rows = {
      {"SUBSCRIPTION", "VERSION", "LAST UPDATE", "RESULT", "LIST EXPIRES"}};
  std::vector<std::string> errors;
  for (const auto& sub : s.ctx.subscriptions) {
    const auto& a = s.attempts.at(sub.name);
    const auto& l = s.lists.at(sub.name);
    rows.push_back({sub.name, l ? l->version : "-", a ? FormatDate(a->at) : "-",
                    a ? a->result : "never updated", l ? FormatDate(l->expires) : "-"});
    if (a && !a->message.empty()) errors.push_back(a->message);
  }
  PrintTable(out, rows);
  std::map<std::string, int> by_state;
  for (const auto& i : s.inventory.images) ++by_state[std::string(InventoryStateName(i.state))];
  out << "\nimages:";
  for (const auto& [state, n] : by_state) out << " " << state << " " << n;
  out << "\ncache: " << s.cache.files << " files, " << s.cache.bytes << " bytes, "
      << s.cache.free_bytes << " bytes free\n";
  if (!errors.empty()) {
    out << "\nlast errors:\n";
    for (const auto& e : errors) out << "  " << EscapeForLog(e) << "\n";
  }
}

Status StatusCommand(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(const Snapshot s, TakeSnapshot(inv));
  if (inv.Has("prometheus")) {
    PrintPrometheus(s, *inv.out);
  } else if (inv.json) {
    PrintJson(s, *inv.out);
  } else {
    PrintHuman(s, *inv.out);
  }
  return Ok();
}

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

// An OpenNebula template value: double quotes and backslashes escaped.
std::string Quoted(std::string_view v) {
  std::string out = "\"";
  for (const char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

void ExportOpenNebula(const Snapshot& s, std::ostream& out) {
  const CacheLayout layout(s.ctx.settings.state_dir);
  const std::uint64_t mb = 1024 * 1024;
  out << "TOTAL_MB=" << s.cache.total_bytes / mb << "\n"
      << "USED_MB=" << s.cache.bytes / mb << "\n"
      << "FREE_MB=" << s.cache.free_bytes / mb << "\n";
  for (const auto& i : s.inventory.images) {
    if (i.state != InventoryState::kCached) continue;
    const ImageList& list = s.inventory.lists[i.list_index].list;
    const Image& image = list.image(i.index);
    const auto endorser = list.endorser();
    std::string t;
    t += "NAME=" + Quoted(image.title().empty() ? image.identifier() : image.title()) + "\n";
    t += "SOURCE=" + Quoted(layout.ViewFile(image.identifier()).string()) + "\n";
    t += "IMPORT_ID=" + Quoted(image.identifier()) + "\n";
    t += "ORIGIN_ID=\"-1\"\nTYPE=\"IMAGE\"\n";
    t += "PUBLISHER=" + Quoted(endorser ? endorser->dn : list.source()) + "\n";
    t += "FORMAT=" + Quoted(i.file_format.empty() ? image.format() : i.file_format) + "\n";
    t += "DESCRIPTION=" + Quoted(image.description()) + "\n";
    t += "VERSION=" + Quoted(image.version()) + "\n";
    t += "SIZE=" + Quoted(std::to_string((image.size() + mb - 1) / mb)) + "\n";
    t += "SHA512=" + Quoted(image.sha512()) + "\n";
    t += "TAGS=" + Quoted(image.os() + (image.osversion().empty() ? "" : " " + image.osversion())) +
         "\n";
    out << "APP=\"" << Base64(t) << "\"\n";
  }
}

void ExportJson(const Snapshot& s, std::ostream& out) {
  const CacheLayout layout(s.ctx.settings.state_dir);
  rapidjson::StringBuffer b;
  JsonWriter w(b);
  w.StartArray();
  for (const auto& i : s.inventory.images) {
    if (i.state != InventoryState::kCached) continue;
    const ImageList& list = s.inventory.lists[i.list_index].list;
    const Image& image = list.image(i.index);
    w.StartObject();
    Field(w, "identifier", image.identifier());
    Field(w, "path", layout.ViewFile(image.identifier()).string());
    Field(w, "sha512", image.sha512());
    Field(w, "size", image.size());
    Field(w, "title", image.title());
    Field(w, "version", image.version());
    // The format of the file, as inspected; hv:format for an image cached
    // before inspections were kept.
    Field(w, "format", i.file_format.empty() ? image.format() : i.file_format);
    // The chain from the endorsed bytes (sha512) to the file at `path`.
    Field(w, "file_sha512", i.file_sha512.empty() ? image.sha512() : i.file_sha512);
    Field(w, "subscription", i.subscription);
    Field(w, "list", list.identifier());
    Field(w, "vo", image.vo());
    w.EndObject();
  }
  w.EndArray();
  out << b.GetString() << "\n";
}

Status ExportCommand(const Invocation& inv) {
  const std::string format = inv.Get<std::string>("format");
  if (format != "json" && format != "opennebula") {
    return Error(ErrorCode::kUsage, "--format takes json or opennebula, not " + format);
  }
  VMC_ASSIGN_OR_RETURN(const Snapshot s, TakeSnapshot(inv));
  if (format == "json") {
    ExportJson(s, *inv.out);
  } else {
    ExportOpenNebula(s, *inv.out);
  }
  return Ok();
}

}  // namespace

void AddStatusCommands(CommandLine& cli) {
  cli.Add({{"status"},
           "subscriptions, images by state, cache figures and last errors",
           "[--json | --prometheus]",
           "--prometheus prints node_exporter's textfile format.",
           [](po::options_description& o, po::positional_options_description&) {
             o.add_options()("prometheus", "node_exporter textfile format");
           },
           StatusCommand});
  cli.Add({{"export"},
           "the cached images: a JSON index, or an OpenNebula marketplace monitor report",
           "--format json|opennebula",
           "",
           [](po::options_description& o, po::positional_options_description&) {
             o.add_options()("format", po::value<std::string>()->default_value("json"),
                             "json or opennebula");
           },
           ExportCommand});
}

}  // namespace vmc::catcher
