// caster list create|ls|show|set|unset|import|export|delete
#include <iostream>

#include "caster/commands.h"
#include "caster/list_store.h"
#include "caster/settings.h"
#include "common/atomic_file.h"
#include "common/http.h"
#include "common/identifier.h"
#include "common/log.h"
#include "common/output.h"
#include "common/smime.h"

namespace vmc::caster {
namespace {

// A list file to import is at most this big (as a fetched list, DESIGN.md 5).
constexpr uint64_t kMaxImportBytes = kDefaultMaxListBytes;

Result<ListStore> OpenStore(const Invocation& inv) { return ListStore::Open(StoreDir(inv)); }

void ListArgument(po::options_description& o, po::positional_options_description& p) {
  o.add_options()("list", po::value<std::string>()->required(), "the list's identifier");
  p.add("list", 1);
}

Status Create(const Invocation& inv) {
  NewListFields fields;
  if (auto id = inv.Find<std::string>("identifier")) {
    fields.identifier = *id;
  } else {
    VMC_ASSIGN_OR_RETURN(fields.identifier, NewUuid());
  }
  fields.title = inv.Get<std::string>("title");
  fields.description = inv.Get<std::string>("description");
  fields.source = inv.Get<std::string>("source");
  fields.uri = inv.Get<std::string>("uri");
  const int lifetime = inv.Get<int>("lifetime");
  if (lifetime < 1) {
    return Error(ErrorCode::kUsage,
                 "--lifetime must be at least 1 day, not " + std::to_string(lifetime));
  }
  VMC_ASSIGN_OR_RETURN(const ImageList list, ImageList::Create(fields));
  VMC_ASSIGN_OR_RETURN(ListStore store, OpenStore(inv));
  ListMeta meta;
  meta.lifetime_days = lifetime;
  VMC_RETURN_IF_ERROR(store.Insert(list, meta, false));
  if (inv.json) {
    rapidjson::StringBuffer b;
    JsonWriter w(b);
    w.StartObject();
    Field(w, "identifier", fields.identifier);
    w.EndObject();
    *inv.out << b.GetString() << "\n";
  } else {
    *inv.out << fields.identifier << "\n";
  }
  return Ok();
}

Status Ls(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(ListStore store, OpenStore(inv));
  VMC_ASSIGN_OR_RETURN(const auto ids, store.Identifiers());
  rapidjson::StringBuffer b;
  JsonWriter w(b);
  w.StartArray();
  std::vector<std::vector<std::string>> rows = {{"IDENTIFIER", "VERSION", "IMAGES", "TITLE"}};
  for (const auto& id : ids) {
    VMC_ASSIGN_OR_RETURN(const StoredList stored, store.Load(id));
    const auto& l = stored.list;
    w.StartObject();
    Field(w, "identifier", id);
    Field(w, "version", l.version());
    Field(w, "title", l.title());
    Field(w, "uri", l.uri());
    Field(w, "images", l.image_count());
    Field(w, "signed_version", stored.meta.signed_version);
    w.EndObject();
    rows.push_back(
        {id, l.version().empty() ? "-" : l.version(), std::to_string(l.image_count()), l.title()});
  }
  w.EndArray();
  if (inv.json) {
    *inv.out << b.GetString() << "\n";
  } else {
    PrintTable(*inv.out, rows);
  }
  return Ok();
}

// The keys Show() names in words of its own.
const std::set<std::string> kShownKeys = {
    "dc:identifier", "dc:title",        "dc:description",  "dc:source",   "hv:uri",
    "hv:version",    "dc:date:created", "dc:date:expires", "hv:endorser", "hv:images"};

Status Show(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(ListStore store, OpenStore(inv));
  VMC_ASSIGN_OR_RETURN(const StoredList stored, store.Load(inv.Get<std::string>("list")));
  const ImageList& l = stored.list;
  if (inv.json) {
    *inv.out << l.Write();
    return Ok();
  }
  auto created = l.created(), expires = l.expires();
  std::vector<std::vector<std::string>> rows = {
      {"identifier", l.identifier()},
      {"title", l.title()},
      {"description", l.description()},
      {"source", l.source()},
      {"uri", l.uri()},
      {"version", l.version()},
      {"created", created ? FormatDate(*created) : "-"},
      {"expires", expires ? FormatDate(*expires) : "-"},
      {"lifetime", std::to_string(stored.meta.lifetime_days) + " days"},
      {"signed version", stored.meta.signed_version.empty() ? "-" : stored.meta.signed_version},
  };
  if (auto e = l.endorser()) rows.push_back({"endorser", e->dn + " (issuer " + e->ca + ")"});
  // Every other key, as `list set` set it (ad:*, unknown ones), by its name.
  const auto wrapped = l.json().FindMember("hv:imagelist");
  if (wrapped != l.json().MemberEnd() && wrapped->value.IsObject()) {
    for (const auto& m : wrapped->value.GetObject()) {
      const std::string key(m.name.GetString(), m.name.GetStringLength());
      if (kShownKeys.contains(key)) continue;
      rows.push_back({EscapeForLog(key), EscapeForLog(l.Get(key).value_or(""))});
    }
  }
  rows.push_back({"images", std::to_string(l.image_count())});
  PrintTable(*inv.out, rows);
  for (const auto& image : l.images()) {
    *inv.out << "  " << EscapeForLog(image.identifier()) << "  " << image.size() << " bytes  "
             << EscapeForLog(image.title()) << "  " << EscapeForLog(image.uri()) << "\n";
  }
  return Ok();
}

Status SetKey(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(ListStore store, OpenStore(inv));
  const auto key = inv.Get<std::string>("key");
  const auto value = inv.Get<std::string>("value");
  const bool json = inv.Has("json-value");
  return store.Edit(inv.Get<std::string>("list"), [&](ImageList& list, ListMeta&) {
    return json ? list.SetJson(key, value) : list.Set(key, value);
  });
}

Status UnsetKey(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(ListStore store, OpenStore(inv));
  const auto key = inv.Get<std::string>("key");
  return store.Edit(inv.Get<std::string>("list"),
                    [&](ImageList& list, ListMeta&) { return list.Unset(key); });
}

bool LooksSigned(std::string_view text) {
  const std::string_view head = text.substr(0, 4096);
  return head.find("multipart/signed") != std::string_view::npos ||
         head.find("MIME-Version:") != std::string_view::npos;
}

// The imported list's lifetime: the span it was signed for, else the default.
int LifetimeOf(const ImageList& list) {
  const auto created = list.created(), expires = list.expires();
  if (!created || !expires || *expires <= *created) return kDefaultLifetimeDays;
  const auto days = std::chrono::duration_cast<std::chrono::days>(*expires - *created).count();
  return days < 1 ? 1 : static_cast<int>(days);
}

Status Import(const Invocation& inv) {
  const std::string file = inv.Get<std::string>("file");
  VMC_ASSIGN_OR_RETURN(const std::string text, ReadFileCapped(file, kMaxImportBytes));
  // Refusals name the file: the messages below name only the fault.
  auto in_file = [&file](Error error) {
    return std::move(error).Prefix(file + ": ").With("file", file);
  };
  std::string json = text;
  if (LooksSigned(text)) {
    // Imported, not trusted: the signature must be intact (a damaged file is
    // refused), but who signed it does not matter here.
    auto message = VerifySmime(text);
    if (!message.ok()) return in_file(std::move(message).error());
    json = std::move(message->content);
  }
  std::vector<std::string> warnings;
  auto parsed = ImageList::ParseDraft(json, &warnings);
  if (!parsed.ok()) return in_file(std::move(parsed).error());
  ImageList list = std::move(parsed).value();
  for (const auto& w : warnings) LogWarning(w);
  ListMeta meta;
  meta.lifetime_days = inv.Find<int>("lifetime").value_or(LifetimeOf(list));
  // A list that was signed before keeps its version as the floor for the next.
  if (list.created()) meta.signed_version = list.version();
  VMC_ASSIGN_OR_RETURN(ListStore store, OpenStore(inv));
  VMC_RETURN_IF_ERROR(store.Insert(list, meta, inv.Has("replace")));
  if (inv.json) {
    rapidjson::StringBuffer b;
    JsonWriter w(b);
    w.StartObject();
    Field(w, "identifier", list.identifier());
    Field(w, "images", list.image_count());
    w.EndObject();
    *inv.out << b.GetString() << "\n";
  } else {
    *inv.out << list.identifier() << "\n";
  }
  return Ok();
}

Status Export(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(ListStore store, OpenStore(inv));
  VMC_ASSIGN_OR_RETURN(const StoredList stored, store.Load(inv.Get<std::string>("list")));
  const std::string json = stored.list.Write();
  if (auto out = inv.Find<std::string>("output")) return WriteFileAtomically(*out, json);
  *inv.out << json;
  return Ok();
}

Status Delete(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(ListStore store, OpenStore(inv));
  return store.Delete(inv.Get<std::string>("list"));
}

}  // namespace

void AddListCommands(CommandLine& cli) {
  cli.Add({{"list", "create"},
           "create a list; prints its identifier",
           "",
           "Creates an unsigned list in the store. `sign` or `publish` adds the version, dates "
           "and endorser.",
           [](po::options_description& o, po::positional_options_description&) {
             o.add_options()                                                              //
                 ("title", po::value<std::string>()->required(), "dc:title")              //
                 ("description", po::value<std::string>()->required(), "dc:description")  //
                 ("source", po::value<std::string>()->required(), "dc:source")            //
                 ("uri", po::value<std::string>()->required(),
                  "hv:uri: where the signed list will be published")                              //
                 ("identifier", po::value<std::string>(), "dc:identifier (default: a new UUID)")  //
                 ("lifetime", po::value<int>()->default_value(kDefaultLifetimeDays),
                  "days a signature stays valid");
           },
           Create});
  cli.Add({{"list", "ls"}, "list the lists in the store", "", "", nullptr, Ls});
  cli.Add({{"list", "show"},
           "show a list (--json: the list document)",
           "LIST",
           "",
           ListArgument,
           Show});
  cli.Add({{"list", "set"},
           "set a key of a list (any key, ad:* and unknown ones too)",
           "LIST KEY VALUE",
           "Typed keys (dates, sizes, identifiers, checksums) are checked. With --json-value, "
           "VALUE is a JSON value.",
           [](po::options_description& o, po::positional_options_description& p) {
             ListArgument(o, p);
             o.add_options()("key", po::value<std::string>()->required(), "the key")(
                 "value", po::value<std::string>()->required(), "the value")(
                 "json-value", "VALUE is JSON (number, object, ...), not text");
             p.add("key", 1).add("value", 1);
           },
           SetKey});
  cli.Add({{"list", "unset"},
           "remove a key from a list",
           "LIST KEY",
           "",
           [](po::options_description& o, po::positional_options_description& p) {
             ListArgument(o, p);
             o.add_options()("key", po::value<std::string>()->required(), "the key");
             p.add("key", 1);
           },
           UnsetKey});
  cli.Add({{"list", "import"},
           "import a list from a JSON or signed file (imported, not trusted)",
           "FILE",
           "",
           [](po::options_description& o, po::positional_options_description& p) {
             o.add_options()("file", po::value<std::string>()->required(), "the file")(
                 "replace", "replace a list with the same identifier")(
                 "lifetime", po::value<int>(), "days a signature stays valid");
             p.add("file", 1);
           },
           Import});
  cli.Add({{"list", "export"},
           "write a list's unsigned JSON",
           "LIST",
           "",
           [](po::options_description& o, po::positional_options_description& p) {
             ListArgument(o, p);
             o.add_options()("output,o", po::value<std::string>(), "file (default: stdout)");
           },
           Export});
  cli.Add({{"list", "delete"}, "delete a list from the store", "LIST", "", ListArgument, Delete});
}

}  // namespace vmc::caster
