// The progress bars of caster's long transfers (issue 18), seen as a person
// sees them: the real caster executable with its stderr a pseudo-terminal,
// against a real nginx on loopback (HTTPS, WebDAV PUT), for
//   - `image add --fetch`: nginx sends Content-Length, so the bar shows the
//     total and reaches 100%, and
//   - `publish --with-images`: one bar per image uploaded, with the file's
//     size as the total; none for the small list itself.
// The same commands with stderr a pipe (scripts, logs, CI) print nothing at
// all on stderr.
#include <gtest/gtest.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "test/support/caster_e2e.h"
#include "test/support/nginx.h"
#include "test/support/pki.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {
namespace {

namespace fs = std::filesystem;

// The final frame of a bar that ended at 100% of a known total: the bar's
// text up to the rate, which depends on the machine.
std::string FullBar(const std::string& label, const std::string& total) {
  return label + " [########################] 100%  " + total + "/" + total + "  ";
}

// The lines a terminal showed that hold `text` (a bar redraws within its
// line with "\r", so all frames of one bar are one line).
size_t LinesWith(const std::string& terminal, const std::string& text) {
  size_t count = 0;
  size_t start = 0;
  while (start < terminal.size()) {
    size_t end = terminal.find('\n', start);
    if (end == std::string::npos) end = terminal.size();
    if (terminal.substr(start, end - start).find(text) != std::string::npos) ++count;
    start = end + 1;
  }
  return count;
}

class CasterProgressTest : public CasterE2eTest {
 protected:
  static void SetUpTestSuite() {
    NginxOptions dav;
    dav.dav_put = true;
    dav_ = StartNginx(std::move(dav)).release();
  }
  static void TearDownTestSuite() {
    delete dav_;
    dav_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(dav_, nullptr);
    name_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    WriteFile(config_, "ca-dir = " + TestPki::Get().ca_dir().string() + "\n");
    list_uri_ = dav_->Url("/" + name_ + "/lists/test.list");
    list_ = Trim(
        Ok({"list", "create", "--title", "Progress", "--description",
            "Images for caster_progress_e2e_test", "--source", "example.org", "--uri", list_uri_}));
  }

  // An image of 3 MiB exactly ("3.0 MiB") served by nginx; its URL.
  std::string ServedImage() const {
    const fs::path dir = dav_->root() / name_ / "mirror";
    fs::create_directories(dir);
    WriteFile(dir / "served.qcow2", RandomBytes(3 << 20, 1));
    return dav_->Url("/" + name_ + "/mirror/served.qcow2");
  }

  std::vector<std::string> FetchArgs(const std::string& url) const {
    return {"image", "add", list_, "--uri", url, "--fetch"};
  }

  // Two local images (3 MiB and 1 MiB plus 5 bytes) added to the list.
  void AddLocalImages() {
    const fs::path alpha = dir_ / "alpha.qcow2";
    const fs::path beta = dir_ / "beta.raw";
    WriteFile(alpha, RandomBytes(3 << 20, 2));
    WriteFile(beta, RandomBytes((1 << 20) + 5, 3));
    Ok({"image", "add", list_, "--uri", "https://mirror.example/alpha.qcow2", "--file",
        alpha.string()});
    Ok({"image", "add", list_, "--uri", "https://mirror.example/beta.raw", "--file",
        beta.string()});
  }

  std::vector<std::string> PublishArgs() const {
    std::vector<std::string> args = {"publish", list_, "--with-images"};
    for (const auto& k : KeyArgs(TestPki::Get().endorser1())) args.push_back(k);
    return args;
  }

  static NginxServer* dav_;
  std::string name_;
  std::string list_uri_;
  std::string list_;
};

NginxServer* CasterProgressTest::dav_ = nullptr;

TEST_F(CasterProgressTest, FetchOnATerminalShowsTotalAndPercent) {
  const RunResult r = CasterOnTerminal(FetchArgs(ServedImage()));
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.err.find(FullBar("served.qcow2", "3.0 MiB")), std::string::npos) << r.err;
  EXPECT_EQ(LinesWith(r.err, "served.qcow2 ["), 1u) << "one bar per transfer:\n" << r.err;
  EXPECT_EQ(r.err.substr(r.err.size() - 2), "\r\n") << "the bar ends its line";
  // The bar is on stderr only: stdout is the identifier, as without one.
  EXPECT_EQ(r.out.find('%'), std::string::npos) << r.out;
}

TEST_F(CasterProgressTest, FetchWithoutATerminalPrintsNoBar) {
  const RunResult r = Caster(FetchArgs(ServedImage()));
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.err, "");
}

TEST_F(CasterProgressTest, PublishWithImagesOnATerminalShowsOneBarPerImage) {
  AddLocalImages();
  const RunResult r = CasterOnTerminal(PublishArgs());
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.err.find(FullBar("alpha.qcow2", "3.0 MiB")), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(FullBar("beta.raw", "1.0 MiB")), std::string::npos) << r.err;
  EXPECT_EQ(LinesWith(r.err, "alpha.qcow2 ["), 1u) << r.err;
  EXPECT_EQ(LinesWith(r.err, "beta.raw ["), 1u) << r.err;
  EXPECT_EQ(LinesWith(r.err, "test.list"), 0u) << "no bar for the list itself:\n" << r.err;
  EXPECT_EQ(fs::file_size(dav_->root() / name_ / "lists/alpha.qcow2"), 3u << 20);
}

TEST_F(CasterProgressTest, PublishWithImagesWithoutATerminalPrintsNoBar) {
  AddLocalImages();
  const RunResult r = Caster(PublishArgs());
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(fs::file_size(dav_->root() / name_ / "lists/alpha.qcow2"), 3u << 20);
}

}  // namespace
}  // namespace vmc::test
