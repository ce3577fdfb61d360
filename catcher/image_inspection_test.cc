// The inspection against real images, made by qemu-img at test time
// (DESIGN.md section 13's threat rows are the tests named after them).
#include "catcher/image_inspection.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::catcher {
namespace {

namespace fs = std::filesystem;

class ImageInspectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto found = QemuImg::Find();
    ASSERT_TRUE(found.ok()) << found.error().ToString();
    qemu_.emplace(std::move(found).value());
    auto dir = SafeDir::Open(dir_.path());
    ASSERT_TRUE(dir.ok());
    safe_.emplace(std::move(dir).value());
  }

  // qemu-img ARGS..., which must succeed.
  void QemuImgRun(std::vector<std::string> args) {
    args.insert(args.begin(), "qemu-img");
    const auto r = test::Run(args);
    ASSERT_EQ(r.exit_code, 0) << test::Describe(r);
  }

  fs::path Create(const std::string& name, const std::string& format, const std::string& size,
                  std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"create", "-q", "-f", format};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back((dir_ / name).string());
    args.push_back(size);
    QemuImgRun(args);
    return dir_ / name;
  }

  ImageInspection Inspect(const std::string& name) {
    auto r = InspectImage(*qemu_, *safe_, name, std::chrono::seconds(30));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
    return r.ok() ? std::move(r).value() : ImageInspection{};
  }

  // The judgement of `name` declared `declared`: its format of record, or
  // the error's code name.
  std::string Judge(const std::string& name, const std::string& declared,
                    const FormatRules& rules = {}) {
    const auto r = JudgeInspection(Inspect(name), declared, rules);
    return r.ok() ? *r : std::string(ErrorCodeName(r.error().code()));
  }

  test::TempDir dir_;
  std::optional<QemuImg> qemu_;
  std::optional<SafeDir> safe_;
};

TEST_F(ImageInspectionTest, EveryFormatASiteTakesIsReadAsItself) {
  for (const std::string format : {"qcow2", "raw", "vmdk", "vdi", "vpc", "vhdx"}) {
    Create("disk." + format, format, "4M");
    const auto inspection = Inspect("disk." + format);
    EXPECT_EQ(inspection.format, format);
    EXPECT_EQ(inspection.danger, "") << format;
    EXPECT_GE(inspection.virtual_size, 4u << 20) << format;
    EXPECT_EQ(Judge("disk." + format, format), format);
  }
  EXPECT_EQ(Judge("disk.raw", "img"), "raw");
  EXPECT_EQ(Judge("disk.vpc", "VHD"), "vpc");
}

TEST_F(ImageInspectionTest, AFixedVhdIsFoundByItsFooter) {
  Create("fixed.vhd", "vpc", "4M", {"-o", "subformat=fixed"});
  EXPECT_EQ(Inspect("fixed.vhd").format, "vpc");
  EXPECT_EQ(Judge("fixed.vhd", "vhd"), "vpc");
}

TEST_F(ImageInspectionTest, BackingFileImageRejected) {
  test::WriteFile(dir_ / "host-secret", "the host's own file");
  Create("backed.qcow2", "qcow2", "4M", {"-b", (dir_ / "host-secret").string(), "-F", "raw"});
  const auto inspection = Inspect("backed.qcow2");
  EXPECT_NE(inspection.danger.find("backing file"), std::string::npos) << inspection.danger;
  EXPECT_EQ(Judge("backed.qcow2", "qcow2"), "format-unsafe");
  // Undeclared or declared raw, it is still never taken as a disk.
  EXPECT_EQ(Judge("backed.qcow2", ""), "format-unsafe");
}

TEST_F(ImageInspectionTest, ExternalDataFileImageRejected) {
  Create("data.qcow2", "qcow2", "4M", {"-o", "data_file=" + (dir_ / "host-data").string()});
  const auto inspection = Inspect("data.qcow2");
  EXPECT_NE(inspection.danger.find("external data file"), std::string::npos) << inspection.danger;
  EXPECT_EQ(Judge("data.qcow2", "qcow2"), "format-unsafe");
}

TEST_F(ImageInspectionTest, AnEncryptedQcow2IsRejected) {
  // qemu-img's LUKS set-up times its key derivation and fails on a busy
  // machine ("Unable to get accurate CPU usage"), so the header says it
  // instead: crypt_method (offset 32) 1, AES, as qcow2.txt defines it.
  const fs::path file = Create("secret.qcow2", "qcow2", "4M");
  std::string bytes = test::ReadFile(file);
  bytes[35] = 1;
  test::WriteFile(file, bytes);
  EXPECT_NE(Inspect("secret.qcow2").danger.find("encrypted"), std::string::npos);
  EXPECT_EQ(Judge("secret.qcow2", "qcow2"), "format-unsafe");
}

TEST_F(ImageInspectionTest, VmdkHostExtentRejected) {
  test::WriteFile(dir_ / "host-disk", std::string(1 << 20, 'h'));
  test::WriteFile(dir_ / "descriptor.vmdk",
                  "# Disk DescriptorFile\nversion=1\nCID=fffffffe\n"
                  "parentCID=ffffffff\ncreateType=\"monolithicFlat\"\n"
                  "RW 2048 FLAT \"" +
                      (dir_ / "host-disk").string() + "\" 0\n");
  // qemu-img itself opens it, host file and all: only catcher's own reading
  // of the bytes keeps qemu-img from being asked.
  const auto inspection = Inspect("descriptor.vmdk");
  EXPECT_EQ(inspection.format, "vmdk-descriptor");
  EXPECT_NE(inspection.danger.find("VMDK descriptor"), std::string::npos);
  EXPECT_EQ(Judge("descriptor.vmdk", "vmdk"), "format-unsafe");
}

// What qemu-img takes the file for when it is left to probe, as a
// hypervisor or an importer that is not told the format would: its format,
// or why it could not open it.
std::string QemuProbe(const fs::path& file) {
  const auto r = test::Run({"qemu-img", "info", "--output=json", "-U", file.string()});
  if (r.exit_code != 0) return "unopened: " + r.err;
  const auto info = ParseQemuImgInfo(r.out);
  return info.ok() ? info->format : "unreadable: " + r.out;
}

std::string MagicOf(const SafeDir& dir, const std::string& name) {
  const auto magic = ReadMagic(dir, name, nullptr);
  return magic.ok() ? magic->format : magic.error().ToString();
}

TEST_F(ImageInspectionTest, WhatCatcherReadsAsRawQemuProbesAsRaw) {
  // Bytes read as raw are never given to qemu-img (image_inspection.cc), so
  // no probe of qemu's may find a format in them: each created format, and
  // the text a VMDK descriptor probe accepts in its every shape.
  std::vector<std::string> created;
  for (const auto& [format, options] :
       std::vector<std::pair<std::string, std::string>>{{"qcow2", ""},
                                                        {"qcow", ""},
                                                        {"qed", ""},
                                                        {"vdi", ""},
                                                        {"vpc", ""},
                                                        {"vpc", "subformat=fixed"},
                                                        {"vhdx", ""},
                                                        {"vmdk", ""},
                                                        {"vmdk", "subformat=streamOptimized"},
                                                        {"vmdk", "subformat=monolithicFlat"},
                                                        {"parallels", ""}}) {
    const std::string name = "made-" + std::to_string(created.size()) + "." + format;
    Create(name, format, "4M",
           options.empty() ? std::vector<std::string>{} : std::vector<std::string>{"-o", options});
    created.push_back(name);
  }
  const std::vector<std::string> texts = {
      "version=1\nRW 8 FLAT \"x\" 0\n",
      "# a comment\n   \nversion=2\nRW 8 FLAT \"x\" 0\n",
      "#\n  \r\nversion=3\r\nRW 8 FLAT \"x\" 0\n",
      "\t\nversion=1\n",
      "\nversion=1\n",
      "# Disk DescriptorFile\nversion=1\n",
      "version=4\n",
      " version=1\n",
      "# only comments\n# and more\n",
      "hello, world\n",
      std::string(4096, '\0'),
  };
  std::vector<std::string> names = created;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string name = "text-" + std::to_string(i);
    test::WriteFile(dir_ / name, texts[i] + std::string(8192, '\0'));
    names.push_back(name);
  }
  for (const std::string& name : names) {
    const std::string magic = MagicOf(*safe_, name);
    const std::string probe = QemuProbe(dir_ / name);
    if (QemuDriverOf(magic) == "raw") {
      EXPECT_EQ(probe, "raw") << name << " is " << magic;
    }
  }
  // And a format qemu finds is the one catcher finds. A fixed VHD is the
  // exception: its only header is the footer at its end, which qemu's probe
  // does not read (it is a raw disk to qemu, and a VHD to catcher).
  for (const std::string& name : created) {
    if (name == "made-5.vpc") continue;
    const std::string magic = MagicOf(*safe_, name);
    EXPECT_EQ(magic == "vmdk-descriptor" ? "vmdk" : magic, QemuProbe(dir_ / name)) << name;
  }
}

TEST_F(ImageInspectionTest, ADifferencingVhdIsRefused) {
  // qemu-img makes no differencing VHD; the footer's disk type (offset 60,
  // big-endian) says what one is, in the copy at the start of a dynamic
  // disk or in the footer at its end.
  for (const bool at_start : {true, false}) {
    const fs::path file = Create("child.vhd", "vpc", "4M");
    std::string bytes = test::ReadFile(file);
    bytes[(at_start ? 0 : bytes.size() - 512) + 63] = 4;
    test::WriteFile(file, bytes);
    EXPECT_NE(Inspect("child.vhd").danger.find("differencing"), std::string::npos) << at_start;
    EXPECT_EQ(Judge("child.vhd", "vhd"), "format-unsafe");
    fs::remove(file);
  }
}

TEST_F(ImageInspectionTest, AVmdkExtentOtherThanTheFileIsADanger) {
  QemuImgInfo info;
  info.extents = {"/var/lib/catcher/cache/.sha512/abc"};
  EXPECT_EQ(QemuDanger(info, "/var/lib/catcher/cache/.sha512/abc"), "");
  info.extents.emplace_back("/etc/shadow");
  EXPECT_NE(QemuDanger(info, "/var/lib/catcher/cache/.sha512/abc").find("/etc/shadow"),
            std::string::npos);
}

TEST_F(ImageInspectionTest, FormatMismatchRejected) {
  Create("disk.qcow2", "qcow2", "4M");
  Create("disk.raw", "raw", "4M");
  // A qcow2 declared raw: a hypervisor told raw would hand the guest its
  // header; one that probes would follow it.
  EXPECT_EQ(Judge("disk.qcow2", "raw"), "format-mismatch");
  EXPECT_EQ(Judge("disk.raw", "qcow2"), "format-mismatch");
  EXPECT_EQ(Judge("disk.qcow2", "vmdk"), "format-mismatch");
  const auto r = JudgeInspection(Inspect("disk.qcow2"), "raw", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "it is declared raw (hv:format) but its bytes are qcow2");
  EXPECT_EQ(ExitStatusFor(r.error().code()), 6);
}

TEST_F(ImageInspectionTest, OversizedVirtualDiskRejected) {
  Create("bomb.qcow2", "qcow2", "1P");
  EXPECT_LT(fs::file_size(dir_ / "bomb.qcow2"), 1u << 30);  // a small file
  FormatRules rules;
  rules.max_virtual_bytes = std::uint64_t{1} << 40;
  EXPECT_EQ(Judge("bomb.qcow2", "qcow2", rules), "format-unsafe");
  rules.max_virtual_bytes = std::uint64_t{1} << 50;
  EXPECT_EQ(Judge("bomb.qcow2", "qcow2", rules), "qcow2");
}

TEST_F(ImageInspectionTest, UndeclaredFormatsAreTheRulesChoice) {
  Create("disk.qcow2", "qcow2", "4M");
  EXPECT_EQ(Judge("disk.qcow2", ""), "qcow2");
  EXPECT_EQ(Judge("disk.qcow2", "OVF"), "qcow2");
  FormatRules strict;
  strict.accept_undeclared = false;
  EXPECT_EQ(Judge("disk.qcow2", "", strict), "format-mismatch");
  EXPECT_EQ(Judge("disk.qcow2", "OVF", strict), "format-mismatch");
  EXPECT_EQ(Judge("disk.qcow2", "qcow2", strict), "qcow2");
}

TEST_F(ImageInspectionTest, FormatsCatcherDoesNotTakeAreRefusedBeforeQemuImgOpensThem) {
  Create("disk.qed", "qed", "4M");
  const auto inspection = Inspect("disk.qed");
  EXPECT_EQ(inspection.format, "qed");
  EXPECT_NE(inspection.danger.find("does not take"), std::string::npos);
  EXPECT_EQ(Judge("disk.qed", ""), "format-unsafe");
}

TEST_F(ImageInspectionTest, AnIsoIsAnIsoOrARawDisk) {
  std::string iso(64 * 1024, '\0');
  iso.replace(0x8001, 5, "CD001");
  test::WriteFile(dir_ / "cd.iso", iso);
  EXPECT_EQ(Inspect("cd.iso").format, "iso");
  EXPECT_EQ(Judge("cd.iso", "iso"), "iso");
  EXPECT_EQ(Judge("cd.iso", "raw"), "raw");
  EXPECT_EQ(Judge("cd.iso", "qcow2"), "format-mismatch");
}

// An OVA of the files `members` of the test's directory (tar --format=ustar).
void MakeOva(const fs::path& dir, const std::string& name, std::vector<std::string> members) {
  std::vector<std::string> argv = {
      "tar", "-C", dir.string(), "--format=ustar", "-cf", (dir / name).string()};
  argv.insert(argv.end(), members.begin(), members.end());
  const auto r = test::Run(argv);
  ASSERT_EQ(r.exit_code, 0) << test::Describe(r);
}

TEST_F(ImageInspectionTest, AnOvaIsWhatItsMembersAre) {
  test::WriteFile(dir_ / "vm.ovf", "<Envelope/>");
  Create("disk1.qcow2", "qcow2", "4M");
  Create("disk2.vmdk", "vmdk", "8M", {"-o", "subformat=streamOptimized"});
  MakeOva(dir_.path(), "vm.ova", {"vm.ovf", "disk1.qcow2", "disk2.vmdk"});
  const auto inspection = Inspect("vm.ova");
  EXPECT_EQ(inspection.format, "ova");
  EXPECT_EQ(inspection.danger, "");
  EXPECT_EQ(inspection.virtual_size, (12u << 20) + 11);  // both disks and the descriptor
  EXPECT_EQ(Judge("vm.ova", "ova"), "ova");
}

TEST_F(ImageInspectionTest, AnOvaMemberNamingHostFilesIsRefused) {
  // Each danger of a disk is a danger of the OVA that carries it: a cloud
  // importing the OVA opens its disks as images of their own.
  test::WriteFile(dir_ / "host-secret", "the host's own file");
  test::WriteFile(dir_ / "vm.ovf", "<Envelope/>");
  Create("backed.qcow2", "qcow2", "4M", {"-b", (dir_ / "host-secret").string(), "-F", "raw"});
  Create("data.qcow2", "qcow2", "4M", {"-o", "data_file=" + (dir_ / "host-data").string()});
  test::WriteFile(dir_ / "descriptor.vmdk",
                  "# Disk DescriptorFile\nversion=1\nRW 8 FLAT \"/etc/shadow\" 0\n");
  Create("inner.qcow2", "qcow2", "4M");
  MakeOva(dir_.path(), "inner.ova", {"vm.ovf", "inner.qcow2"});
  for (const auto& [member, danger] :
       std::vector<std::pair<std::string, std::string>>{{"backed.qcow2", "backing file"},
                                                        {"data.qcow2", "external data file"},
                                                        {"descriptor.vmdk", "VMDK descriptor"},
                                                        {"inner.ova", "an OVA within an OVA"}}) {
    MakeOva(dir_.path(), "vm.ova", {"vm.ovf", member});
    const auto inspection = Inspect("vm.ova");
    EXPECT_NE(inspection.danger.find("its OVA member \"" + member + "\": "), std::string::npos)
        << inspection.danger;
    EXPECT_NE(inspection.danger.find(danger), std::string::npos) << inspection.danger;
    EXPECT_EQ(Judge("vm.ova", "ova"), "format-unsafe") << member;
  }
}

TEST_F(ImageInspectionTest, AnOvaMemberIsReadByQemuImgAsAFileOfItsOwn) {
  // qemu-img names a member's VMDK extent by the raw layer over the member
  // (QemuFileName): that is the disk itself; anything else is not.
  const ByteRange range{1536, 65536};
  QemuImgInfo info;
  info.extents = {
      R"(json:{"offset": 1536, "driver": "raw", "size": 65536, "file": {"driver": "file", )"
      R"("filename": "/c/.sha512/abc"}})"};
  EXPECT_EQ(QemuDanger(info, "/c/.sha512/abc", range), "");
  for (const std::string other :
       {R"(json:{"offset": 0, "driver": "raw", "size": 65536, "file": {"driver": "file", )"
        R"("filename": "/c/.sha512/abc"}})",
        R"(json:{"offset": 1536, "driver": "raw", "size": 65536, "file": {"driver": "file", )"
        R"("filename": "/etc/shadow"}})",
        R"(json:{"offset": 1536, "driver": "raw", "size": 65536, "file": {"driver": "file", )"
        R"("filename": "/c/.sha512/abc", "x": 1}})",
        "/c/.sha512/abc"}) {
    info.extents = {other};
    EXPECT_NE(QemuDanger(info, "/c/.sha512/abc", range), "") << other;
  }
}

TEST_F(ImageInspectionTest, ALinkIsNeverFollowed) {
  Create("disk.qcow2", "qcow2", "4M");
  fs::create_symlink(dir_ / "disk.qcow2", dir_ / "link");
  const auto r = InspectImage(*qemu_, *safe_, "link", std::chrono::seconds(30));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnsafePath);
}

TEST_F(ImageInspectionTest, OnlyQemuImgsOwnRefusalIsAVerdictOnTheBytes) {
  // Real qemu-img refusing bytes as the driver asked exits 1: kept.
  Create("disk.raw", "raw", "4M");
  const auto refused = qemu_->Info(dir_ / "disk.raw", "qcow2", std::chrono::seconds(30));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kFormatUnsafe) << refused.error().ToString();
  // A qemu-img killed (out of memory, an operator's kill) said nothing of
  // them: the inspection is an error of this run, asked again next time.
  // No real qemu-img dies on cue, so a stand-in on PATH does.
  const fs::path bin = dir_ / "bin";
  fs::create_directories(bin);
  test::WriteFile(bin / "qemu-img",
                  "#!/bin/sh\n[ \"$1\" = --version ] && echo 'qemu-img version 9.9.9' && exit 0\n"
                  "kill -9 $$\n");
  fs::permissions(bin / "qemu-img", fs::perms::owner_all);
  const std::string path = std::getenv("PATH");
  setenv("PATH", bin.c_str(), 1);
  auto killed = QemuImg::Find();
  setenv("PATH", path.c_str(), 1);
  ASSERT_TRUE(killed.ok()) << killed.error().ToString();
  EXPECT_EQ(killed->version(), "9.9.9");
  const auto r = InspectImage(*killed, *safe_, "disk.raw", std::chrono::seconds(30));
  ASSERT_TRUE(r.ok());  // raw: qemu-img is not asked
  Create("disk.qcow2", "qcow2", "4M");
  const auto info = InspectImage(*killed, *safe_, "disk.qcow2", std::chrono::seconds(30));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code(), ErrorCode::kIo) << info.error().ToString();
}

TEST(ParseQemuImgInfoTest, ReadsTheFieldsThatBearOnSafety) {
  const auto info = ParseQemuImgInfo(R"({"virtual-size": 1048576, "filename": "/x",
      "format": "qcow2", "backing-filename": "/etc/passwd", "encrypted": true,
      "format-specific": {"type": "qcow2", "data": {"data-file": "/dev/sda",
      "extents": [{"filename": "/a"}, {"filename": "/b"}]}}})");
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  EXPECT_EQ(info->format, "qcow2");
  EXPECT_EQ(info->virtual_size, 1048576u);
  EXPECT_EQ(info->backing_file, "/etc/passwd");
  EXPECT_EQ(info->data_file, "/dev/sda");
  EXPECT_TRUE(info->encrypted);
  EXPECT_EQ(info->extents, (std::vector<std::string>{"/a", "/b"}));
}

TEST(ParseQemuImgInfoTest, RefusesWhatQemuImgDoesNotWrite) {
  EXPECT_FALSE(ParseQemuImgInfo("").ok());
  EXPECT_FALSE(ParseQemuImgInfo("[]").ok());
  EXPECT_FALSE(ParseQemuImgInfo(R"({"format": "raw"})").ok());
  EXPECT_FALSE(ParseQemuImgInfo(R"({"virtual-size": -1})").ok());
  EXPECT_FALSE(ParseQemuImgInfo(R"({"virtual-size": 1, "virtual-size": 2})").ok());
}

TEST(ImageFormatTest, NormalFormats) {
  EXPECT_EQ(NormalFormat("QCOW2"), "qcow2");
  EXPECT_EQ(NormalFormat("img"), "raw");
  EXPECT_EQ(NormalFormat("vhd"), "vpc");
  EXPECT_EQ(NormalFormat("ova"), "ova");
  EXPECT_FALSE(NormalFormat("").has_value());
  EXPECT_FALSE(NormalFormat("qed").has_value());
  EXPECT_FALSE(NormalFormat("raw ").has_value());
  EXPECT_EQ(QemuDriverOf("iso"), "raw");
  EXPECT_EQ(QemuDriverOf("vpc"), "vpc");
}

}  // namespace
}  // namespace vmc::catcher
