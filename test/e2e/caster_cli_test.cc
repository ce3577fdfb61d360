// End-to-end tests of the caster command line (issue 3): the real caster
// executable, run without a shell, on a private store and config file, with
// keys and certificates of the test PKI (test/pki/make-pki) and, for
// `image add --fetch`, a real nginx over HTTPS on loopback.
//
// Every refusal is checked by its exit status and its `--json` machine code
// (DESIGN.md section 8), and, where the command could have written, by an
// LMDB dump (mdb_dump) of the store taken before and after, which must be
// byte-identical. Signed output is checked with the library's verifier and,
// for interoperability, with `openssl smime -verify`.
//
// Uploads to nginx (WebDAV PUT) and sshd (SFTP) are in caster_publish_e2e_test.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/imagelist.h"
#include "common/smime.h"
#include "test/support/caster_e2e.h"
#include "test/support/json_output.h"
#include "test/support/list_factory.h"
#include "test/support/nginx.h"
#include "test/support/pki.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

const TestPki& Pki() { return TestPki::Get(); }

TimePoint Now() { return std::chrono::time_point_cast<seconds>(std::chrono::system_clock::now()); }

// --- output helpers ------------------------------------------------------------

// Every line of `text`, empty ones too.
std::vector<std::string> AllLines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// The {"error": {...}} object that --json prints on stdout; null when none.
std::unique_ptr<rapidjson::Document> ErrorOf(const RunResult& r) {
  for (const auto& line : AllLines(r.out)) {
    auto doc = ParseJson(line);
    if (doc && doc->IsObject() && doc->HasMember("error")) return doc;
  }
  return nullptr;
}

std::string ErrorMessageOf(const RunResult& r) {
  auto doc = ErrorOf(r);
  return doc ? Str((*doc)["error"], "message") : "";
}

std::vector<std::string> Cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The JSON a signed file carries, once its signature is proved (any signer).
std::string SignedJson(const fs::path& file) {
  auto message = VerifySmime(ReadFile(file));
  if (!message.ok()) {
    ADD_FAILURE() << file << ": " << message.error().ToString();
    return "";
  }
  return StripCr(message->content);
}

// --- the fixture ---------------------------------------------------------------

class CasterCliTest : public CasterE2eTest {
 protected:
  static void SetUpTestSuite() { nginx_ = StartNginx({}).release(); }
  static void TearDownTestSuite() {
    delete nginx_;
    nginx_ = nullptr;
  }

  // --config must name a file that exists; tests write what they need in it.
  void SetUp() override { WriteFile(config_, ""); }

  // Runs `caster ARGS --json` and expects the refusal `code` with
  // `exit_status`: the error on stdout as JSON, nothing on stderr but
  // diagnostics. Returns the result for further checks.
  RunResult Refused(const std::vector<std::string>& args, int exit_status,
                    const std::string& code) const {
    RunResult r = Caster(Cat(args, {"--json"}));
    EXPECT_EQ(r.exit_code, exit_status) << Describe(r);
    EXPECT_EQ(ErrorCodeOf(r), code) << Describe(r);
    if (auto doc = ErrorOf(r)) {
      const auto& e = (*doc)["error"];
      EXPECT_TRUE(e.HasMember("exit_status") && e["exit_status"].IsInt() &&
                  e["exit_status"].GetInt() == exit_status)
          << r.out;
      EXPECT_FALSE(Str(e, "message").empty()) << r.out;
    }
    return r;
  }

  // As Refused(), and the store is byte-for-byte as it was.
  RunResult RefusedUnchanged(const std::vector<std::string>& args, int exit_status,
                             const std::string& code) const {
    const std::string before = Dump();
    RunResult r = Refused(args, exit_status, code);
    EXPECT_EQ(Dump(), before) << "a refused command changed the store";
    return r;
  }

  // The store as mdb_dump prints every database of it.
  std::string Dump() const {
    const RunResult r = test::Run({"mdb_dump", "-a", "-p", store_.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("database=lists"), std::string::npos) << r.out;
    return r.out;
  }

  std::string CreateList(const std::vector<std::string>& extra = {}) const {
    return Trim(
        Ok(Cat({"list", "create", "--title", "Test list", "--description", "Lists for tests",
                "--source", "example.org", "--uri", "https://www.example.org/lists/test.list"},
               extra)));
  }

  // A file of `size` bytes in the test directory.
  fs::path MakeImage(const std::string& name, size_t size, unsigned seed = 1) const {
    fs::path file = dir_ / name;
    WriteFile(file, RandomBytes(size, seed));
    return file;
  }

  std::string AddImage(const std::string& list, const fs::path& file,
                       const std::vector<std::string>& extra = {}) const {
    return Trim(Ok(
        Cat({"image", "add", list, "--uri",
             "https://www.example.org/images/" + file.filename().string(), "--file", file.string()},
            extra)));
  }

  std::string Export(const std::string& list) const { return Ok({"list", "export", list}); }

  // `list ls --json`'s entry for `list` (string and number members as text).
  std::map<std::string, std::string> LsEntry(const std::string& list) const {
    std::map<std::string, std::string> out;
    auto doc = ParseJson(Ok({"list", "ls", "--json"}));
    if (!doc || !doc->IsArray()) {
      ADD_FAILURE() << "list ls --json is not an array";
      return out;
    }
    for (const auto& item : doc->GetArray()) {
      if (Str(item, "identifier") != list) continue;
      for (const auto& m : item.GetObject()) {
        if (m.value.IsString()) out[m.name.GetString()] = m.value.GetString();
        if (m.value.IsUint64()) out[m.name.GetString()] = std::to_string(m.value.GetUint64());
      }
    }
    return out;
  }

  // Signs `list` into `out` with `signer`, expecting success; returns the
  // signed JSON.
  std::string Sign(const std::string& list, const fs::path& out,
                   const PkiIdentity& signer = Pki().endorser1(),
                   const std::vector<std::string>& extra = {}) const {
    Ok(Cat(Cat({"sign", list, "-o", out.string()}, KeyArgs(signer)), extra));
    return SignedJson(out);
  }

  static NginxServer* nginx_;
};

NginxServer* CasterCliTest::nginx_ = nullptr;

// The hv:imagelist object of a list's JSON text.
const rapidjson::Value& ListOf(const rapidjson::Document& doc) {
  static const rapidjson::Value kNull;
  if (!doc.IsObject() || !doc.HasMember("hv:imagelist")) return kNull;
  return doc["hv:imagelist"];
}

// The images of a list's JSON text, by identifier.
std::map<std::string, const rapidjson::Value*> ImagesOf(const rapidjson::Document& doc) {
  std::map<std::string, const rapidjson::Value*> out;
  const auto& list = ListOf(doc);
  if (!list.IsObject() || !list.HasMember("hv:images")) return out;
  for (const auto& item : list["hv:images"].GetArray()) {
    const auto& image = item["hv:image"];
    out[Str(image, "dc:identifier")] = &image;
  }
  return out;
}

// --- help and usage ------------------------------------------------------------

TEST_F(CasterCliTest, HelpAtEveryLevel) {
  const std::vector<std::vector<std::string>> paths = {
      {},
      {"list"},
      {"image"},
      {"list", "create"},
      {"list", "ls"},
      {"list", "show"},
      {"list", "set"},
      {"list", "unset"},
      {"list", "import"},
      {"list", "export"},
      {"list", "delete"},
      {"image", "add"},
      {"image", "ls"},
      {"image", "set"},
      {"image", "unset"},
      {"image", "remove"},
      {"sign"},
      {"publish"},
      {"verify"},
  };
  for (const auto& path : paths) {
    std::string joined;
    for (const auto& word : path) joined += " " + word;
    SCOPED_TRACE("caster" + joined + " --help");
    for (const char* flag : {"--help", "-h"}) {
      const RunResult r = Caster(Cat(path, {flag}));
      EXPECT_EQ(r.exit_code, 0) << Describe(r);
      EXPECT_NE(r.out.find("Usage: caster [global options]" + joined), std::string::npos) << r.out;
      EXPECT_NE(r.out.find("--store"), std::string::npos) << "global options missing";
      EXPECT_NE(r.out.find("--json"), std::string::npos);
      EXPECT_EQ(r.err, "");
    }
  }
  // Each command's own options are in its help.
  const std::map<std::vector<std::string>, std::vector<std::string>> options = {
      {{"list", "create"}, {"--title", "--description", "--source", "--uri", "--lifetime"}},
      {{"image", "add"}, {"--uri", "--file", "--fetch", "--set", "--ca-dir"}},
      {{"sign"}, {"--cert", "--key", "--passphrase-file", "--lifetime", "--version", "-o"}},
      {{"publish"}, {"--target", "--credentials-file", "--with-images", "--known-hosts"}},
      {{"verify"}, {"--ca-dir", "--at-time"}},
  };
  for (const auto& [path, names] : options) {
    const RunResult r = Caster(Cat(path, {"--help"}));
    for (const auto& name : names) EXPECT_NE(r.out.find(name), std::string::npos) << name;
  }
  // The top level lists every command.
  const RunResult top = Caster({"--help"});
  for (const char* command :
       {"list create", "list import", "image add", "image remove", "sign", "publish", "verify"}) {
    EXPECT_NE(top.out.find(command), std::string::npos) << command;
  }
}

TEST_F(CasterCliTest, UsageErrorsExitOne) {
  const std::vector<std::vector<std::string>> cases = {
      {},                                     // no command
      {"no-such-command"},                    // unknown command
      {"list"},                               // group without subcommand
      {"list", "create", "--title", "only"},  // required options missing
      {"list", "ls", "--no-such-option"},     // unknown option
      {"list", "show"},                       // positional missing
      {"list", "show", "a", "b"},             // too many positionals
      {"list", "create", "--title", "T", "--description", "D", "--source", "S", "--uri", "U",
       "--lifetime", "0"},  // lifetime below a day
      {"list", "create", "--title", "T", "--description", "D", "--source", "S", "--uri", "U",
       "--lifetime", "many"},  // not a number
  };
  for (const auto& args : cases) {
    std::string joined;
    for (const auto& a : args) joined += " " + a;
    SCOPED_TRACE("caster" + joined);
    Refused(args, 1, "usage");
  }
  EXPECT_FALSE(fs::exists(store_)) << "a usage error created the store";
}

TEST_F(CasterCliTest, ErrorsForPeopleGoToStderr) {
  const RunResult r = Caster({"list", "show", "no-such-list"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "caster: error: no list no-such-list in the store [not-found]\n");
}

TEST_F(CasterCliTest, JsonErrorsCarryCodeMessageAndDetails) {
  const RunResult r = Refused({"list", "show", "no-such-list"}, 5, "not-found");
  auto doc = ErrorOf(r);
  ASSERT_NE(doc, nullptr);
  EXPECT_EQ(Str((*doc)["error"], "list"), "no-such-list");
  EXPECT_NE(ErrorMessageOf(r).find("no-such-list"), std::string::npos);
}

TEST_F(CasterCliTest, StoreThatIsAFileIsStorageError) {
  WriteFile(dir_ / "not-a-dir", "x");
  const RunResult r = Bare({VMC_CASTER_BIN, "--store", (dir_ / "not-a-dir").string(), "--config",
                            config_.string(), "list", "ls", "--json"});
  EXPECT_EQ(r.exit_code, 7) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "storage-error");
}

TEST_F(CasterCliTest, StoreDefaultsToXdgDataHome) {
  const RunResult r =
      Bare({VMC_CASTER_BIN, "--config", config_.string(), "list", "create", "--title", "T",
            "--description", "D", "--source", "S", "--uri", "https://x.example/l"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(fs::exists(dir_ / "xdg-data/caster/data.mdb"));
}

TEST_F(CasterCliTest, ConfigFileErrorsExitTwo) {
  RunResult r = Bare({VMC_CASTER_BIN, "--store", store_.string(), "--config",
                      (dir_ / "absent.conf").string(), "list", "ls", "--json"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "config-invalid");
  WriteFile(config_, "no-such-key = 1\n");
  r = Caster({"list", "ls", "--json"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "config-invalid");
}

// --- list create, ls, show, delete -----------------------------------------------

TEST_F(CasterCliTest, CreatePrintsANewUuidAndTheListIsStored) {
  const std::string id = CreateList();
  EXPECT_TRUE(std::regex_match(
      id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << id;
  EXPECT_NE(CreateList(), id) << "two lists got the same identifier";
  const auto entry = LsEntry(id);
  EXPECT_EQ(entry.at("title"), "Test list");
  EXPECT_EQ(entry.at("uri"), "https://www.example.org/lists/test.list");
  EXPECT_EQ(entry.at("images"), "0");
  EXPECT_EQ(entry.at("version"), "");
  EXPECT_EQ(entry.at("signed_version"), "");

  auto doc = ParseJson(Ok({"list", "show", id, "--json"}));
  ASSERT_NE(doc, nullptr);
  const auto& list = ListOf(*doc);
  EXPECT_EQ(Str(list, "dc:identifier"), id);
  EXPECT_EQ(Str(list, "dc:title"), "Test list");
  EXPECT_EQ(Str(list, "dc:description"), "Lists for tests");
  EXPECT_EQ(Str(list, "dc:source"), "example.org");
  EXPECT_EQ(Str(list, "hv:uri"), "https://www.example.org/lists/test.list");
  EXPECT_EQ(Str(list, "hv:version"), "<absent>") << "a draft has no version";
  EXPECT_EQ(Str(list, "dc:date:created"), "<absent>");

  const std::string shown = Ok({"list", "show", id});
  EXPECT_NE(shown.find("Test list"), std::string::npos) << shown;
  EXPECT_NE(shown.find("28 days"), std::string::npos) << shown;
  const std::string ls = Ok({"list", "ls"});
  EXPECT_NE(ls.find("IDENTIFIER"), std::string::npos) << ls;
  EXPECT_NE(ls.find(id), std::string::npos) << ls;
}

TEST_F(CasterCliTest, CreateJsonOutput) {
  auto doc =
      ParseJson(Ok({"list", "create", "--json", "--title", "T", "--description", "D", "--source",
                    "S", "--uri", "https://x.example/l", "--identifier", "my-list.v1"}));
  ASSERT_NE(doc, nullptr);
  EXPECT_EQ(Str(*doc, "identifier"), "my-list.v1");
}

TEST_F(CasterCliTest, CreateWithTakenIdentifierRefused) {
  CreateList({"--identifier", "taken"});
  RefusedUnchanged({"list", "create", "--title", "Other", "--description", "D", "--source", "S",
                    "--uri", "https://x.example/l", "--identifier", "taken"},
                   5, "already-exists");
  EXPECT_EQ(LsEntry("taken").at("title"), "Test list");
}

TEST_F(CasterCliTest, CreateWithHostileIdentifierRefused) {
  CreateList({"--identifier", "first"});
  for (const std::string id : {"../../etc/passwd", ".hidden", "a/b", "with space", ""}) {
    SCOPED_TRACE(id);
    RefusedUnchanged({"list", "create", "--title", "T", "--description", "D", "--source", "S",
                      "--uri", "https://x.example/l", "--identifier", id},
                     5, "invalid-identifier");
  }
}

TEST_F(CasterCliTest, ShowAndDeleteOfMissingListAreNotFound) {
  CreateList();
  RefusedUnchanged({"list", "show", "missing"}, 5, "not-found");
  RefusedUnchanged({"list", "delete", "missing"}, 5, "not-found");
  RefusedUnchanged({"list", "export", "missing"}, 5, "not-found");
  RefusedUnchanged({"list", "set", "missing", "dc:title", "x"}, 5, "not-found");
  RefusedUnchanged({"image", "ls", "missing"}, 5, "not-found");
  RefusedUnchanged({"list", "show", "../escape"}, 5, "invalid-identifier");
}

TEST_F(CasterCliTest, DeleteRemovesTheList) {
  const std::string keep = CreateList();
  const std::string gone = CreateList();
  Ok({"list", "delete", gone});
  Refused({"list", "show", gone}, 5, "not-found");
  EXPECT_TRUE(LsEntry(gone).empty());
  EXPECT_FALSE(LsEntry(keep).empty());
}

// --- list set / unset ----------------------------------------------------------------

TEST_F(CasterCliTest, SetAnyKeyIncludingAdAndUnknownOnes) {
  const std::string id = CreateList();
  Ok({"list", "set", id, "ad:vo", "vo.example.org"});
  Ok({"list", "set", id, "x:custom", "text with \"quotes\" and \xc3\xa9"});
  Ok({"list", "set", id, "dc:title", "New title"});
  Ok({"list", "set", id, "x:object", "{\"a\": [1, 2]}", "--json-value"});
  auto doc = ParseJson(Export(id));
  ASSERT_NE(doc, nullptr);
  const auto& list = ListOf(*doc);
  EXPECT_EQ(Str(list, "ad:vo"), "vo.example.org");
  EXPECT_EQ(Str(list, "x:custom"), "text with \"quotes\" and \xc3\xa9");
  EXPECT_EQ(Str(list, "dc:title"), "New title");
  ASSERT_TRUE(list.HasMember("x:object"));
  EXPECT_EQ(list["x:object"]["a"][1].GetInt(), 2);
  // `list show` shows each of them, by its name.
  const RunResult shown = Caster({"list", "show", id});
  ASSERT_EQ(shown.exit_code, 0) << Describe(shown);
  for (const std::string line :
       {"ad:vo           vo.example.org\n", "x:custom        text with \"quotes\" and \xc3\xa9\n",
        "x:object        {\"a\":[1,2]}\n", "title           New title\n"}) {
    EXPECT_NE(shown.out.find(line), std::string::npos) << line << " in\n" << shown.out;
  }
}

TEST_F(CasterCliTest, SetChecksTypedValues) {
  const std::string id = CreateList();
  struct Case {
    std::string key, value, code;
  };
  const std::vector<Case> refused = {
      {"dc:date:expires", "2027-13-01T00:00:00Z", "invalid-date"},
      {"dc:date:expires", "2027-01-01", "invalid-date"},
      {"dc:date:expires", "2027-01-01T00:00:00+01:00", "invalid-date"},
      {"dc:date:created", "yesterday", "invalid-date"},
      {"dc:identifier", "../x", "invalid-identifier"},
      {"dc:identifier", "another-list", "invalid-value"},  // a list's identifier is fixed
      {"hv:images", "[]", "invalid-value"},                // only through image commands
      {"hv:endorser", "me", "invalid-value"},              // only through sign
  };
  for (const auto& c : refused) {
    SCOPED_TRACE(c.key + " = " + c.value);
    const RunResult r = RefusedUnchanged({"list", "set", id, c.key, c.value}, 5, c.code);
    EXPECT_NE(ErrorMessageOf(r).find(c.key), std::string::npos) << ErrorMessageOf(r);
  }
  RefusedUnchanged({"list", "set", id, "x:y", "{broken", "--json-value"}, 5, "json-malformed");
  Ok({"list", "set", id, "dc:date:expires", "2099-12-31T23:59:59Z"});
  auto doc = ParseJson(Export(id));
  EXPECT_EQ(Str(ListOf(*doc), "dc:date:expires"), "2099-12-31T23:59:59Z");
}

TEST_F(CasterCliTest, UnsetRemovesKeysButNotTheRequiredStructure) {
  const std::string id = CreateList();
  Ok({"list", "set", id, "ad:vo", "vo"});
  Ok({"list", "unset", id, "ad:vo"});
  EXPECT_EQ(Str(ListOf(*ParseJson(Export(id))), "ad:vo"), "<absent>");
  RefusedUnchanged({"list", "unset", id, "ad:vo"}, 5, "not-found");
  RefusedUnchanged({"list", "unset", id, "dc:identifier"}, 5, "invalid-value");
  RefusedUnchanged({"list", "unset", id, "hv:images"}, 5, "invalid-value");
}

// --- image add, ls, set, unset, remove ---------------------------------------------

TEST_F(CasterCliTest, AddFromFileMeasuresSizeAndSha512) {
  const std::string id = CreateList();
  const fs::path file = MakeImage("base.qcow2", (1 << 20) + 3);
  const RunResult r =
      Caster({"image", "add", id, "--uri", "https://img.example/base.qcow2", "--file",
              file.string(), "--title", "Base image", "--set", "hv:format=qcow2", "--set",
              "sl:os=Linux", "--set", "hv:ram_minimum=2048", "--identifier", "base-1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto out = ParseJson(r.out);
  ASSERT_NE(out, nullptr) << r.out;
  EXPECT_EQ(Str(*out, "identifier"), "base-1");
  EXPECT_EQ(Str(*out, "sha512"), Sha512Sum(file));
  EXPECT_EQ((*out)["size"].GetUint64(), (1u << 20) + 3);

  auto doc = ParseJson(Export(id));
  auto images = ImagesOf(*doc);
  ASSERT_EQ(images.count("base-1"), 1u);
  const auto& image = *images["base-1"];
  EXPECT_EQ(Str(image, "sl:checksum:sha512"), Sha512Sum(file));
  EXPECT_EQ(image["hv:size"].GetUint64(), (1u << 20) + 3) << "new sizes are integers";
  EXPECT_EQ(Str(image, "hv:uri"), "https://img.example/base.qcow2");
  EXPECT_EQ(Str(image, "dc:title"), "Base image");
  EXPECT_EQ(Str(image, "hv:format"), "qcow2");
  EXPECT_EQ(Str(image, "sl:os"), "Linux");
  EXPECT_EQ(image["hv:ram_minimum"].GetUint64(), 2048u);
  // The keys old vmcatcher subscribers need are there, empty until set.
  for (const char* key : {"dc:description", "hv:version", "hv:hypervisor", "sl:arch",
                          "sl:osversion", "sl:comments"}) {
    EXPECT_EQ(Str(image, key), "") << key;
  }

  auto ls = ParseJson(Ok({"image", "ls", id, "--json"}));
  ASSERT_TRUE(ls && ls->IsArray() && ls->Size() == 1) << "image ls --json";
  EXPECT_EQ(Str((*ls)[0], "sha512"), Sha512Sum(file));
  EXPECT_EQ(LsEntry(id).at("images"), "1");
  // Without --json the identifier alone, for scripts.
  const std::string second = AddImage(id, MakeImage("other.img", 10, 2));
  EXPECT_EQ(second.find('\n'), std::string::npos);
  EXPECT_EQ(ImagesOf(*ParseJson(Export(id))).count(second), 1u);
}

TEST_F(CasterCliTest, AddNeedsExactlyOneMeasurement) {
  const std::string id = CreateList();
  const fs::path file = MakeImage("a.img", 10);
  RefusedUnchanged({"image", "add", id, "--uri", "https://x/a.img"}, 1, "usage");
  RefusedUnchanged(
      {"image", "add", id, "--uri", "https://x/a.img", "--file", file.string(), "--fetch"}, 1,
      "usage");
}

TEST_F(CasterCliTest, AddRefusalsChangeNothing) {
  const std::string id = CreateList();
  const fs::path file = MakeImage("a.img", 100);
  AddImage(id, file, {"--identifier", "img-1"});
  const std::vector<std::string> add = {"image", "add", id, "--uri", "https://x/b.img", "--file"};
  RefusedUnchanged(Cat(add, {(dir_ / "missing.img").string()}), 7, "io-error");
  RefusedUnchanged(Cat(add, {file.string(), "--identifier", "img-1"}), 5, "already-exists");
  RefusedUnchanged(Cat(add, {file.string(), "--identifier", "../x"}), 5, "invalid-identifier");
  RefusedUnchanged(Cat(add, {file.string(), "--set", "hv:ram_minimum=lots"}), 5, "invalid-value");
  RefusedUnchanged(Cat(add, {file.string(), "--set", "dc:date:expires=soon"}), 5, "invalid-date");
  RefusedUnchanged(Cat(add, {file.string(), "--set", "no-equals-sign"}), 1, "usage");
  // The measured keys and the identifier have their own options.
  const std::string other_sum = "sl:checksum:sha512=" + std::string(128, 'b');
  for (const std::string& key :
       {std::string("hv:size=1"), other_sum, std::string("dc:identifier=x"),
        std::string("hv:uri=https://elsewhere/")}) {
    SCOPED_TRACE(key);
    RefusedUnchanged(Cat(add, {file.string(), "--set", key}), 1, "usage");
  }
  RefusedUnchanged(
      {"image", "add", "no-such-list", "--uri", "https://x/b.img", "--file", file.string()}, 5,
      "not-found");
}

TEST_F(CasterCliTest, ImageSetChecksTypedValues) {
  const std::string id = CreateList();
  AddImage(id, MakeImage("a.img", 100), {"--identifier", "img"});
  struct Case {
    std::string key, value, code;
  };
  const std::vector<Case> refused = {
      {"hv:size", "12a", "invalid-value"},
      {"hv:size", "99999999999999999999999", "invalid-value"},
      {"sl:checksum:sha512", "abc", "invalid-value"},
      {"sl:checksum:sha512", std::string(127, 'a') + "g", "invalid-value"},
      {"hv:ram_minimum", "1.5", "invalid-value"},
      {"hv:core_minimum", "x", "invalid-value"},
      {"dc:date:expires", "2499-12-31", "invalid-date"},
      {"dc:identifier", "../x", "invalid-identifier"},
  };
  for (const auto& c : refused) {
    SCOPED_TRACE(c.key + " = " + c.value);
    const RunResult r = RefusedUnchanged({"image", "set", id, "img", c.key, c.value}, 5, c.code);
    EXPECT_NE(ErrorMessageOf(r).find("/hv:images/0/hv:image/" + c.key), std::string::npos)
        << "the message names the JSON pointer: " << ErrorMessageOf(r);
  }
  RefusedUnchanged({"image", "set", id, "nope", "dc:title", "x"}, 5, "not-found");

  Ok({"image", "set", id, "img", "sl:checksum:sha512", std::string(128, 'A')});
  Ok({"image", "set", id, "img", "hv:size", "4096"});
  Ok({"image", "set", id, "img", "hv:core_minimum", "4"});
  Ok({"image", "set", id, "img", "dc:date:expires", "2499-12-31T22:00:00Z"});
  Ok({"image", "set", id, "img", "ad:mpuri", "https://appdb.example/x"});
  Ok({"image", "set", id, "img", "hv:ram_minimum", "\"512\"", "--json-value"});
  auto doc = ParseJson(Export(id));
  const auto& image = *ImagesOf(*doc).at("img");
  EXPECT_EQ(Str(image, "sl:checksum:sha512"), std::string(128, 'a')) << "written in lower case";
  EXPECT_EQ(image["hv:size"].GetUint64(), 4096u);
  EXPECT_EQ(image["hv:core_minimum"].GetUint64(), 4u);
  EXPECT_EQ(Str(image, "dc:date:expires"), "2499-12-31T22:00:00Z");
  EXPECT_EQ(Str(image, "ad:mpuri"), "https://appdb.example/x");
  EXPECT_EQ(Str(image, "hv:ram_minimum"), "512") << "AppDB's digit strings are kept as given";

  Ok({"image", "set", id, "img", "dc:identifier", "renamed"});
  EXPECT_EQ(ImagesOf(*ParseJson(Export(id))).count("renamed"), 1u);
}

TEST_F(CasterCliTest, ImageUnsetKeepsWhatSigningNeeds) {
  const std::string id = CreateList();
  AddImage(id, MakeImage("a.img", 100), {"--identifier", "img", "--set", "sl:os=Linux"});
  Ok({"image", "unset", id, "img", "sl:os"});
  EXPECT_EQ(Str(*ImagesOf(*ParseJson(Export(id))).at("img"), "sl:os"), "<absent>");
  RefusedUnchanged({"image", "unset", id, "img", "sl:os"}, 5, "not-found");
  // An image without size or checksum can never be signed: they cannot go.
  for (const char* key : {"hv:size", "sl:checksum:sha512", "hv:uri", "dc:identifier"}) {
    SCOPED_TRACE(key);
    RefusedUnchanged({"image", "unset", id, "img", key}, 5, "invalid-value");
  }
}

TEST_F(CasterCliTest, ImageRemove) {
  const std::string id = CreateList();
  AddImage(id, MakeImage("a.img", 100), {"--identifier", "a"});
  AddImage(id, MakeImage("b.img", 100, 2), {"--identifier", "b"});
  Ok({"image", "remove", id, "a"});
  const auto doc = ParseJson(Export(id));
  const auto images = ImagesOf(*doc);
  EXPECT_EQ(images.count("a"), 0u);
  EXPECT_EQ(images.count("b"), 1u);
  RefusedUnchanged({"image", "remove", id, "a"}, 5, "not-found");
}

TEST_F(CasterCliTest, AddFetchMeasuresTheDownloadOverHttps) {
  ASSERT_NE(nginx_, nullptr);
  const std::string id = CreateList();
  const std::string bytes = RandomBytes((3 << 20) + 1, 7);
  WriteFile(nginx_->root() / "fetched.img", bytes);
  const std::string url = nginx_->Url("/fetched.img");
  const RunResult r = Caster({"image", "add", id, "--uri", url, "--fetch", "--ca-dir",
                              Pki().ca_dir().string(), "--json", "--identifier", "fetched"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const auto doc = ParseJson(Export(id));
  const auto& image = *ImagesOf(*doc).at("fetched");
  EXPECT_EQ(Str(image, "sl:checksum:sha512"), Sha512Sum(nginx_->root() / "fetched.img"));
  EXPECT_EQ(image["hv:size"].GetUint64(), bytes.size());
  EXPECT_EQ(Str(image, "hv:uri"), url);
  EXPECT_EQ(nginx_->WaitForLog("/fetched.img", 1).size(), 1u);
  // The download is not kept anywhere caster writes.
  for (const auto& entry : fs::recursive_directory_iterator(dir_.path())) {
    if (entry.is_regular_file()) {
      EXPECT_NE(entry.file_size(), bytes.size()) << entry.path();
    }
  }
}

TEST_F(CasterCliTest, AddFetchFailuresAreNetworkErrorsAndChangeNothing) {
  ASSERT_NE(nginx_, nullptr);
  const std::string id = CreateList();
  WriteFile(nginx_->root() / "there.img", "x");
  const std::string ca = Pki().ca_dir().string();
  RefusedUnchanged(
      {"image", "add", id, "--uri", nginx_->Url("/missing.img"), "--fetch", "--ca-dir", ca}, 3,
      "http-status");
  // Without the test CA the server is not trusted (the system bundle is used).
  RefusedUnchanged({"image", "add", id, "--uri", nginx_->Url("/there.img"), "--fetch"}, 3,
                   "tls-error");
  RefusedUnchanged(
      {"image", "add", id, "--uri", "https://127.0.0.1:1/x.img", "--fetch", "--ca-dir", ca}, 3,
      "network-error");
  RefusedUnchanged({"image", "add", id, "--uri", nginx_->Url("/there.img"), "--fetch", "--ca-dir",
                    (dir_ / "no-such-ca-dir").string()},
                   2, "config-invalid");
}

// --- import / export -------------------------------------------------------------

TEST_F(CasterCliTest, ExportImportRoundTripsByteForByte) {
  const std::string id = CreateList();
  Ok({"list", "set", id, "ad:vo", "vo.example.org"});
  AddImage(id, MakeImage("a.img", 1000), {"--set", "hv:format=raw"});
  const std::string exported = Export(id);
  Ok({"list", "export", id, "-o", (dir_ / "list.json").string()});
  EXPECT_EQ(ReadFile(dir_ / "list.json"), exported);

  // Into a fresh store, and out again.
  const fs::path other = dir_ / "other-store";
  const RunResult imported =
      Bare({VMC_CASTER_BIN, "--store", other.string(), "--config", config_.string(), "list",
            "import", (dir_ / "list.json").string()});
  ASSERT_EQ(imported.exit_code, 0) << Describe(imported);
  EXPECT_EQ(Trim(imported.out), id);
  const RunResult again = Bare({VMC_CASTER_BIN, "--store", other.string(), "--config",
                                config_.string(), "list", "export", id});
  EXPECT_EQ(again.out, exported);
}

TEST_F(CasterCliTest, ExportToUnwritablePlaceIsIoError) {
  const std::string id = CreateList();
  RefusedUnchanged({"list", "export", id, "-o", (dir_ / "no-dir/list.json").string()}, 7,
                   "io-error");
}

TEST_F(CasterCliTest, ImportOfAnAppDbListKeepsEveryValue) {
  const fs::path file = fs::path(VMC_SOURCE_DIR) / "test/data/imagelist/appdb-list.json";
  const RunResult r = Caster({"list", "import", file.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto out = ParseJson(r.out);
  ASSERT_NE(out, nullptr);
  const std::string id = Str(*out, "identifier");
  EXPECT_EQ(id, "58ed1e1c-4a37-4bd4-ba6f-b1fc6d8dbf4b");
  auto original = ParseJson(ReadFile(file));
  auto exported = ParseJson(Export(id));
  ASSERT_NE(original, nullptr);
  ASSERT_NE(exported, nullptr);
  // Equal as JSON values: strings stay strings ("hv:size": "2147483648"),
  // ad:* and unknown keys keep their values however nested.
  EXPECT_TRUE(*original == *exported) << Export(id);
  // A list that was signed before keeps its version as the floor.
  EXPECT_EQ(LsEntry(id).at("signed_version"), "20240616124537");
}

TEST_F(CasterCliTest, ImportOfAnOldUnwrappedListWarnsAndWraps) {
  const fs::path file = fs::path(VMC_SOURCE_DIR) / "test/data/imagelist/old-unwrapped.json";
  const RunResult r = Caster({"list", "import", file.string()});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.err.find("hv:imagelist"), std::string::npos) << "no warning: " << r.err;
  auto doc = ParseJson(Export(Trim(r.out)));
  EXPECT_EQ(Str(ListOf(*doc), "dc:title"), "old list");
}

TEST_F(CasterCliTest, ImportOfASignedListChecksTheSignatureNotTheSigner) {
  // Signed by an endorser of a CA that no CA directory trusts: imported, not
  // trusted, so that does not matter.
  ListSpec spec;
  spec.version = "1.0.9";
  ImageSpec image;
  image.identifier = "img-1";
  spec.images = {image};
  auto signed_list = BuildSignedList(spec, Pki().untrusted_endorser());
  ASSERT_TRUE(signed_list.ok()) << signed_list.error().ToString();
  WriteFile(dir_ / "signed.list", *signed_list);
  const RunResult r = Caster({"list", "import", (dir_ / "signed.list").string()});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::string id = Trim(r.out);
  EXPECT_EQ(ImagesOf(*ParseJson(Export(id))).count("img-1"), 1u);
  EXPECT_EQ(LsEntry(id).at("signed_version"), "1.0.9");

  // One byte of the content changed: the signature no longer holds.
  std::string tampered = *signed_list;
  const auto at = tampered.find("img-1");
  ASSERT_NE(at, std::string::npos);
  tampered[at + 4] = '2';
  WriteFile(dir_ / "tampered.list", tampered);
  const RunResult t = RefusedUnchanged(
      {"list", "import", (dir_ / "tampered.list").string(), "--replace"}, 4, "signature-invalid");
  EXPECT_NE(ErrorMessageOf(t).find("tampered.list"), std::string::npos) << ErrorMessageOf(t);
}

TEST_F(CasterCliTest, ImportOfTheHepixReadmeExample) {
  // Signed in 2011 with SHA-1 by a certificate long expired: still imported.
  const fs::path file = fs::path(VMC_SOURCE_DIR) / "test/fixtures/hepix-readme-example.smime";
  const RunResult r = Caster({"list", "import", file.string()});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Trim(r.out), "4e186b44-2c64-40ea-97d5-e9e5c0bce059");
  // Re-signed by us, it goes above the version it was published with.
  const std::string json = Sign(Trim(r.out), dir_ / "resigned.list");
  auto doc = ParseJson(json);
  EXPECT_EQ(Str(ListOf(*doc), "hv:version"), "2");
  EXPECT_EQ(Str(ListOf(*doc)["hv:endorser"]["hv:x509"], "hv:dn"),
            "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser One");
}

TEST_F(CasterCliTest, ImportRefusals) {
  const std::string id = CreateList({"--identifier", "existing"});
  // The same identifier again, unless --replace.
  WriteFile(dir_ / "same.json", Export(id));
  RefusedUnchanged({"list", "import", (dir_ / "same.json").string()}, 5, "already-exists");
  WriteFile(dir_ / "broken.json", "{\"hv:imagelist\": {");
  RefusedUnchanged({"list", "import", (dir_ / "broken.json").string()}, 5, "json-malformed");
  RefusedUnchanged({"list", "import", (dir_ / "missing.json").string()}, 7, "io-error");
  // An image without size or checksum is refused at the door, so no list
  // in the store ever lacks them when it is signed.
  WriteFile(dir_ / "no-size.json",
            R"({"hv:imagelist": {"dc:identifier": "draft", "hv:images": [{"hv:image": )"
            R"({"dc:identifier": "i", "hv:uri": "https://x/i", "sl:checksum:sha512": ")" +
                std::string(128, 'a') + R"("}}]}})");
  RunResult r =
      RefusedUnchanged({"list", "import", (dir_ / "no-size.json").string()}, 5, "schema-violation");
  EXPECT_NE(ErrorMessageOf(r).find("hv:size"), std::string::npos) << ErrorMessageOf(r);
  EXPECT_NE(ErrorMessageOf(r).find("no-size.json"), std::string::npos) << ErrorMessageOf(r);
  WriteFile(dir_ / "no-sum.json",
            R"({"hv:imagelist": {"dc:identifier": "draft", "hv:images": [{"hv:image": )"
            R"({"dc:identifier": "i", "hv:uri": "https://x/i", "hv:size": 5}}]}})");
  r = RefusedUnchanged({"list", "import", (dir_ / "no-sum.json").string()}, 5, "schema-violation");
  EXPECT_NE(ErrorMessageOf(r).find("sl:checksum:sha512"), std::string::npos);
  WriteFile(dir_ / "traversal.json", R"({"hv:imagelist": {"dc:identifier": "../../x"}})");
  RefusedUnchanged({"list", "import", (dir_ / "traversal.json").string()}, 5, "invalid-identifier");
}

TEST_F(CasterCliTest, ImportReplaceNeverLowersTheVersionFloor) {
  const std::string id = CreateList();
  AddImage(id, MakeImage("a.img", 10));
  Ok({"list", "set", id, "hv:version", "1.0.9"});
  const std::string old_json = Sign(id, dir_ / "old.list");  // 1.0.10
  Sign(id, dir_ / "new.list");                               // 1.0.11
  // The older signed copy comes back: the next signature still goes above
  // what subscribers may hold (1.0.11), not above the imported 1.0.10.
  Ok({"list", "import", (dir_ / "old.list").string(), "--replace"});
  EXPECT_EQ(StripCr(Export(id)), old_json);
  EXPECT_EQ(LsEntry(id).at("signed_version"), "1.0.11");
  EXPECT_EQ(Str(ListOf(*ParseJson(Sign(id, dir_ / "next.list"))), "hv:version"), "1.0.12");
}

// --- sign ------------------------------------------------------------------------

TEST_F(CasterCliTest, SignedListVerifiesWithOpensslAndCaster) {
  const std::string id = CreateList({"--lifetime", "3"});
  const fs::path a = MakeImage("a.img", 4096, 1);
  const fs::path b = MakeImage("b.img", 70000, 2);
  const std::string ia = AddImage(id, a);
  const std::string ib = AddImage(id, b);
  const TimePoint before = Now();
  const std::string json = Sign(id, dir_ / "signed.list");
  const TimePoint after = Now();

  const RunResult openssl =
      test::Run({"openssl", "smime", "-verify", "-CApath", Pki().ca_dir().string(), "-in",
                 (dir_ / "signed.list").string(), "-out", (dir_ / "openssl.json").string()});
  EXPECT_EQ(openssl.exit_code, 0) << Describe(openssl);
  EXPECT_EQ(StripCr(ReadFile(dir_ / "openssl.json")), json);

  const RunResult verify = Caster(
      {"verify", (dir_ / "signed.list").string(), "--ca-dir", Pki().ca_dir().string(), "--json"});
  EXPECT_EQ(verify.exit_code, 0) << Describe(verify);
  auto v = ParseJson(Trim(verify.out));
  ASSERT_NE(v, nullptr) << verify.out;
  EXPECT_EQ(Str(*v, "identifier"), id);
  EXPECT_EQ(Str(*v, "version"), "1");

  auto doc = ParseJson(json);
  const auto& list = ListOf(*doc);
  EXPECT_EQ(Str(list, "hv:version"), "1");
  auto created = ParseDate(Str(list, "dc:date:created"));
  auto expires = ParseDate(Str(list, "dc:date:expires"));
  ASSERT_TRUE(created.ok() && expires.ok());
  EXPECT_GE(*created, before);
  EXPECT_LE(*created, after);
  EXPECT_EQ(*expires - *created, std::chrono::days(3)) << "the list's lifetime";
  const auto& x509 = list["hv:endorser"]["hv:x509"];
  EXPECT_EQ(Str(x509, "hv:dn"), "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser One");
  EXPECT_EQ(Str(x509, "hv:ca"), "/C=DE/O=Test Grid/CN=Test Intermediate CA");
  EXPECT_EQ(Str(x509, "hv:email"), "endorser1@example.org");
  EXPECT_EQ(Str(x509, "dc:creator"), "Endorser One");
  const auto images = ImagesOf(*doc);
  EXPECT_EQ(Str(*images.at(ia), "sl:checksum:sha512"), Sha512Sum(a));
  EXPECT_EQ(Str(*images.at(ib), "sl:checksum:sha512"), Sha512Sum(b));
  EXPECT_EQ((*images.at(ib))["hv:size"].GetUint64(), 70000u);

  // The store holds exactly what was signed.
  EXPECT_EQ(StripCr(Export(id)), json);
  EXPECT_EQ(LsEntry(id).at("signed_version"), "1");
  EXPECT_EQ(LsEntry(id).at("version"), "1");
}

TEST_F(CasterCliTest, SignToStdout) {
  const std::string id = CreateList();
  const RunResult r = Caster(Cat({"sign", id}, KeyArgs(Pki().endorser1())));
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.out.find("multipart/signed"), std::string::npos);
  EXPECT_EQ(r.err, "");
  auto verified = VerifySmime(r.out);
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  EXPECT_EQ(StripCr(verified->content), StripCr(Export(id)));
}

TEST_F(CasterCliTest, VerboseAndQuiet) {
  const std::string id = CreateList();
  const auto sign = [&](const std::vector<std::string>& flags) {
    return Caster(
        Cat(Cat({"sign", id, "-o", (dir_ / "l").string()}, flags), KeyArgs(Pki().endorser1())));
  };
  EXPECT_EQ(sign({}).err, "");
  const RunResult verbose = sign({"-v"});
  EXPECT_EQ(verbose.exit_code, 0);
  EXPECT_NE(verbose.err.find("signed list " + id + " version 2 into " + (dir_ / "l").string()),
            std::string::npos)
      << verbose.err;
  EXPECT_EQ(verbose.out, "");
  // A warning shows by default, not with -q.
  const std::string old = VMC_SOURCE_DIR "/test/data/imagelist/old-unwrapped.json";
  EXPECT_NE(Caster({"list", "import", old}).err.find("warning"), std::string::npos);
  const RunResult quiet = Caster({"list", "import", old, "--replace", "-q"});
  EXPECT_EQ(quiet.exit_code, 0) << Describe(quiet);
  EXPECT_EQ(quiet.err, "");
}

TEST_F(CasterCliTest, SignWithEncryptedKeyAndPassphraseFile) {
  const std::string id = CreateList();
  WriteFile(dir_ / "pass", std::string(TestPki::Passphrase()) + "\n");
  const RunResult r = Caster(
      {"sign", id, "-o", (dir_ / "l").string(), "--cert", Pki().endorser2().cert.string(), "--key",
       Pki().endorser2_encrypted_key().string(), "--passphrase-file", (dir_ / "pass").string()});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Str(ListOf(*ParseJson(SignedJson(dir_ / "l")))["hv:endorser"]["hv:x509"], "hv:dn"),
            "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser Two");
}

TEST_F(CasterCliTest, SignRefusalsLeaveTheStoreAndOutputUntouched) {
  const std::string id = CreateList();
  AddImage(id, MakeImage("a.img", 100));
  Sign(id, dir_ / "first.list");  // so that there is a signed version to keep
  const fs::path out = dir_ / "refused.list";
  WriteFile(dir_ / "wrong-pass", "not the passphrase\n");
  const std::string e2_cert = Pki().endorser2().cert.string();
  const std::string e2_encrypted = Pki().endorser2_encrypted_key().string();
  struct Case {
    std::string what;
    std::vector<std::string> args;
    int exit_status;
    std::string code;
    std::string message;  // a part of the message
  };
  const std::vector<Case> cases = {
      {"expired certificate", KeyArgs(Pki().expired()), 5, "certificate-unfit",
       "expired on 2021-01-01T00:00:00Z"},
      {"not yet valid certificate", KeyArgs(Pki().not_yet_valid()), 5, "certificate-unfit",
       "not valid before 2045-01-01T00:00:00Z"},
      {"certificate without signing key usage", KeyArgs(Pki().wrong_purpose()), 5,
       "certificate-unfit", "not fit for S/MIME signing"},
      {"proxy certificate", KeyArgs(Pki().proxy()), 5, "certificate-unfit", "proxy"},
      {"key of another certificate",
       {"--cert", Pki().endorser1().cert.string(), "--key", Pki().endorser2().key.string()},
       5,
       "certificate-unfit",
       "does not belong"},
      {"wrong passphrase",
       {"--cert", e2_cert, "--key", e2_encrypted, "--passphrase-file",
        (dir_ / "wrong-pass").string()},
       5,
       "certificate-unfit",
       "passphrase"},
      {"missing certificate file",
       {"--cert", (dir_ / "none.pem").string(), "--key", Pki().endorser1().key.string()},
       7,
       "io-error",
       "none.pem"},
      {"explicit version not above the signed one",
       Cat(KeyArgs(Pki().endorser1()), {"--version", "1"}), 5, "version-rollback", "is not above"},
      {"lifetime below a day", Cat(KeyArgs(Pki().endorser1()), {"--lifetime", "0"}), 1, "usage",
       "--lifetime"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const RunResult r =
        RefusedUnchanged(Cat({"sign", id, "-o", out.string()}, c.args), c.exit_status, c.code);
    EXPECT_NE(ErrorMessageOf(r).find(c.message), std::string::npos) << ErrorMessageOf(r);
    EXPECT_FALSE(fs::exists(out)) << "a refused signature was written";
  }
  // The certificate's file is named, not only its subject.
  const RunResult r = Refused(Cat({"sign", id}, KeyArgs(Pki().expired())), 5, "certificate-unfit");
  EXPECT_NE(ErrorMessageOf(r).find(Pki().expired().cert.string()), std::string::npos);
  // An unwritable output: nothing recorded either.
  RefusedUnchanged(
      Cat({"sign", id, "-o", (dir_ / "no-dir/l.list").string()}, KeyArgs(Pki().endorser1())), 7,
      "io-error");
  // And the list is what the first signature made it.
  EXPECT_EQ(StripCr(Export(id)), SignedJson(dir_ / "first.list"));
}

TEST_F(CasterCliTest, EncryptedKeyWithoutPassphraseAndWithoutTerminalRefused) {
  const std::string id = CreateList();
  const std::string before = Dump();
  // setsid: a new session without a controlling terminal, so that caster
  // cannot ask (and a test run from a terminal does not hang on a prompt).
  const RunResult r = Caster({"sign", id, "--json", "--cert", Pki().endorser2().cert.string(),
                              "--key", Pki().endorser2_encrypted_key().string()},
                             {"setsid", "-w"});
  EXPECT_EQ(r.exit_code, 5) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "certificate-unfit");
  EXPECT_NE(ErrorMessageOf(r).find("--passphrase-file"), std::string::npos) << ErrorMessageOf(r);
  EXPECT_EQ(Dump(), before);
}

TEST_F(CasterCliTest, SignRefusesAListMissingARequiredKey) {
  const std::string id = CreateList();
  AddImage(id, MakeImage("a.img", 100));
  for (const char* key : {"dc:title", "dc:description", "dc:source", "hv:uri"}) {
    SCOPED_TRACE(key);
    const std::string fresh = CreateList();
    Ok({"list", "unset", fresh, key});
    const RunResult r = RefusedUnchanged(
        Cat({"sign", fresh, "-o", (dir_ / "x.list").string()}, KeyArgs(Pki().endorser1())), 5,
        "schema-violation");
    EXPECT_NE(ErrorMessageOf(r).find(key), std::string::npos) << ErrorMessageOf(r);
    EXPECT_FALSE(fs::exists(dir_ / "x.list"));
    EXPECT_EQ(LsEntry(fresh).at("signed_version"), "");
  }
}

TEST_F(CasterCliTest, VersionBumpIsNumericAware) {
  const std::string id = CreateList();
  Ok({"list", "set", id, "hv:version", "1.0.9"});
  EXPECT_EQ(Str(ListOf(*ParseJson(Sign(id, dir_ / "a"))), "hv:version"), "1.0.10");
  EXPECT_EQ(Str(ListOf(*ParseJson(Sign(id, dir_ / "b"))), "hv:version"), "1.0.11");
  // A version set by hand below the signed one does not take signing back.
  Ok({"list", "set", id, "hv:version", "1.0.2"});
  EXPECT_EQ(Str(ListOf(*ParseJson(Sign(id, dir_ / "c"))), "hv:version"), "1.0.12");
}

TEST_F(CasterCliTest, ExplicitVersion) {
  const std::string id = CreateList();
  const auto sign = [&](const std::string& version, const fs::path& out) {
    return Str(ListOf(*ParseJson(Sign(id, out, Pki().endorser1(), {"--version", version}))),
               "hv:version");
  };
  EXPECT_EQ(sign("2.0", dir_ / "a"), "2.0");
  EXPECT_EQ(Str(ListOf(*ParseJson(Sign(id, dir_ / "b"))), "hv:version"), "2.1");
  EXPECT_EQ(sign("2024.11.05", dir_ / "c"), "2024.11.05");
  for (const std::string version : {"2024.11.05", "2.1", "1"}) {
    SCOPED_TRACE(version);
    RefusedUnchanged(Cat({"sign", id, "--version", version}, KeyArgs(Pki().endorser1())), 5,
                     "version-rollback");
  }
}

TEST_F(CasterCliTest, ResignOfAnUnchangedListBumpsTheVersionAndTheDatesAndNothingElse) {
  const std::string id = CreateList();
  AddImage(id, MakeImage("a.img", 5000, 1), {"--set", "hv:format=qcow2"});
  AddImage(id, MakeImage("b.img", 6000, 2));
  Ok({"list", "set", id, "ad:vo", "vo.example.org"});
  const std::string first = Sign(id, dir_ / "first.list");
  // The dates have a resolution of one second: let one pass.
  const TimePoint signed_at = Now();
  while (Now() == signed_at) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string second = Sign(id, dir_ / "second.list");

  // A line diff of the two documents (written deterministically).
  const auto a = AllLines(first), b = AllLines(second);
  ASSERT_EQ(a.size(), b.size()) << first << "\n---\n" << second;
  std::set<std::string> changed_keys;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    const auto quote = a[i].find('"');
    const auto end = a[i].find('"', quote + 1);
    ASSERT_NE(end, std::string::npos) << a[i];
    changed_keys.insert(a[i].substr(quote + 1, end - quote - 1));
  }
  EXPECT_EQ(changed_keys,
            (std::set<std::string>{"dc:date:created", "dc:date:expires", "hv:version"}));

  // And as JSON values: equal once those three are taken out.
  auto da = ParseJson(first), db = ParseJson(second);
  auto& la = (*da)["hv:imagelist"];
  auto& lb = (*db)["hv:imagelist"];
  EXPECT_EQ(Str(la, "hv:version"), "1");
  EXPECT_EQ(Str(lb, "hv:version"), "2");
  const auto created_a = ParseDate(Str(la, "dc:date:created"));
  const auto created_b = ParseDate(Str(lb, "dc:date:created"));
  const auto expires_a = ParseDate(Str(la, "dc:date:expires"));
  const auto expires_b = ParseDate(Str(lb, "dc:date:expires"));
  ASSERT_TRUE(created_a.ok() && created_b.ok() && expires_a.ok() && expires_b.ok());
  EXPECT_GT(*created_b, *created_a);
  EXPECT_EQ(*expires_b - *created_b, *expires_a - *created_a);
  for (const char* key : {"hv:version", "dc:date:created", "dc:date:expires"}) {
    la.RemoveMember(key);
    lb.RemoveMember(key);
  }
  EXPECT_TRUE(*da == *db);
}

TEST_F(CasterCliTest, LifetimeFromTheListOrTheCommandLine) {
  const std::string id = CreateList({"--lifetime", "5"});
  const auto span = [](const std::string& json) {
    auto doc = ParseJson(json);
    const auto& list = ListOf(*doc);
    return *ParseDate(Str(list, "dc:date:expires")) - *ParseDate(Str(list, "dc:date:created"));
  };
  EXPECT_EQ(span(Sign(id, dir_ / "a")), std::chrono::days(5));
  EXPECT_EQ(span(Sign(id, dir_ / "b", Pki().endorser1(), {"--lifetime", "90"})),
            std::chrono::days(90));
  // The new lifetime is the list's from now on.
  EXPECT_EQ(span(Sign(id, dir_ / "c")), std::chrono::days(90));
}

TEST_F(CasterCliTest, ConfigFileSuppliesKeysAndLifetime) {
  const std::string id = CreateList();
  WriteFile(config_, "cert = " + Pki().endorser2().cert.string() +
                         "\nkey = " + Pki().endorser2_encrypted_key().string() +
                         "\npassphrase-file = " + Pki().dir().string() +
                         "/endorser2/passphrase.txt\nlifetime = 7\n");
  const RunResult r = Caster({"sign", id, "-o", (dir_ / "l").string()});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto doc = ParseJson(SignedJson(dir_ / "l"));
  const auto& list = ListOf(*doc);
  EXPECT_EQ(Str(list["hv:endorser"]["hv:x509"], "hv:dn"),
            "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser Two");
  EXPECT_EQ(*ParseDate(Str(list, "dc:date:expires")) - *ParseDate(Str(list, "dc:date:created")),
            std::chrono::days(7));
  // The command line wins.
  Ok(Cat({"sign", id, "-o", (dir_ / "m").string()}, KeyArgs(Pki().endorser1())));
  EXPECT_EQ(Str(ListOf(*ParseJson(SignedJson(dir_ / "m")))["hv:endorser"]["hv:x509"], "hv:dn"),
            "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser One");
}

// --- verify ------------------------------------------------------------------------

TEST_F(CasterCliTest, VerifyRefusesWhatSitesWouldRefuse) {
  const std::string id = CreateList();
  AddImage(id, MakeImage("a.img", 100));
  Sign(id, dir_ / "good.list");
  const std::string ca = Pki().ca_dir().string();
  EXPECT_EQ(Caster({"verify", (dir_ / "good.list").string(), "--ca-dir", ca}).exit_code, 0);

  std::string tampered = ReadFile(dir_ / "good.list");
  const auto at = tampered.find("Test list");
  ASSERT_NE(at, std::string::npos);
  tampered[at] = 'B';
  WriteFile(dir_ / "tampered.list", tampered);
  Refused({"verify", (dir_ / "tampered.list").string(), "--ca-dir", ca}, 4, "signature-invalid");
  Refused(
      {"verify", (dir_ / "good.list").string(), "--ca-dir", Pki().ca_dir_missing_crl().string()}, 4,
      "crl-missing");
  // Signed by a self-signed certificate: no chain to the CA directory.
  ListSpec spec;
  auto self_signed = BuildSignedList(spec, Pki().self_signed());
  ASSERT_TRUE(self_signed.ok());
  WriteFile(dir_ / "self.list", *self_signed);
  Refused({"verify", (dir_ / "self.list").string(), "--ca-dir", ca}, 4, "untrusted-chain");
  // After the list expires.
  Refused({"verify", (dir_ / "good.list").string(), "--ca-dir", ca, "--at-time",
           FormatDate(Now() + std::chrono::days(60))},
          5, "list-expired");
  Refused({"verify", (dir_ / "no-such.list").string(), "--ca-dir", ca}, 7, "io-error");
}

// --- publish (file://; HTTPS and SFTP in caster_publish_e2e_test) --------------

TEST_F(CasterCliTest, PublishToFileRecordsTheSignedList) {
  const std::string id = CreateList();
  AddImage(id, MakeImage("a.img", 100));
  fs::create_directories(dir_ / "www");
  const RunResult r = Caster(
      Cat({"publish", id, "--json", "--target", "file://" + (dir_ / "www/test.list").string()},
          KeyArgs(Pki().endorser1())));
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto out = ParseJson(Trim(r.out));
  ASSERT_NE(out, nullptr) << r.out;
  EXPECT_EQ(Str(*out, "identifier"), id);
  EXPECT_EQ(Str(*out, "version"), "1");
  EXPECT_EQ(Str(*out, "target"), "file://" + (dir_ / "www/test.list").string());
  EXPECT_EQ(StripCr(Export(id)), SignedJson(dir_ / "www/test.list"));
  EXPECT_EQ(LsEntry(id).at("signed_version"), "1");
}

TEST_F(CasterCliTest, PublishUsesTheConfigUploadRules) {
  fs::create_directories(dir_ / "www/vo");
  WriteFile(config_,
            "upload = https://www.example.org/lists/ file://" + (dir_ / "www").string() + "/vo/\n");
  const std::string id = CreateList();
  Ok(Cat({"publish", id}, KeyArgs(Pki().endorser1())));
  EXPECT_EQ(StripCr(Export(id)), SignedJson(dir_ / "www/vo/test.list"));
}

TEST_F(CasterCliTest, PublishRefusalsBeforeSigningChangeNothing) {
  const std::string id = CreateList();
  // No target: an http:// hv:uri is not one, and there is no rule.
  Ok({"list", "set", id, "hv:uri", "http://www.example.org/l.list"});
  RefusedUnchanged(Cat({"publish", id}, KeyArgs(Pki().endorser1())), 5, "invalid-value");
  // A broken rule.
  WriteFile(config_, "upload = only-a-prefix\n");
  RefusedUnchanged(Cat({"publish", id}, KeyArgs(Pki().endorser1())), 2, "config-invalid");
  WriteFile(config_, "");
  // An unusable credentials file.
  RefusedUnchanged(Cat({"publish", id, "--target", "file://" + (dir_ / "x.list").string(),
                        "--credentials-file", (dir_ / "none.cred").string()},
                       KeyArgs(Pki().endorser1())),
                   2, "config-invalid");
  // A certificate that does not fit.
  RefusedUnchanged(Cat({"publish", id, "--target", "file://" + (dir_ / "x.list").string()},
                       KeyArgs(Pki().expired())),
                   5, "certificate-unfit");
  EXPECT_FALSE(fs::exists(dir_ / "x.list"));
}

TEST_F(CasterCliTest, FailedPublishKeepsTheListAndRaisesOnlyTheVersionFloor) {
  const std::string id = CreateList();
  AddImage(id, MakeImage("a.img", 100));
  Sign(id, dir_ / "v1.list");
  const std::string before = Export(id);
  // The directory does not exist: the upload fails after signing.
  const RunResult r =
      Refused(Cat({"publish", id, "--target", "file://" + (dir_ / "no-dir/x.list").string()},
                  KeyArgs(Pki().endorser1())),
              3, "upload-failed");
  EXPECT_EQ(Export(id), before) << "the stored list changed after a failed upload";
  // Version 2 might have reached a server: the next signature goes above it.
  EXPECT_EQ(LsEntry(id).at("signed_version"), "2");
  EXPECT_EQ(Str(ListOf(*ParseJson(Sign(id, dir_ / "v3.list"))), "hv:version"), "3");
}

TEST_F(CasterCliTest, PublishWithImagesRefusesCollidingNames) {
  const std::string id = CreateList();
  fs::create_directories(dir_ / "one");
  fs::create_directories(dir_ / "two");
  WriteFile(dir_ / "one/disk.img", "first");
  WriteFile(dir_ / "two/disk.img", "second");
  AddImage(id, dir_ / "one/disk.img");
  AddImage(id, dir_ / "two/disk.img");
  fs::create_directories(dir_ / "www");
  const std::string target = "file://" + (dir_ / "www/test.list").string();
  const RunResult r = RefusedUnchanged(
      Cat({"publish", id, "--with-images", "--target", target}, KeyArgs(Pki().endorser1())), 5,
      "invalid-value");
  EXPECT_NE(ErrorMessageOf(r).find("disk.img"), std::string::npos) << ErrorMessageOf(r);
  EXPECT_TRUE(fs::is_empty(dir_ / "www"));

  // An image file named like the list itself would be overwritten by it.
  const std::string other = CreateList();
  WriteFile(dir_ / "test.list", "not a list");
  AddImage(other, dir_ / "test.list");
  RefusedUnchanged(
      Cat({"publish", other, "--with-images", "--target", target}, KeyArgs(Pki().endorser1())), 5,
      "invalid-value");
  EXPECT_TRUE(fs::is_empty(dir_ / "www"));
  // So would one named like the target, when that is not hv:uri's name.
  const std::string third = CreateList();
  fs::create_directories(dir_ / "three");
  WriteFile(dir_ / "three/upload.list", "not a list either");
  AddImage(third, dir_ / "three/upload.list");
  const RunResult t = RefusedUnchanged(Cat({"publish", third, "--with-images", "--target",
                                            "file://" + (dir_ / "www/upload.list").string()},
                                           KeyArgs(Pki().endorser1())),
                                       5, "invalid-value");
  EXPECT_NE(ErrorMessageOf(t).find("would be replaced by the list"), std::string::npos)
      << ErrorMessageOf(t);
  EXPECT_TRUE(fs::is_empty(dir_ / "www"));
}

TEST_F(CasterCliTest, PublishWithImagesRefusesAChangedImageFile) {
  const std::string id = CreateList();
  const fs::path file = MakeImage("a.img", 100);
  AddImage(id, file);
  WriteFile(file, "changed after it was measured");
  fs::create_directories(dir_ / "www");
  RefusedUnchanged(Cat({"publish", id, "--with-images", "--target",
                        "file://" + (dir_ / "www/test.list").string()},
                       KeyArgs(Pki().endorser1())),
                   6, "checksum-mismatch");
  EXPECT_TRUE(fs::is_empty(dir_ / "www"));
}

}  // namespace
}  // namespace vmc::test
