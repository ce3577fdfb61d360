#include "caster/list_store.h"

#include <compare>

#include "common/identifier.h"
#include "common/record_codec.h"
#include "common/version.h"

namespace vmc::caster {
namespace {

constexpr char kLists[] = "lists";
constexpr char kMeta[] = "meta";

Error NoSuchList(const std::string& identifier) {
  return Error(ErrorCode::kNotFound, "no list " + identifier + " in the store")
      .With("list", identifier);
}

Result<StoredList> Decode(const std::string& identifier, const std::string& list_json,
                          const std::optional<std::string>& meta_json) {
  auto list = ImageList::ParseDraft(list_json);
  if (!list.ok()) {
    return Error(ErrorCode::kStorage,
                 "list " + identifier + " in the store is damaged: " + list.error().message());
  }
  ListMeta meta;
  if (meta_json) {
    VMC_ASSIGN_OR_RETURN(meta, MetaFromJson(identifier, *meta_json));
  }
  return StoredList{std::move(list).value(), std::move(meta)};
}

}  // namespace

std::string MetaToJson(const ListMeta& meta) {
  RecordWriter w;
  w.Int("lifetime_days", meta.lifetime_days)
      .Str("signed_version", meta.signed_version)
      .StrMap("image_files", meta.image_files);
  return w.Finish();
}

Result<ListMeta> MetaFromJson(std::string_view identifier, std::string_view json) {
  RecordReader r({"caster", kMeta, std::string(identifier)}, json);
  ListMeta meta;
  meta.lifetime_days = r.Int("lifetime_days");
  meta.signed_version = r.Str("signed_version");
  meta.image_files = r.StrMap("image_files");
  VMC_RETURN_IF_ERROR(r.status());
  return meta;
}

Result<ListStore> ListStore::Open(const std::filesystem::path& dir) {
  StoreOptions options;
  options.databases = {kLists, kMeta};
  options.initial_map_size = std::size_t{16} << 20;
  VMC_ASSIGN_OR_RETURN(auto env, Environment::Open(dir, options));
  return ListStore(std::move(env));
}

Result<std::vector<std::string>> ListStore::Identifiers() const {
  std::vector<std::string> ids;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    ids.clear();
    return txn.ForEachWithPrefix(kLists, "", [&](std::string_view key, std::string_view) {
      ids.emplace_back(key);
      return Ok();
    });
  }));
  return ids;
}

Result<StoredList> ListStore::Load(const std::string& identifier) const {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(identifier));
  std::optional<std::string> list_json, meta_json;
  VMC_RETURN_IF_ERROR(env_->View([&](ReadTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN(list_json, txn.Get(kLists, identifier));
    VMC_ASSIGN_OR_RETURN(meta_json, txn.Get(kMeta, identifier));
    return Ok();
  }));
  if (!list_json) return NoSuchList(identifier);
  return Decode(identifier, *list_json, meta_json);
}

namespace {

// The meta of a list that replaces `old` (see Insert()).
ListMeta MergeReplacedMeta(const ListMeta& meta, const ImageList& list, const StoredList& old) {
  ListMeta merged = meta;
  if (!old.meta.signed_version.empty() &&
      (merged.signed_version.empty() ||
       CompareVersions(old.meta.signed_version, merged.signed_version) ==
           std::strong_ordering::greater)) {
    merged.signed_version = old.meta.signed_version;
  }
  for (const auto& [image_id, file] : old.meta.image_files) {
    const auto now = list.FindImage(image_id);
    const auto before = old.list.FindImage(image_id);
    if (now && before && now->sha512() == before->sha512() && now->size() == before->size()) {
      merged.image_files.emplace(image_id, file);
    }
  }
  return merged;
}

}  // namespace

Status ListStore::Insert(const ImageList& list, const ListMeta& meta, bool replace) {
  const std::string id = list.identifier();
  VMC_RETURN_IF_ERROR(ValidateIdentifier(id));
  const std::string list_json = list.Write();
  return env_->Update([&](WriteTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN(const auto existing, txn.Get(kLists, id));
    if (existing && !replace) {
      return Error(ErrorCode::kAlreadyExists, "the store already has a list " + id)
          .With("list", id);
    }
    ListMeta stored_meta = meta;
    if (existing) {
      VMC_ASSIGN_OR_RETURN(const auto old_meta, txn.Get(kMeta, id));
      VMC_ASSIGN_OR_RETURN(const StoredList old, Decode(id, *existing, old_meta));
      stored_meta = MergeReplacedMeta(meta, list, old);
    }
    VMC_RETURN_IF_ERROR(txn.Put(kLists, id, list_json));
    return txn.Put(kMeta, id, MetaToJson(stored_meta));
  });
}

Status ListStore::Edit(const std::string& identifier,
                       const std::function<Status(ImageList& list, ListMeta& meta)>& edit) {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(identifier));
  return env_->Update([&](WriteTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN(const auto list_json, txn.Get(kLists, identifier));
    if (!list_json) return NoSuchList(identifier);
    VMC_ASSIGN_OR_RETURN(const auto meta_json, txn.Get(kMeta, identifier));
    VMC_ASSIGN_OR_RETURN(StoredList stored, Decode(identifier, *list_json, meta_json));
    VMC_RETURN_IF_ERROR(edit(stored.list, stored.meta));
    if (stored.list.identifier() != identifier) {
      return Error(ErrorCode::kInvalidValue,
                   "a list's dc:identifier cannot change (it names the list at every subscriber)")
          .With("list", identifier);
    }
    VMC_RETURN_IF_ERROR(txn.Put(kLists, identifier, stored.list.Write()));
    return txn.Put(kMeta, identifier, MetaToJson(stored.meta));
  });
}

Status ListStore::Delete(const std::string& identifier) {
  VMC_RETURN_IF_ERROR(ValidateIdentifier(identifier));
  return env_->Update([&](WriteTxn& txn) -> Status {
    VMC_ASSIGN_OR_RETURN(const bool existed, txn.Delete(kLists, identifier));
    if (!existed) return NoSuchList(identifier);
    VMC_ASSIGN_OR_RETURN([[maybe_unused]] const bool had_meta, txn.Delete(kMeta, identifier));
    return Ok();
  });
}

}  // namespace vmc::caster
