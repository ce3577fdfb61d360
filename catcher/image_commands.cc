// catcher images | image accept | image refuse
#include "catcher/commands.h"
#include "catcher/context.h"
#include "catcher/cycle.h"
#include "catcher/inventory.h"
#include "common/identifier.h"
#include "common/log.h"
#include "common/output.h"

namespace vmc::catcher {
namespace {

void WriteImage(JsonWriter& w, const InventoryImage& item, const Image& image) {
  w.StartObject();
  Field(w, "subscription", item.subscription);
  Field(w, "list", item.list_identifier);
  Field(w, "list_version", item.list_version);
  Field(w, "identifier", image.identifier());
  Field(w, "title", image.title());
  Field(w, "version", image.version());
  Field(w, "uri", image.uri());
  Field(w, "size", image.size());
  Field(w, "sha512", image.sha512());
  Field(w, "state", InventoryStateName(item.state));
  Field(w, "reason", item.reason);
  // The format of record once the bytes were inspected; the refusal's code.
  Field(w, "format", item.format);
  Field(w, "refusal", item.refusal_code ? ErrorCodeName(*item.refusal_code) : "");
  // The file the site is given: the image's bytes, or their conversion.
  Field(w, "file_format", item.file_format);
  Field(w, "file_sha512", item.file_sha512);
  Field(w, "selection", ImageStateName(item.decision.state));
  w.Key("new");
  w.Bool(item.is_new);
  Field(w, "vo", image.vo());
  Field(w, "mpuri", image.mpuri());
  const auto expires = image.expires();
  Field(w, "expires", expires ? FormatDate(*expires) : "");
  // Every key of the image as the list has it (ad:*, unknown keys, string
  // numbers), for handlers and scripts.
  w.Key("metadata");
  image.json().Accept(w);
  w.EndObject();
}

Status Images(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(Context ctx, OpenContext(inv));
  Cycle cycle = Cycle::Observe(ctx, SystemClock());
  VMC_ASSIGN_OR_RETURN(const Inventory inventory, cycle.TakeInventory());
  cycle.LogWork();
  rapidjson::StringBuffer b;
  JsonWriter w(b);
  w.StartArray();
  std::vector<std::vector<std::string>> rows = {
      {"IMAGE", "STATE", "SUBSCRIPTION", "SIZE", "TITLE", "REASON"}};
  for (const auto& item : inventory.images) {
    const Image& image = inventory.lists[item.list_index].list.image(item.index);
    WriteImage(w, item, image);
    rows.push_back({image.identifier(), std::string(InventoryStateName(item.state)),
                    item.subscription, std::to_string(image.size()), image.title(), item.reason});
  }
  w.EndArray();
  if (inv.json) {
    *inv.out << b.GetString() << "\n";
  } else {
    PrintTable(*inv.out, rows);
  }
  return Ok();
}

Status Choose(const Invocation& inv, AdminChoice choice) {
  VMC_ASSIGN_OR_RETURN(Context ctx, OpenContext(inv));
  const std::string image = inv.Get<std::string>("image");
  VMC_RETURN_IF_ERROR(ValidateIdentifier(image));
  Cycle cycle = Cycle::Observe(ctx, SystemClock());
  VMC_ASSIGN_OR_RETURN(const Inventory inventory, cycle.TakeInventory());
  cycle.LogWork();
  bool known = false;
  for (const auto& item : inventory.images) {
    known = known || inventory.lists[item.list_index].list.image(item.index).identifier() == image;
  }
  if (!known) {
    LogWarning("no subscribed list has an image " + image +
               " yet; the choice applies when one does");
  }
  VMC_RETURN_IF_ERROR(ctx.state.SetChoice(image, choice));
  if (!inv.json) {
    *inv.out << (choice == AdminChoice::kAccepted ? "accepted " : "refused ") << image << "\n";
  }
  return Ok();
}

void ImageArgument(po::options_description& o, po::positional_options_description& p) {
  o.add_options()("image", po::value<std::string>()->required(), "the image's identifier");
  p.add("image", 1);
}

}  // namespace

void AddImageCommands(CommandLine& cli) {
  cli.Add({{"images"},
           "list every image of the subscribed lists with its state and the reason",
           "",
           "States: denied, expired, cached, wanted, available (in a current list, not selected), "
           "conflict (its identifier is another subscription's), refused (its bytes are not the "
           "declared format or not a safe disk image).",
           nullptr,
           Images});
  cli.Add({{"image", "accept"},
           "want an image whatever its subscription selects (deny rules still win)",
           "IMAGE",
           "",
           ImageArgument,
           [](const Invocation& inv) { return Choose(inv, AdminChoice::kAccepted); }});
  cli.Add({{"image", "refuse"},
           "never want an image",
           "IMAGE",
           "",
           ImageArgument,
           [](const Invocation& inv) { return Choose(inv, AdminChoice::kRefused); }});
}

}  // namespace vmc::catcher
