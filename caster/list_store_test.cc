// The caster store: lists and their meta in LMDB, edits that change all or
// nothing, the version floor that never goes down.
#include "caster/list_store.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "common/store.h"
#include "test/support/temp_dir.h"

namespace vmc::caster {
namespace {

using test::TempDir;

const std::string kSha(128, 'a');

ImageList NewList(const std::string& id, const std::string& title = "T") {
  NewListFields f;
  f.identifier = id;
  f.title = title;
  f.description = "D";
  f.source = "S";
  f.uri = "https://www.example.org/l.list";
  auto list = ImageList::Create(f);
  EXPECT_TRUE(list.ok()) << list.error().ToString();
  return std::move(list).value();
}

NewImageFields NewImage(const std::string& id, const std::string& sha = kSha,
                        std::uint64_t size = 10) {
  NewImageFields f;
  f.identifier = id;
  f.uri = "https://www.example.org/" + id + ".img";
  f.size = size;
  f.sha512 = sha;
  f.title = "image " + id;
  return f;
}

ListStore OpenStore(const TempDir& dir) {
  auto store = ListStore::Open(dir / "store");
  EXPECT_TRUE(store.ok()) << store.error().ToString();
  return std::move(store).value();
}

TEST(ListStoreTest, InsertThenLoadRoundTrips) {
  TempDir dir;
  ListStore store = OpenStore(dir);
  ImageList list = NewList("list-1");
  ASSERT_TRUE(list.Set("ad:vo", "myvo").ok());
  ListMeta meta;
  meta.lifetime_days = 7;
  meta.signed_version = "1.2";
  meta.image_files["img"] = "/data/img.qcow2";
  ASSERT_TRUE(store.Insert(list, meta, false).ok());
  auto loaded = store.Load("list-1");
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(loaded->list.Write(), list.Write());
  EXPECT_EQ(loaded->meta.lifetime_days, 7);
  EXPECT_EQ(loaded->meta.signed_version, "1.2");
  EXPECT_EQ(loaded->meta.image_files, meta.image_files);
}

TEST(ListStoreTest, SurvivesReopening) {
  TempDir dir;
  {
    ListStore store = OpenStore(dir);
    ASSERT_TRUE(store.Insert(NewList("kept"), ListMeta{}, false).ok());
  }
  ListStore store = OpenStore(dir);
  auto loaded = store.Load("kept");
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(loaded->list.title(), "T");
}

TEST(ListStoreTest, IdentifiersInByteOrder) {
  TempDir dir;
  ListStore store = OpenStore(dir);
  for (const char* id : {"b", "a", "C", "a-2"}) {
    ASSERT_TRUE(store.Insert(NewList(id), ListMeta{}, false).ok());
  }
  auto ids = store.Identifiers();
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<std::string>{"C", "a", "a-2", "b"}));
}

TEST(ListStoreTest, EmptyStoreHasNoLists) {
  TempDir dir;
  ListStore store = OpenStore(dir);
  auto ids = store.Identifiers();
  ASSERT_TRUE(ids.ok());
  EXPECT_TRUE(ids->empty());
}

TEST(ListStoreTest, DuplicateInsertRefusedAndChangesNothing) {
  TempDir dir;
  ListStore store = OpenStore(dir);
  ASSERT_TRUE(store.Insert(NewList("l", "first"), ListMeta{}, false).ok());
  const Status again = store.Insert(NewList("l", "second"), ListMeta{}, false);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(store.Load("l")->list.title(), "first");
}

TEST(ListStoreTest, ReplaceKeepsTheHigherVersionFloor) {
  TempDir dir;
  ListStore store = OpenStore(dir);
  ListMeta meta;
  meta.signed_version = "1.0.10";
  ASSERT_TRUE(store.Insert(NewList("l"), meta, false).ok());
  // An older signed copy of the list comes back (import --replace): signing
  // must still go above 1.0.10, which subscribers may already hold.
  ListMeta older;
  older.signed_version = "1.0.9";
  ASSERT_TRUE(store.Insert(NewList("l", "older"), older, true).ok());
  auto loaded = store.Load("l");
  EXPECT_EQ(loaded->list.title(), "older");
  EXPECT_EQ(loaded->meta.signed_version, "1.0.10");
  // A newer one raises it.
  ListMeta newer;
  newer.signed_version = "2";
  ASSERT_TRUE(store.Insert(NewList("l"), newer, true).ok());
  EXPECT_EQ(store.Load("l")->meta.signed_version, "2");
  // A draft (no version) keeps it.
  ASSERT_TRUE(store.Insert(NewList("l"), ListMeta{}, true).ok());
  EXPECT_EQ(store.Load("l")->meta.signed_version, "2");
}

TEST(ListStoreTest, ReplaceKeepsLocalFilesOfUnchangedImagesOnly) {
  TempDir dir;
  ListStore store = OpenStore(dir);
  ImageList list = NewList("l");
  ASSERT_TRUE(list.AddImage(NewImage("same")).ok());
  ASSERT_TRUE(list.AddImage(NewImage("changed")).ok());
  ASSERT_TRUE(list.AddImage(NewImage("gone")).ok());
  ListMeta meta;
  meta.image_files = {{"same", "/f/same"}, {"changed", "/f/changed"}, {"gone", "/f/gone"}};
  ASSERT_TRUE(store.Insert(list, meta, false).ok());

  ImageList replacement = NewList("l");
  ASSERT_TRUE(replacement.AddImage(NewImage("same")).ok());
  ASSERT_TRUE(replacement.AddImage(NewImage("changed", std::string(128, 'b'))).ok());
  ASSERT_TRUE(store.Insert(replacement, ListMeta{}, true).ok());
  EXPECT_EQ(store.Load("l")->meta.image_files,
            (std::map<std::string, std::string>{{"same", "/f/same"}}));
}

TEST(ListStoreTest, LoadOfMissingListIsNotFound) {
  TempDir dir;
  ListStore store = OpenStore(dir);
  auto loaded = store.Load("nothing");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(loaded.error().message().find("nothing"), std::string::npos);
}

TEST(ListStoreTest, TraversalIdentifierRefusedEverywhere) {
  TempDir dir;
  ListStore store = OpenStore(dir);
  for (const std::string id : {"../etc/passwd", ".hidden", "a/b", ""}) {
    EXPECT_EQ(store.Load(id).error().code(), ErrorCode::kInvalidIdentifier) << id;
    EXPECT_EQ(store.Delete(id).error().code(), ErrorCode::kInvalidIdentifier) << id;
    const Status edit = store.Edit(id, [](ImageList&, ListMeta&) { return Ok(); });
    EXPECT_EQ(edit.error().code(), ErrorCode::kInvalidIdentifier) << id;
  }
}

TEST(ListStoreTest, EditAppliesAndStores) {
  TempDir dir;
  ListStore store = OpenStore(dir);
  ASSERT_TRUE(store.Insert(NewList("l"), ListMeta{}, false).ok());
  const Status edit = store.Edit("l", [](ImageList& list, ListMeta& meta) -> Status {
    meta.lifetime_days = 3;
    return list.Set("dc:title", "edited");
  });
  ASSERT_TRUE(edit.ok()) << edit.error().ToString();
  auto loaded = store.Load("l");
  EXPECT_EQ(loaded->list.title(), "edited");
  EXPECT_EQ(loaded->meta.lifetime_days, 3);
}

TEST(ListStoreTest, FailedEditChangesNothing) {
  TempDir dir;
  ListStore store = OpenStore(dir);
  ASSERT_TRUE(store.Insert(NewList("l"), ListMeta{}, false).ok());
  const std::string before = store.Load("l")->list.Write();
  const Status edit = store.Edit("l", [](ImageList& list, ListMeta& meta) -> Status {
    meta.signed_version = "99";
    EXPECT_TRUE(list.Set("dc:title", "half-done").ok());
    return list.Set("dc:date:expires", "tomorrow");  // refused: not a date
  });
  ASSERT_FALSE(edit.ok());
  EXPECT_EQ(edit.error().code(), ErrorCode::kInvalidDate);
  auto loaded = store.Load("l");
  EXPECT_EQ(loaded->list.Write(), before);
  EXPECT_EQ(loaded->meta.signed_version, "");
}

TEST(ListStoreTest, EditCannotChangeTheIdentifier) {
  TempDir dir;
  ListStore store = OpenStore(dir);
  ASSERT_TRUE(store.Insert(NewList("l"), ListMeta{}, false).ok());
  const Status edit = store.Edit(
      "l", [](ImageList& list, ListMeta&) { return list.Set("dc:identifier", "other"); });
  ASSERT_FALSE(edit.ok());
  EXPECT_EQ(edit.error().code(), ErrorCode::kInvalidValue);
  EXPECT_TRUE(store.Load("l").ok());
  EXPECT_EQ(store.Load("other").error().code(), ErrorCode::kNotFound);
}

TEST(ListStoreTest, EditOfMissingListIsNotFound) {
  TempDir dir;
  ListStore store = OpenStore(dir);
  bool ran = false;
  const Status edit = store.Edit("none", [&](ImageList&, ListMeta&) {
    ran = true;
    return Ok();
  });
  EXPECT_EQ(edit.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(ran);
}

TEST(ListStoreTest, DeleteRemovesListAndMeta) {
  TempDir dir;
  ListStore store = OpenStore(dir);
  ListMeta meta;
  meta.signed_version = "5";
  ASSERT_TRUE(store.Insert(NewList("l"), meta, false).ok());
  ASSERT_TRUE(store.Delete("l").ok());
  EXPECT_EQ(store.Load("l").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store.Delete("l").error().code(), ErrorCode::kNotFound);
  // A new list of that name starts afresh.
  ASSERT_TRUE(store.Insert(NewList("l"), ListMeta{}, false).ok());
  EXPECT_EQ(store.Load("l")->meta.signed_version, "");
}

TEST(ListStoreTest, DamagedListIsStorageError) {
  TempDir dir;
  {
    // What a half-written or foreign database would hold.
    StoreOptions options;
    options.databases = {"lists", "meta"};
    auto env = Environment::Open(dir / "store", options);
    ASSERT_TRUE(env.ok()) << env.error().ToString();
    ASSERT_TRUE((*env)
                    ->Update([](WriteTxn& txn) -> Status {
                      VMC_RETURN_IF_ERROR(txn.Put("lists", "broken", "{not json"));
                      VMC_RETURN_IF_ERROR(txn.Put("lists", "badmeta", NewList("badmeta").Write()));
                      return txn.Put("meta", "badmeta", "{\"lifetime_days\": \"x\"}");
                    })
                    .ok());
  }
  ListStore store = OpenStore(dir);
  auto broken = store.Load("broken");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().code(), ErrorCode::kStorage);
  EXPECT_NE(broken.error().message().find("damaged"), std::string::npos);
  EXPECT_EQ(store.Load("badmeta").error().code(), ErrorCode::kStorage);
  const Status edit = store.Edit("broken", [](ImageList&, ListMeta&) { return Ok(); });
  EXPECT_EQ(edit.error().code(), ErrorCode::kStorage);
}

TEST(ListStoreTest, OpenOnAFileIsStorageError) {
  TempDir dir;
  test::WriteFile(dir / "file", "x");
  auto store = ListStore::Open(dir / "file");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code(), ErrorCode::kStorage);
}

TEST(ListMetaTest, JsonRoundTrip) {
  ListMeta meta;
  meta.lifetime_days = 90;
  meta.signed_version = "1.0-rc\"2";
  meta.image_files = {{"a", "/x/a b.img"}, {"b", "/y/\xc3\xa9.img"}};
  auto back = MetaFromJson("list", MetaToJson(meta));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->lifetime_days, 90);
  EXPECT_EQ(back->signed_version, meta.signed_version);
  EXPECT_EQ(back->image_files, meta.image_files);
}

TEST(ListMetaTest, DamagedJsonRefused) {
  for (const std::string json :
       {"", "[]", "{}", R"({"lifetime_days": 1, "signed_version": "", "image_files": []})",
        R"({"lifetime_days": "1", "signed_version": "", "image_files": {}})",
        R"({"lifetime_days": 1, "signed_version": 2, "image_files": {}})",
        R"({"lifetime_days": 1, "signed_version": "", "image_files": {"a": 1}})"}) {
    auto meta = MetaFromJson("some-list", json);
    ASSERT_FALSE(meta.ok()) << json;
    EXPECT_EQ(meta.error().code(), ErrorCode::kStorage) << json;
    EXPECT_EQ(meta.error().message(), "the caster database entry meta/some-list is damaged");
  }
}

// Records as MetaToJson wrote them before the shared record codec (commit
// a6fc805), captured by running that code: the stores on publishers' machines
// hold these and must keep reading them, and writing must not change them.
TEST(ListMetaTest, RecordsOfEarlierVersionsReadBack) {
  const std::string old =
      R"({"lifetime_days":90,"signed_version":"1.0-rc\"2","image_files":{"a":"/x/a b.img",)"
      "\"b\":\"/y/\xc3\xa9.img\"}}";
  auto meta = MetaFromJson("list", old);
  ASSERT_TRUE(meta.ok()) << meta.error().ToString();
  EXPECT_EQ(meta->lifetime_days, 90);
  EXPECT_EQ(meta->signed_version, "1.0-rc\"2");
  EXPECT_EQ(meta->image_files,
            (std::map<std::string, std::string>{{"a", "/x/a b.img"}, {"b", "/y/\xc3\xa9.img"}}));
  EXPECT_EQ(MetaToJson(*meta), old);

  const std::string fresh = R"({"lifetime_days":28,"signed_version":"","image_files":{}})";
  auto defaults = MetaFromJson("list", fresh);
  ASSERT_TRUE(defaults.ok()) << defaults.error().ToString();
  EXPECT_EQ(defaults->lifetime_days, ListMeta{}.lifetime_days);
  EXPECT_TRUE(defaults->image_files.empty());
  EXPECT_EQ(MetaToJson(ListMeta{}), fresh);
}

}  // namespace
}  // namespace vmc::caster
