// The inspection of images at the cache (DESIGN.md section 13), end to end:
// real images made by qemu-img at test time, served by nginx over HTTPS,
// cached by the catcher binary, told to a real event handler.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "catcher/image_inspection.h"
#include "test/support/catcher_e2e.h"
#include "test/support/event_log.h"
#include "test/support/json_output.h"
#include "test/support/list_factory.h"
#include "test/support/nginx.h"
#include "test/support/sha512sum.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {
namespace {

namespace fs = std::filesystem;

struct Disk {
  std::string id;
  std::string format;  // what the list declares
  fs::path file;       // as served
  std::string sha;
  std::string url;
  std::size_t size = 0;
};

class CatcherFormatsTest : public CatcherE2eTest<CatcherFormatsTest> {
 protected:
  void SetUp() override {
    CatcherE2eTest::SetUp();
    if (HasFatalFailure()) return;
    events_ = dir_ / "events.log";
    const fs::path handler = dir_ / "handler.sh";
    WriteFile(handler, std::string("#!/bin/sh\nlog=$1\n") + kRecordEventLine);
    WriteFile(config_, "event-command = /bin/sh " + handler.string() + " " + events_.string() +
                           "\ndownloads = 2\n");
    WritePolicy();
  }

  void WritePolicy(const std::string& rest = "") {
    CatcherE2eTest::WritePolicy(Sub("sub", Url("list"), "e1", R"(, "images": "all")"), rest);
  }

  // qemu-img create ARGS..., into this test's served directory.
  Disk Make(const std::string& id, const std::string& real_format, const std::string& declared,
            std::vector<std::string> options = {}, const std::string& size = "4M") {
    Disk d;
    d.id = id;
    d.format = declared;
    d.file = server_->root() / name_ / (id + ".img");
    std::vector<std::string> argv = {"qemu-img", "create", "-q", "-f", real_format};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back(d.file.string());
    argv.push_back(size);
    const RunResult r = test::Run(argv);
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    fs::permissions(d.file, fs::perms::others_read | fs::perms::group_read, fs::perm_options::add);
    d.sha = Sha512SumOf(d.file);
    d.url = Url(id + ".img");
    d.size = fs::file_size(d.file);
    return d;
  }

  void Publish(const std::string& version, const std::vector<Disk>& disks) {
    ListSpec spec;
    spec.identifier = list_id_;
    spec.version = version;
    spec.expires =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()) +
        std::chrono::hours(24 * 30);
    for (const Disk& d : disks) {
      ImageSpec s{};
      s.identifier = d.id;
      s.uri = d.url;
      s.size = d.size;
      s.sha512 = d.sha;
      s.title = "Disk " + d.id;
      if (!d.format.empty()) s.text["hv:format"] = d.format;
      spec.images.push_back(std::move(s));
    }
    CatcherE2eTest::Publish("list", spec);
  }

  fs::path ContentFile(const std::string& sha) const { return state_ / "cache" / ".sha512" / sha; }
  fs::path ViewFile(const std::string& id) const { return state_ / "cache" / id; }

  // `images --json`: identifier -> its reason.
  std::map<std::string, std::string> Reasons() const {
    std::map<std::string, std::string> out;
    for (const auto& [id, fields] : ItemsOf("images", "identifier")) out[id] = fields.at("reason");
    return out;
  }

  // How many times nginx served `d` (its log entries, after a short wait).
  std::size_t Fetches(const Disk& d, std::size_t at_least) const {
    const std::string path = "/" + name_ + "/" + d.id + ".img";
    return server_->WaitForLog(path, at_least, std::chrono::milliseconds(500)).size();
  }

  void ExpectRefused(const Disk& d, const std::string& code) {
    SCOPED_TRACE("image " + d.id);
    EXPECT_FALSE(fs::exists(ContentFile(d.sha)));
    EXPECT_FALSE(fs::exists(ViewFile(d.id)));
    EXPECT_TRUE(fs::is_empty(state_ / "partial"));
    EXPECT_EQ(ImageStates().at(d.id), "refused");
    EXPECT_EQ(Reasons().at(d.id).rfind(code + ": ", 0), 0u) << Reasons().at(d.id);
    const auto events = ReadEvents(events_);
    EXPECT_TRUE(EventsFor(events, "AvailablePrefix", d.id).empty());
    EXPECT_TRUE(EventsFor(events, "AvailablePostfix", d.id).empty());
  }

  // A qcow2 of 256 MiB of random bytes (kept raw as `id`.data): qemu-img
  // takes a while to convert it, long enough for a test to act meanwhile.
  Disk SlowToConvert(const std::string& id) {
    const fs::path data = dir_ / (id + ".data");
    const RunResult made =
        test::Run({"sh", "-c", "head -c 268435456 /dev/urandom > " + data.string()});
    EXPECT_EQ(made.exit_code, 0) << Describe(made);
    Disk disk;
    disk.id = id;
    disk.format = "qcow2";
    disk.file = server_->root() / name_ / (id + ".img");
    const RunResult converted = test::Run({"qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2",
                                           data.string(), disk.file.string()});
    EXPECT_EQ(converted.exit_code, 0) << Describe(converted);
    fs::permissions(disk.file, fs::perms::others_read | fs::perms::group_read,
                    fs::perm_options::add);
    disk.sha = Sha512SumOf(disk.file);
    disk.url = Url(id + ".img");
    disk.size = fs::file_size(disk.file);
    return disk;
  }

  std::string list_id_ = NewTestUuid();
  fs::path events_;
};

// The threat rows of DESIGN.md section 13, each at the cache: the image is
// refused with its code, its bytes leave the cache, no Available event runs,
// `images` says why, and it is not fetched again while the list names it.
TEST_F(CatcherFormatsTest, UnsafeAndMismatchedImagesAreRefusedAndTheRestCached) {
  WriteFile(dir_ / "host-file", "a file of the host");
  const Disk good = Make("good", "qcow2", "qcow2");
  const Disk raw_declared = Make("qcow2-as-raw", "qcow2", "raw", {}, "5M");
  const Disk qcow2_declared = Make("raw-as-qcow2", "raw", "qcow2");
  const Disk backed =
      Make("backed", "qcow2", "qcow2", {"-b", (dir_ / "host-file").string(), "-F", "raw"});
  const Disk data_file =
      Make("data-file", "qcow2", "qcow2", {"-o", "data_file=" + (dir_ / "host-data").string()});
  Publish("1", {good, raw_declared, qcow2_declared, backed, data_file});

  const RunResult r = Catcher({"--json", "run", "--once"});
  EXPECT_EQ(r.exit_code, 6) << Describe(r);
  const std::string code = ErrorCodeOf(r);
  EXPECT_TRUE(code == "format-mismatch" || code == "format-unsafe") << Describe(r);
  for (const std::string id : {"qcow2-as-raw", "raw-as-qcow2", "backed", "data-file"}) {
    EXPECT_NE(r.err.find("image " + id + " refused: "), std::string::npos) << id << Describe(r);
  }
  ExpectRefused(raw_declared, "format-mismatch");
  ExpectRefused(qcow2_declared, "format-mismatch");
  ExpectRefused(backed, "format-unsafe");
  ExpectRefused(data_file, "format-unsafe");
  EXPECT_NE(Reasons().at("backed").find("backing file"), std::string::npos);

  EXPECT_EQ(ImageStates().at("good"), "cached");
  EXPECT_EQ(Sha512SumOf(ViewFile("good")), good.sha);
  const auto postfix = EventsFor(ReadEvents(events_), "AvailablePostfix", "good");
  ASSERT_EQ(postfix.size(), 1u);
  EXPECT_EQ(Var(postfix[0], "CATCHER_EVENT_FORMAT"), "qcow2");
  EXPECT_EQ(Var(postfix[0], "CATCHER_EVENT_SOURCE_SHA512"), good.sha);
  EXPECT_EQ(Var(postfix[0], "CATCHER_EVENT_FILE_SHA512"), good.sha);
  EXPECT_EQ(Var(postfix[0], "VMCATCHER_EVENT_FILENAME"), "good");

  // What was found is kept: the next run fetches nothing again, and
  // refusing is not a failure of it.
  const RunResult again = Catcher({"--json", "run", "--once"});
  EXPECT_EQ(again.exit_code, 0) << Describe(again);
  for (const Disk& d : {good, raw_declared, backed}) EXPECT_EQ(Fetches(d, 2), 1u) << d.id;
  ExpectRefused(backed, "format-unsafe");
  const RunResult metrics = Catcher({"status", "--prometheus"});
  EXPECT_NE(metrics.out.find("\ncatcher_images{state=\"refused\"} 4\n"), std::string::npos)
      << metrics.out;
}

TEST_F(CatcherFormatsTest, OversizedVirtualDiskRejectedUntilThePolicyAllowsIt) {
  const Disk big = Make("big", "qcow2", "qcow2", {}, "64M");
  const Disk small = Make("small", "qcow2", "qcow2", {}, "1M");
  Publish("1", {big, small});
  WritePolicy(R"(, "limits": {"max_virtual_bytes": 16777216})");

  const RunResult r = Catcher({"--json", "run", "--once"});
  EXPECT_EQ(r.exit_code, 6) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "format-unsafe") << Describe(r);
  ExpectRefused(big, "format-unsafe");
  EXPECT_NE(Reasons().at("big").find("max_virtual_bytes of 16777216"), std::string::npos);
  EXPECT_EQ(ImageStates().at("small"), "cached");

  // The admin raises the limit: the image is wanted, fetched and cached.
  WritePolicy(R"(, "limits": {"max_virtual_bytes": 1073741824})");
  const RunResult raised = Catcher({"--json", "run", "--once"});
  EXPECT_EQ(raised.exit_code, 0) << Describe(raised);
  EXPECT_EQ(ImageStates().at("big"), "cached");
  EXPECT_EQ(Sha512SumOf(ViewFile("big")), big.sha);

  // And lowers it again: the image available so far expires, as any image
  // the policy no longer allows.
  WritePolicy(R"(, "limits": {"max_virtual_bytes": 16777216})");
  const RunResult lowered = Catcher({"--json", "run", "--once"});
  EXPECT_EQ(lowered.exit_code, 0) << Describe(lowered);
  EXPECT_EQ(ImageStates().at("big"), "refused");
  EXPECT_FALSE(fs::exists(ViewFile("big")));
  EXPECT_FALSE(fs::exists(state_ / "expired" / "big"));
  EXPECT_FALSE(fs::exists(ContentFile(big.sha)));
  EXPECT_EQ(EventsFor(ReadEvents(events_), "ExpirePostfix", "big").size(), 1u);
}

TEST_F(CatcherFormatsTest, UndeclaredFormatsAreThePolicysChoice) {
  const Disk undeclared = Make("undeclared", "vmdk", "");
  Publish("1", {undeclared});
  WritePolicy(R"(, "undeclared_formats": "refuse")");
  const RunResult r = Catcher({"--json", "run", "--once"});
  EXPECT_EQ(r.exit_code, 6) << Describe(r);
  ExpectRefused(undeclared, "format-mismatch");

  WritePolicy();  // accept, the default
  const RunResult accepted = Catcher({"--json", "run", "--once"});
  EXPECT_EQ(accepted.exit_code, 0) << Describe(accepted);
  EXPECT_EQ(ImageStates().at("undeclared"), "cached");
  const auto postfix = EventsFor(ReadEvents(events_), "AvailablePostfix", "undeclared");
  ASSERT_EQ(postfix.size(), 1u);
  EXPECT_EQ(Var(postfix[0], "CATCHER_EVENT_FORMAT"), "vmdk");
}

// --- conversion -------------------------------------------------------------------

// The `cache --json` report's count `key`.
std::uint64_t Count(const RunResult& r, const char* key) {
  auto doc = ParseJson(Lines(r.out).empty() ? "" : Lines(r.out).front());
  if (!doc || !doc->IsObject() || !doc->HasMember(key) || !(*doc)[key].IsUint64()) {
    ADD_FAILURE() << "no " << key << " in " << r.out;
    return 0;
  }
  return (*doc)[key].GetUint64();
}

std::size_t FilesIn(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

// Two lists name the same qcow2 bytes; the site takes raw. The bytes are
// converted once, the second list's image costs no conversion, and each
// handler is given the raw file with both SHA-512s.
TEST_F(CatcherFormatsTest, ConvertedOnceForTwoListsNamingTheSameBytes) {
  WriteFile(config_, ReadFile(config_) + "formats = raw\n");
  const Disk disk = Make("disk", "qcow2", "qcow2", {}, "8M");
  ListSpec a;
  a.identifier = NewTestUuid();
  ListSpec b;
  b.identifier = NewTestUuid();
  for (ListSpec* spec : {&a, &b}) {
    spec->version = "1";
    spec->expires =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()) +
        std::chrono::hours(24 * 30);
    ImageSpec s;
    s.identifier = spec == &a ? "a-disk" : "b-disk";
    s.uri = disk.url;
    s.size = disk.size;
    s.sha512 = disk.sha;
    s.text["hv:format"] = "qcow2";
    spec->images.push_back(s);
  }
  CatcherE2eTest::Publish("list-a", a);
  CatcherE2eTest::Publish("list-b", b);
  CatcherE2eTest::WritePolicy(Sub("a", Url("list-a"), "e1", R"(, "images": "all")") + ", " +
                              Sub("b", Url("list-b"), "e1", R"(, "images": "all")"));
  UpdateOk();

  const RunResult r = Catcher({"--json", "cache"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Count(r, "converted"), 1u) << Describe(r);
  EXPECT_EQ(Count(r, "made_available"), 2u) << r.out;
  const std::string raw_sha = Sha512SumOf(ViewFile("a-disk"));
  EXPECT_NE(raw_sha, disk.sha);
  EXPECT_EQ(Sha512SumOf(ViewFile("b-disk")), raw_sha);
  EXPECT_EQ(test::Run({"qemu-img", "info", "-f", "raw", ViewFile("a-disk").string()}).exit_code, 0);
  // The source stays beside its conversion, each under its own SHA-512.
  EXPECT_EQ(Sha512SumOf(ContentFile(disk.sha)), disk.sha);
  EXPECT_EQ(Sha512SumOf(ContentFile(raw_sha)), raw_sha);
  EXPECT_EQ(FilesIn(state_ / "cache" / ".sha512"), 2u);
  const auto events = ReadEvents(events_);
  for (const std::string id : {"a-disk", "b-disk"}) {
    const auto postfix = EventsFor(events, "AvailablePostfix", id);
    ASSERT_EQ(postfix.size(), 1u) << id;
    EXPECT_EQ(Var(postfix[0], "CATCHER_EVENT_FORMAT"), "raw");
    EXPECT_EQ(Var(postfix[0], "CATCHER_EVENT_SOURCE_SHA512"), disk.sha);
    EXPECT_EQ(Var(postfix[0], "CATCHER_EVENT_FILE_SHA512"), raw_sha);
    EXPECT_EQ(Var(postfix[0], "VMCATCHER_EVENT_HV_FORMAT"), "qcow2");
    EXPECT_EQ(Var(postfix[0], "VMCATCHER_EVENT_SL_CHECKSUM_SHA512"), disk.sha);
  }
  const auto images = ItemsOf("images", "identifier");
  EXPECT_EQ(images.at("a-disk").at("state"), "cached");
  EXPECT_EQ(images.at("a-disk").at("format"), "qcow2");
  EXPECT_EQ(images.at("a-disk").at("file_format"), "raw");
  EXPECT_EQ(images.at("a-disk").at("file_sha512"), raw_sha);
  const RunResult status = Catcher({"--json", "status"});
  EXPECT_NE(status.out.find("\"file_format\":\"raw\",\"file_sha512\":\"" + raw_sha + "\""),
            std::string::npos)
      << status.out;
  const RunResult metrics = Catcher({"status", "--prometheus"});
  EXPECT_NE(metrics.out.find("\ncatcher_images_converted 2\n"), std::string::npos) << metrics.out;
  const auto exported = Catcher({"export", "--format", "json"});
  EXPECT_NE(exported.out.find("\"file_sha512\":\"" + raw_sha + "\""), std::string::npos)
      << exported.out;

  // Nothing to do the second time: no conversion, nothing announced.
  const RunResult again = Catcher({"--json", "cache"});
  ASSERT_EQ(again.exit_code, 0) << Describe(again);
  EXPECT_EQ(Count(again, "converted"), 0u);
  EXPECT_EQ(Count(again, "made_available"), 0u);

  // cache --check re-proves both files; a damaged conversion is moved out,
  // its images expire, and the next run converts again.
  const RunResult check = Catcher({"--json", "cache", "--check"});
  EXPECT_EQ(check.exit_code, 0) << Describe(check);
  EXPECT_EQ(Count(check, "checked"), 2u);  // the source and its conversion
  EXPECT_EQ(Count(check, "checked_bytes"), disk.size + fs::file_size(ContentFile(raw_sha)));
  const RunResult text = Catcher({"cache", "--check"});
  EXPECT_EQ(text.out.rfind("checked 2 files (" +
                               std::to_string(disk.size + fs::file_size(ContentFile(raw_sha))) +
                               " bytes), downloaded 0, ",
                           0),
            0u)
      << text.out;
  {
    std::fstream f(ContentFile(raw_sha), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('!');
  }
  const RunResult damaged = Catcher({"--json", "cache", "--check"});
  EXPECT_EQ(damaged.exit_code, 6) << Describe(damaged);
  EXPECT_FALSE(fs::exists(ContentFile(raw_sha)));
  EXPECT_EQ(EventsFor(ReadEvents(events_), "ExpirePostfix", "a-disk").size(), 1u);
  EXPECT_TRUE(fs::exists(ContentFile(disk.sha)));
  const RunResult redone = Catcher({"--json", "cache"});
  ASSERT_EQ(redone.exit_code, 0) << Describe(redone);
  EXPECT_EQ(Count(redone, "converted"), 1u);
  EXPECT_EQ(Sha512SumOf(ViewFile("a-disk")), raw_sha);
  EXPECT_EQ(Sha512SumOf(ViewFile("b-disk")), raw_sha);
}

// A site that sets `formats` after its images were cached: the next run
// converts them and gives the handler the converted file, announced anew.
TEST_F(CatcherFormatsTest, FormatsSetLaterConvertWhatIsCached) {
  const Disk disk = Make("disk", "qcow2", "qcow2", {}, "6M");
  Publish("1", {disk});
  UpdateOk();
  const RunResult first = Catcher({"--json", "cache"});
  ASSERT_EQ(first.exit_code, 0) << Describe(first);
  EXPECT_EQ(Sha512SumOf(ViewFile("disk")), disk.sha);

  WriteFile(config_, ReadFile(config_) + "formats = raw\n");
  const RunResult r = Catcher({"--json", "cache"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Count(r, "converted"), 1u);
  const std::string raw_sha = Sha512SumOf(ViewFile("disk"));
  EXPECT_NE(raw_sha, disk.sha);
  const auto postfix = EventsFor(ReadEvents(events_), "AvailablePostfix", "disk");
  ASSERT_EQ(postfix.size(), 2u);
  EXPECT_EQ(Var(postfix[0], "CATCHER_EVENT_FORMAT"), "qcow2");
  EXPECT_EQ(Var(postfix[1], "CATCHER_EVENT_FORMAT"), "raw");
  EXPECT_EQ(Var(postfix[1], "CATCHER_EVENT_FILE_SHA512"), raw_sha);
  EXPECT_EQ(ImageStates().at("disk"), "cached");
  const RunResult again = Catcher({"--json", "cache"});
  EXPECT_EQ(Count(again, "made_available"), 0u);
}

// A site that stops taking a format: the image is given its own bytes
// again, announced anew, and the conversion to the old format leaves the
// cache with its record.
TEST_F(CatcherFormatsTest, AFormatNoLongerTakenLeavesNoConversionBehind) {
  const std::string plain = ReadFile(config_);
  WriteFile(config_, plain + "formats = raw\n");
  const Disk disk = Make("disk", "qcow2", "qcow2", {}, "6M");
  Publish("1", {disk});
  UpdateOk();
  const RunResult first = Catcher({"--json", "cache"});
  ASSERT_EQ(first.exit_code, 0) << Describe(first);
  const std::string raw_sha = Sha512SumOf(ViewFile("disk"));
  ASSERT_EQ(FilesIn(state_ / "cache" / ".sha512"), 2u);

  WriteFile(config_, plain + "formats = qcow2, raw\n");
  const RunResult r = Catcher({"--json", "cache"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Count(r, "converted"), 0u);
  EXPECT_EQ(Sha512SumOf(ViewFile("disk")), disk.sha);
  EXPECT_FALSE(fs::exists(ContentFile(raw_sha)));
  EXPECT_EQ(FilesIn(state_ / "cache" / ".sha512"), 1u);
  const auto postfix = EventsFor(ReadEvents(events_), "AvailablePostfix", "disk");
  ASSERT_EQ(postfix.size(), 2u);
  EXPECT_EQ(Var(postfix[1], "CATCHER_EVENT_FORMAT"), "qcow2");
  EXPECT_EQ(Var(postfix[1], "CATCHER_EVENT_FILE_SHA512"), disk.sha);
  const RunResult dump =
      test::Run({"mdb_dump", "-p", "-s", "conversions", (state_ / "db").string()});
  EXPECT_EQ(dump.out.find(raw_sha), std::string::npos) << dump.out;
}

// A conversion whose file is gone from the cache (removed by hand, with the
// view) is made again, not trusted: the image becomes available again.
TEST_F(CatcherFormatsTest, AConversionWhoseFileIsGoneIsMadeAgain) {
  WriteFile(config_, ReadFile(config_) + "formats = raw\n");
  const Disk disk = Make("disk", "qcow2", "qcow2", {}, "6M");
  Publish("1", {disk});
  UpdateOk();
  ASSERT_EQ(Catcher({"cache"}).exit_code, 0);
  const std::string raw_sha = Sha512SumOf(ViewFile("disk"));
  fs::remove(ContentFile(raw_sha));
  fs::remove(ViewFile("disk"));

  const RunResult r = Catcher({"--json", "cache"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Count(r, "converted"), 1u);
  EXPECT_EQ(Sha512SumOf(ViewFile("disk")), raw_sha);
  EXPECT_EQ(Sha512SumOf(ContentFile(raw_sha)), raw_sha);
  EXPECT_EQ(ImageStates().at("disk"), "cached");
}

// Rewrites the state database as an older catcher would have left it: each
// of its databases, dumped (mdb_dump: a line of hex per key and value),
// becomes what `edit` makes of it (empty: dropped), and is loaded into a
// new db/. (mdb_load cannot read back the long lines of mdb_dump -p.)
void RewriteDb(const fs::path& state,
               const std::function<std::string(const std::string& name, std::string dump)>& edit) {
  const fs::path db = state / "db";
  const RunResult dump = Run({"mdb_dump", "-a", db.string()});
  ASSERT_EQ(dump.exit_code, 0) << Describe(dump);
  std::string kept;
  std::string block;
  std::string name;
  for (const auto& line : Lines(dump.out)) {
    block += line + "\n";
    if (line.starts_with("database=")) name = line.substr(9);
    if (line == "DATA=END") {
      kept += edit(name, block);
      block.clear();
      name.clear();
    }
  }
  WriteFile(state / "dump.txt", kept);
  fs::remove_all(db);
  fs::create_directory(db);
  fs::permissions(db, fs::perms::owner_all);
  const RunResult load = Run({"mdb_load", "-f", (state / "dump.txt").string(), db.string()});
  ASSERT_EQ(load.exit_code, 0) << Describe(load);
  fs::remove(state / "dump.txt");
}

// The data lines of an mdb_dump (" " and hex) as text, and back.
std::string FromHexLines(const std::string& dump) {
  std::string out;
  for (const auto& line : Lines(dump)) {
    if (!line.starts_with(' ')) {
      out += line + "\n";
      continue;
    }
    out += ' ';
    for (std::size_t i = 1; i + 1 < line.size(); i += 2) {
      out += static_cast<char>(std::stoi(line.substr(i, 2), nullptr, 16));
    }
    out += '\n';
  }
  return out;
}

std::string ToHexLines(const std::string& text) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const auto& line : Lines(text)) {
    if (!line.starts_with(' ')) {
      out += line + "\n";
      continue;
    }
    out += ' ';
    for (std::size_t i = 1; i < line.size(); ++i) {
      const auto c = static_cast<unsigned char>(line[i]);
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
    out += '\n';
  }
  return out;
}

// The state of a catcher from before inspections were kept: the database
// without its "inspections".
void ForgetInspections(const fs::path& state) {
  bool had = false;
  RewriteDb(state, [&](const std::string& name, std::string dump) {
    if (name != "inspections") return dump;
    had = true;
    return std::string();
  });
  EXPECT_TRUE(had) << "no inspections to forget";
}

// Images a catcher cached before it inspected images are inspected by the
// next run: converted when the site takes another format, and expired when
// their bytes are refused.
TEST_F(CatcherFormatsTest, ImagesCachedBeforeInspectionsAreInspectedOnce) {
  const Disk small = Make("small", "qcow2", "qcow2", {}, "3M");
  const Disk big = Make("big", "qcow2", "qcow2", {}, "64M");
  Publish("1", {small, big});
  UpdateOk();
  ASSERT_EQ(Catcher({"--json", "cache"}).exit_code, 0);
  ForgetInspections(state_);
  if (HasFatalFailure()) return;
  EXPECT_EQ(ItemsOf("images", "identifier").at("small").at("format"), "");
  EXPECT_EQ(ImageStates().at("small"), "cached");
  // big's view is damaged (a copy, no longer a link of its bytes): it is
  // offered again, and withdrawn all the same when its bytes are refused.
  fs::copy_file(ViewFile("big"), dir_ / "big-copy");
  fs::rename(dir_ / "big-copy", ViewFile("big"));

  WriteFile(config_, ReadFile(config_) + "formats = raw\n");
  WritePolicy(R"(, "limits": {"max_virtual_bytes": 16777216})");
  const RunResult r = Catcher({"--json", "cache"});
  EXPECT_EQ(r.exit_code, 6) << Describe(r);
  EXPECT_EQ(Count(r, "converted"), 1u);
  EXPECT_NE(Sha512SumOf(ViewFile("small")), small.sha);
  EXPECT_EQ(Var(EventsFor(ReadEvents(events_), "AvailablePostfix", "small").back(),
                "CATCHER_EVENT_FORMAT"),
            "raw");
  // It was available: it expires as any image the policy no longer allows.
  EXPECT_EQ(ImageStates().at("big"), "refused");
  EXPECT_EQ(Reasons().at("big").rfind("format-unsafe: ", 0), 0u) << Reasons().at("big");
  EXPECT_FALSE(fs::exists(ViewFile("big")));
  EXPECT_FALSE(fs::exists(ContentFile(big.sha)));
  // Refused bytes leave the cache whole: not kept in expired/ either.
  EXPECT_FALSE(fs::exists(state_ / "expired" / "big"));
  EXPECT_EQ(EventsFor(ReadEvents(events_), "ExpirePostfix", "big").size(), 1u);
  const RunResult again = Catcher({"--json", "cache"});
  EXPECT_EQ(ImageStates().at("big"), "refused");
}

// SIGTERM while qemu-img converts: the daemon stops the conversion, even one
// that makes no progress (here qemu-img is SIGSTOPped, as a conversion
// stuck on a slow disk would be), and exits 0 at once; nothing reaches the
// cache, no qemu-img is left, and the next run converts.
TEST_F(CatcherFormatsTest, SigtermStopsAConversion) {
  WriteFile(config_, ReadFile(config_) + "formats = raw\n");
  const Disk disk = SlowToConvert("big");
  if (HasFatalFailure()) return;
  Publish("1", {disk});
  const fs::path partial = state_ / "partial" / (disk.sha + ".raw.convert");
  const fs::path log = dir_ / "daemon.log";
  auto daemon = Start({"-v", "run", "--interval", "1h"}, log);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(partial); }, std::chrono::seconds(60)))
      << ReadFile(log);
  const RunResult stopped = test::Run({"pkill", "-STOP", "-f", partial.string()});
  ASSERT_EQ(stopped.exit_code, 0) << "qemu-img finished first: " << ReadFile(log);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon->Stop(), 0) << ReadFile(log);  // SIGTERM, then SIGKILL after 5 s
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_NE(test::Run({"pgrep", "-f", partial.string()}).exit_code, 0) << "qemu-img left running";
  test::Run({"pkill", "-KILL", "-f", partial.string()});
  EXPECT_FALSE(fs::exists(partial));
  EXPECT_EQ(FilesIn(state_ / "cache" / ".sha512"), 1u);  // the source only
  const std::string text = ReadFile(log);
  EXPECT_NE(text.find("to raw stopped for the exit; the next run converts it again"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("catcher: error"), std::string::npos) << text;

  const RunResult r = Catcher({"--json", "cache"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Count(r, "converted"), 1u);
  EXPECT_EQ(ImageStates().at("big"), "cached");
}

// An inspection by older rules (kInspectionRules) is not trusted: the bytes
// are inspected again. The record planted here says the bytes are unsafe;
// what today's rules find (a raw disk) is what counts.
TEST_F(CatcherFormatsTest, InspectionsByOlderRulesAreMadeAgain) {
  const Disk disk = Make("disk", "raw", "raw");
  Publish("1", {disk});
  UpdateOk();
  ASSERT_EQ(Catcher({"cache"}).exit_code, 0);
  std::size_t planted = 0;
  RewriteDb(state_, [&](const std::string& name, std::string hex) {
    if (name != "inspections") return hex;
    std::string dump = FromHexLines(hex);
    const std::string rules = "\"rules\":" + std::to_string(catcher::kInspectionRules);
    const std::string danger = R"("danger":"")";
    for (auto at = dump.find(rules); at != std::string::npos; at = dump.find(rules, at)) {
      dump.replace(at, rules.size(), R"("rules":1)");
      ++planted;
    }
    for (auto at = dump.find(danger); at != std::string::npos; at = dump.find(danger, at)) {
      dump.replace(at, danger.size(), R"("danger":"by older rules")");
    }
    return ToHexLines(dump);
  });
  if (HasFatalFailure()) return;
  ASSERT_EQ(planted, 1u);

  const RunResult r = Catcher({"--json", "cache"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ImageStates().at("disk"), "cached");
  EXPECT_TRUE(fs::exists(ViewFile("disk")));
  const RunResult dump =
      test::Run({"mdb_dump", "-p", "-s", "inspections", (state_ / "db").string()});
  EXPECT_EQ(dump.out.find("by older rules"), std::string::npos) << dump.out;
  EXPECT_NE(dump.out.find("\"rules\":" + std::to_string(catcher::kInspectionRules)),
            std::string::npos);
}

// SIGKILL while qemu-img converts: nothing reaches the cache, nothing is
// recorded, and the next run converts it and makes it available.
TEST_F(CatcherFormatsTest, KilledDuringAConversionLeavesNoConvertedFile) {
  WriteFile(config_, ReadFile(config_) + "formats = raw\n");
  const Disk disk = SlowToConvert("big");
  if (HasFatalFailure()) return;
  Publish("1", {disk});
  UpdateOk();

  const fs::path partial = state_ / "partial" / (disk.sha + ".raw.convert");
  {
    BackgroundProcess cache(Argv({"cache"}), dir_ / "cache.log", CatcherOptions());
    ASSERT_TRUE(WaitFor([&] { return fs::exists(partial); }, std::chrono::seconds(60)))
        << ReadFile(dir_ / "cache.log");
    // Stopped, qemu-img cannot finish by itself before the test looks.
    ASSERT_EQ(test::Run({"pkill", "-STOP", "-f", partial.string()}).exit_code, 0)
        << "qemu-img finished first";
    kill(cache.pid(), SIGKILL);
    cache.Wait();
  }
  // qemu-img dies with catcher (setpriv --pdeathsig): it writes no more.
  EXPECT_TRUE(WaitFor(
      [&] {
        return test::Run({"pgrep", "-f", partial.string()}).exit_code != 0;
      },
      std::chrono::seconds(5)))
      << "qemu-img outlived catcher";
  test::Run({"pkill", "-KILL", "-f", partial.string()});
  EXPECT_EQ(FilesIn(state_ / "cache" / ".sha512"), 1u);  // the source only
  EXPECT_FALSE(fs::exists(ViewFile("big")));
  const auto before = ItemsOf("images", "identifier");
  EXPECT_EQ(before.at("big").at("state"), "wanted");
  EXPECT_EQ(before.at("big").at("file_sha512"), "");

  const RunResult r = Catcher({"--json", "cache"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Count(r, "converted"), 1u);
  EXPECT_EQ(Count(r, "downloaded"), 0u);
  EXPECT_FALSE(fs::exists(partial));
  const std::string raw_sha = Sha512SumOf(ViewFile("big"));
  EXPECT_EQ(ReadFile(ViewFile("big")), ReadFile(dir_ / "big.data"));
  EXPECT_EQ(ItemsOf("images", "identifier").at("big").at("file_sha512"), raw_sha);
  const auto postfix = EventsFor(ReadEvents(events_), "AvailablePostfix", "big");
  ASSERT_EQ(postfix.size(), 1u);
  EXPECT_EQ(Var(postfix[0], "CATCHER_EVENT_FILE_SHA512"), raw_sha);
}

}  // namespace
}  // namespace vmc::test
