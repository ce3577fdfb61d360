// The submitter's lists, kept in LMDB under the store directory:
//   "lists": identifier -> the list as ImageList::Write() writes it
//   "meta":  identifier -> caster's own facts about the list (ListMeta, JSON)
// A list here may be a draft (not yet signed: no dates, version or endorser).
//
// Every change is one Edit(): load, apply a function, check, store, all in one
// write transaction, so a failed edit changes nothing.
//
// Thread-safety: a ListStore is thread-safe (LMDB serializes writers).
#ifndef VMC_CASTER_LIST_STORE_H_
#define VMC_CASTER_LIST_STORE_H_

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/defaults.h"
#include "common/error.h"
#include "common/imagelist.h"
#include "common/store.h"

namespace vmc::caster {

struct ListMeta {
  int lifetime_days = kDefaultLifetimeDays;
  // The highest version ever signed (signing never goes back to or below it,
  // even when an upload failed after signing: the list might have reached the
  // server, and subscribers refuse a reused version with other content).
  std::string signed_version;
  // Local files measured by `image add --file`, by image identifier, for
  // `publish --with-images`. Never part of the list.
  std::map<std::string, std::string> image_files;
};

struct StoredList {
  ImageList list;
  ListMeta meta;
};

class ListStore {
 public:
  static Result<ListStore> Open(const std::filesystem::path& dir);

  // Identifiers in byte order.
  Result<std::vector<std::string>> Identifiers() const;

  // kNotFound naming the identifier when absent.
  Result<StoredList> Load(const std::string& identifier) const;

  // Adds a new list; kAlreadyExists when the identifier is taken, unless
  // `replace`. A replaced list's version floor (signed_version) never goes
  // down: the higher of the old and the new one is kept. Its local image
  // files are kept for the images that are still in the list with the same
  // size and SHA-512.
  Status Insert(const ImageList& list, const ListMeta& meta, bool replace);

  // Loads the list, applies `edit`, and stores the result, atomically. The
  // edit may run more than once (see Environment::Update): it must only
  // change its arguments. The list's identifier may not change.
  Status Edit(const std::string& identifier,
              const std::function<Status(ImageList& list, ListMeta& meta)>& edit);

  // kNotFound when absent.
  Status Delete(const std::string& identifier);

 private:
  explicit ListStore(std::unique_ptr<Environment> env) : env_(std::move(env)) {}
  std::shared_ptr<Environment> env_;
};

// ListMeta as its "meta" record (common/record_codec.h) and back; kStorage
// naming the entry meta/<identifier> when the record is damaged. (Exposed
// for tests.)
std::string MetaToJson(const ListMeta& meta);
Result<ListMeta> MetaFromJson(std::string_view identifier, std::string_view json);

}  // namespace vmc::caster

#endif  // VMC_CASTER_LIST_STORE_H_
