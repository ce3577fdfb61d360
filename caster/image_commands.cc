// caster image add|ls|set|unset|remove
#include <filesystem>

#include "caster/commands.h"
#include "caster/list_store.h"
#include "caster/measure.h"
#include "caster/settings.h"
#include "common/credentials.h"
#include "common/identifier.h"
#include "common/output.h"

namespace vmc::caster {
namespace {

Result<ListStore> OpenStore(const Invocation& inv) { return ListStore::Open(StoreDir(inv)); }

void ListAndImage(po::options_description& o, po::positional_options_description& p) {
  o.add_options()("list", po::value<std::string>()->required(), "the list's identifier")(
      "image", po::value<std::string>()->required(), "the image's identifier");
  p.add("list", 1).add("image", 1);
}

void KeyValue(po::options_description& o, po::positional_options_description& p) {
  o.add_options()("key", po::value<std::string>()->required(), "the key")(
      "value", po::value<std::string>()->required(), "the value")(
      "json-value", "VALUE is JSON (number, object, ...), not text");
  p.add("key", 1).add("value", 1);
}

Result<FileDigest> Measure(const Invocation& inv, const std::string& uri) {
  const bool file = inv.Has("file"), fetch = inv.Has("fetch");
  if (file == fetch) {
    return Error(ErrorCode::kUsage, "give exactly one of --file PATH and --fetch");
  }
  if (file) return MeasureFile(inv.Get<std::string>("file"));
  HttpOptions options;
  if (auto ca = inv.Find<std::string>("ca-dir")) options.ca_dir = *ca;
  VMC_ASSIGN_OR_RETURN(HttpClient client, HttpClient::Create(options));
  Credentials credentials;
  if (auto f = inv.Find<std::string>("credentials-file")) {
    VMC_ASSIGN_OR_RETURN(credentials, LoadCredentials(*f));
  }
  return MeasureUrl(client, uri, credentials);
}

// "KEY=VALUE" -> (KEY, VALUE). The keys `image add` sets itself are refused:
// a --set would silently replace the measured size and checksum, or rename
// the image away from the local file recorded for it.
Result<std::pair<std::string, std::string>> SplitAssignment(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return Error(ErrorCode::kUsage, "--set takes KEY=VALUE, not \"" + text + "\"");
  }
  std::string key = text.substr(0, eq);
  for (const auto& [own, instead] :
       {std::pair<const char*, const char*>{"dc:identifier", "use --identifier"},
        {"hv:uri", "use --uri"},
        {"hv:size", "it is measured"},
        {"sl:checksum:sha512", "it is measured"}}) {
    if (key == own) {
      return Error(ErrorCode::kUsage,
                   "--set cannot set " + key + " when adding an image: " + instead);
    }
  }
  return std::make_pair(std::move(key), text.substr(eq + 1));
}

Status Add(const Invocation& inv) {
  const std::string list_id = inv.Get<std::string>("list");
  NewImageFields fields;
  fields.uri = inv.Get<std::string>("uri");
  fields.title = inv.Find<std::string>("title").value_or("");
  if (auto id = inv.Find<std::string>("identifier")) {
    fields.identifier = *id;
  } else {
    VMC_ASSIGN_OR_RETURN(fields.identifier, NewUuid());
  }
  std::vector<std::pair<std::string, std::string>> assignments;
  for (const auto& s :
       inv.Find<std::vector<std::string>>("set").value_or(std::vector<std::string>{})) {
    VMC_ASSIGN_OR_RETURN(auto kv, SplitAssignment(s));
    assignments.push_back(std::move(kv));
  }
  VMC_ASSIGN_OR_RETURN(ListStore store, OpenStore(inv));
  // Fail on a missing list before measuring a large image.
  VMC_RETURN_IF_ERROR(store.Load(list_id));
  VMC_ASSIGN_OR_RETURN(const FileDigest digest, Measure(inv, fields.uri));
  fields.size = digest.size;
  fields.sha512 = digest.sha512_hex;
  std::optional<std::string> file;
  if (inv.Has("file")) file = std::filesystem::absolute(inv.Get<std::string>("file")).string();
  VMC_RETURN_IF_ERROR(store.Edit(list_id, [&](ImageList& list, ListMeta& meta) -> Status {
    VMC_RETURN_IF_ERROR(list.AddImage(fields));
    for (const auto& [key, value] : assignments) {
      VMC_RETURN_IF_ERROR(list.SetImage(fields.identifier, key, value));
    }
    if (file) meta.image_files[fields.identifier] = *file;
    return Ok();
  }));
  if (inv.json) {
    rapidjson::StringBuffer b;
    JsonWriter w(b);
    w.StartObject();
    Field(w, "identifier", fields.identifier);
    Field(w, "size", digest.size);
    Field(w, "sha512", digest.sha512_hex);
    w.EndObject();
    *inv.out << b.GetString() << "\n";
  } else {
    *inv.out << fields.identifier << "\n";
  }
  return Ok();
}

Status Ls(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(ListStore store, OpenStore(inv));
  VMC_ASSIGN_OR_RETURN(const StoredList stored, store.Load(inv.Get<std::string>("list")));
  rapidjson::StringBuffer b;
  JsonWriter w(b);
  w.StartArray();
  std::vector<std::vector<std::string>> rows = {{"IDENTIFIER", "SIZE", "SHA512", "TITLE", "URI"}};
  for (const auto& image : stored.list.images()) {
    w.StartObject();
    Field(w, "identifier", image.identifier());
    Field(w, "title", image.title());
    Field(w, "uri", image.uri());
    Field(w, "size", image.size());
    Field(w, "sha512", image.sha512());
    Field(w, "version", image.version());
    w.EndObject();
    rows.push_back({image.identifier(), std::to_string(image.size()),
                    image.sha512().substr(0, 16) + "...", image.title(), image.uri()});
  }
  w.EndArray();
  if (inv.json) {
    *inv.out << b.GetString() << "\n";
  } else {
    PrintTable(*inv.out, rows);
  }
  return Ok();
}

Status Set(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(ListStore store, OpenStore(inv));
  const auto image = inv.Get<std::string>("image");
  const auto key = inv.Get<std::string>("key");
  const auto value = inv.Get<std::string>("value");
  const bool json = inv.Has("json-value");
  return store.Edit(inv.Get<std::string>("list"), [&](ImageList& list, ListMeta& meta) -> Status {
    VMC_RETURN_IF_ERROR(json ? list.SetImageJson(image, key, value)
                             : list.SetImage(image, key, value));
    // A new identifier carries its local file along.
    if (key == "dc:identifier" && meta.image_files.contains(image)) {
      meta.image_files[value] = meta.image_files[image];
      meta.image_files.erase(image);
    }
    return Ok();
  });
}

Status Unset(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(ListStore store, OpenStore(inv));
  const auto image = inv.Get<std::string>("image");
  const auto key = inv.Get<std::string>("key");
  return store.Edit(inv.Get<std::string>("list"),
                    [&](ImageList& list, ListMeta&) { return list.UnsetImage(image, key); });
}

Status Remove(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(ListStore store, OpenStore(inv));
  const auto image = inv.Get<std::string>("image");
  return store.Edit(inv.Get<std::string>("list"), [&](ImageList& list, ListMeta& meta) -> Status {
    VMC_RETURN_IF_ERROR(list.RemoveImage(image));
    meta.image_files.erase(image);
    return Ok();
  });
}

}  // namespace

void AddImageCommands(CommandLine& cli) {
  cli.Add({{"image", "add"},
           "add an image, measuring its SHA-512 and size; prints its identifier",
           "LIST --uri URL (--file PATH | --fetch)",
           "--file hashes a local copy in one pass; --fetch downloads URL and hashes it "
           "without keeping it.",
           [](po::options_description& o, po::positional_options_description& p) {
             o.add_options()                                                                      //
                 ("list", po::value<std::string>()->required(), "the list's identifier")          //
                 ("uri", po::value<std::string>()->required(), "hv:uri: where the image is")      //
                 ("file", po::value<std::string>(), "measure this local file")                    //
                 ("fetch", "measure by downloading --uri")                                        //
                 ("identifier", po::value<std::string>(), "dc:identifier (default: a new UUID)")  //
                 ("title", po::value<std::string>(), "dc:title")                                  //
                 ("set", po::value<std::vector<std::string>>()->composing(),
                  "KEY=VALUE: any other image key (repeatable)")                              //
                 ("ca-dir", po::value<std::string>(), "CA directory for HTTPS with --fetch")  //
                 ("credentials-file", po::value<std::string>(), "credentials for --fetch");
             p.add("list", 1);
           },
           Add});
  cli.Add({{"image", "ls"},
           "list a list's images",
           "LIST",
           "",
           [](po::options_description& o, po::positional_options_description& p) {
             o.add_options()("list", po::value<std::string>()->required(), "the list");
             p.add("list", 1);
           },
           Ls});
  cli.Add({{"image", "set"},
           "set a key of an image",
           "LIST IMAGE KEY VALUE",
           "",
           [](po::options_description& o, po::positional_options_description& p) {
             ListAndImage(o, p);
             KeyValue(o, p);
           },
           Set});
  cli.Add({{"image", "unset"},
           "remove a key from an image",
           "LIST IMAGE KEY",
           "",
           [](po::options_description& o, po::positional_options_description& p) {
             ListAndImage(o, p);
             o.add_options()("key", po::value<std::string>()->required(), "the key");
             p.add("key", 1);
           },
           Unset});
  cli.Add(
      {{"image", "remove"}, "remove an image from a list", "LIST IMAGE", "", ListAndImage, Remove});
}

}  // namespace vmc::caster
