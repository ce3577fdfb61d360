// The members of archives made by tar(1) at test time, and the headers an
// unpacker must not be given.
#include "catcher/ova.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::catcher {
namespace {

namespace fs = std::filesystem;

class OvaTest : public ::testing::Test {
 protected:
  // tar ARGS... in the test's directory, which must succeed; the archive.
  std::string Tar(std::vector<std::string> args) {
    // The archive is a.ova; the members are named from the test's directory.
    for (std::string& arg : args) {
      if (arg == "a.ova") arg = (dir_ / "a.ova").string();
    }
    args.insert(args.begin(), {"tar", "-C", dir_.path().string()});
    const auto r = test::Run(args);
    EXPECT_EQ(r.exit_code, 0) << test::Describe(r);
    return test::ReadFile(dir_ / "a.ova");
  }

  test::TempDir dir_;
};

// What ReadOvaMembers finds in `archive`, which reads as zeros past its end
// up to `size` (a sparse archive larger than the test writes).
OvaListing List(const std::string& archive, std::uint64_t size = 0) {
  const ArchiveReader read = [&](std::uint64_t offset, std::size_t length) -> Result<std::string> {
    std::string out = offset < archive.size() ? archive.substr(offset, length) : "";
    if (size > archive.size()) out.resize(std::min<std::uint64_t>(length, size - offset), '\0');
    return out;
  };
  auto r = ReadOvaMembers(read, size != 0 ? size : archive.size());
  EXPECT_TRUE(r.ok());
  return r.ok() ? std::move(r).value() : OvaListing{};
}

TEST_F(OvaTest, MembersAreFoundWhereTarPutThem) {
  test::WriteFile(dir_ / "vm.ovf", "<Envelope/>");
  test::WriteFile(dir_ / "disk1.vmdk", std::string(5000, 'd'));
  fs::create_directory(dir_ / "sub");
  test::WriteFile(dir_ / "sub" / "disk2.img", std::string(512, 'e'));
  const std::string archive = Tar({"--format=ustar", "--no-recursion", "-cf", "a.ova", "vm.ovf",
                                   "disk1.vmdk", "sub", "sub/disk2.img"});
  const OvaListing listing = List(archive);
  EXPECT_EQ(listing.danger, "");
  ASSERT_EQ(listing.members.size(), 3u);  // the directory is no member
  EXPECT_EQ(listing.members[0].name, "vm.ovf");
  EXPECT_EQ(archive.substr(listing.members[0].offset, listing.members[0].size), "<Envelope/>");
  EXPECT_EQ(listing.members[1].name, "disk1.vmdk");
  EXPECT_EQ(archive.substr(listing.members[1].offset, listing.members[1].size),
            std::string(5000, 'd'));
  EXPECT_EQ(listing.members[2].name, "sub/disk2.img");
  EXPECT_EQ(archive.substr(listing.members[2].offset, 512), std::string(512, 'e'));
}

TEST_F(OvaTest, LinksAndDevicesAreNeverUnpacked) {
  test::WriteFile(dir_ / "disk.img", "x");
  fs::create_symlink("/etc/shadow", dir_ / "shadow");
  EXPECT_NE(List(Tar({"--format=ustar", "-cf", "a.ova", "disk.img", "shadow"}))
                .danger.find("a symbolic link (\"shadow\")"),
            std::string::npos);
  fs::create_hard_link(dir_ / "disk.img", dir_ / "again");
  EXPECT_NE(
      List(Tar({"--format=ustar", "-cf", "a.ova", "disk.img", "again"})).danger.find("a hard link"),
      std::string::npos);
  EXPECT_NE(List(Tar({"--format=ustar", "-cf", "a.ova", "-P", "/dev/null"})).danger.find("device"),
            std::string::npos);
}

TEST_F(OvaTest, NamesLeavingTheDirectoryAreRefused) {
  test::WriteFile(dir_ / "disk.img", "x");
  fs::create_directory(dir_ / "in");
  for (const std::string& name :
       std::vector<std::string>{"../disk.img", dir_.path().string() + "/disk.img"}) {
    const std::string archive = [&] {
      const auto r = test::Run({"tar", "-C", (dir_ / "in").string(), "--format=ustar", "-P", "-cf",
                                (dir_ / "a.ova").string(), name});
      EXPECT_EQ(r.exit_code, 0) << test::Describe(r);
      return test::ReadFile(dir_ / "a.ova");
    }();
    EXPECT_NE(List(archive).danger.find("outside the directory"), std::string::npos) << name;
  }
}

TEST_F(OvaTest, ExtensionHeadersAreRefused) {
  // A pax header may rename the next member or change its size: an
  // unpacker would follow it, the ustar fields read here would not.
  test::WriteFile(dir_ / "disk.img", "x");
  EXPECT_NE(List(Tar({"--format=pax", "-cf", "a.ova", "disk.img"})).danger.find("pax"),
            std::string::npos);
  const std::string long_name(120, 'n');
  test::WriteFile(dir_ / long_name, "x");
  EXPECT_NE(List(Tar({"--format=gnu", "-cf", "a.ova", long_name})).danger.find("GNU long name"),
            std::string::npos);
}

TEST_F(OvaTest, DamagedAndCutArchivesAreRefused) {
  test::WriteFile(dir_ / "disk.img", std::string(4096, 'd'));
  const std::string archive = Tar({"--format=ustar", "-cf", "a.ova", "disk.img"});
  std::string damaged = archive;
  damaged[0] = 'D';  // the name, under the checksum
  EXPECT_NE(List(damaged).danger.find("damaged tar header"), std::string::npos);
  EXPECT_NE(List(archive.substr(0, 2048)).danger.find("runs past"), std::string::npos);
  EXPECT_NE(List(archive.substr(0, 512 + 4096 + 100)).danger.find("within a tar block"),
            std::string::npos);
  EXPECT_NE(List(std::string(600, 'x')).danger.find("not a ustar"), std::string::npos);
}

TEST_F(OvaTest, MembersOfEightGibibytesAndMoreHaveBinarySizes) {
  test::WriteFile(dir_ / "disk.img", "x");
  std::string header = Tar({"--format=ustar", "-cf", "a.ova", "disk.img"}).substr(0, 512);
  // GNU tar and star write a size beyond 11 octal digits as 0x80 and
  // big-endian binary; the checksum then counts those bytes.
  const std::uint64_t nine_gib = std::uint64_t{9} << 30;
  header[124] = static_cast<char>(0x80);
  for (int i = 0; i < 11; ++i) {
    header[135 - i] = i < 8 ? static_cast<char>((nine_gib >> (8 * i)) & 0xff) : '\0';
  }
  header.replace(148, 8, 8, ' ');
  unsigned sum = 0;
  for (const char c : header) sum += static_cast<unsigned char>(c);
  char field[8];
  std::snprintf(field, sizeof field, "%06o", sum);
  header.replace(148, 7, std::string(field, 6) + '\0');
  const OvaListing listing = List(header, 512 + nine_gib + 1024);
  EXPECT_EQ(listing.danger, "");
  ASSERT_EQ(listing.members.size(), 1u);
  EXPECT_EQ(listing.members[0].size, nine_gib);
}

}  // namespace
}  // namespace vmc::catcher
