// End-to-end test of the publisher's whole job (issue 3): the real caster
// executable builds a list of two images measured from files, signs it with
// an endorser of the test PKI and uploads it
//   - to a real nginx over HTTPS with WebDAV PUT and basic auth, and
//   - to a real OpenSSH sshd over SFTP, into the document root of a second
//     nginx, as a submitter publishes to the web server of a site.
// What was published is fetched back with the `curl` command and checked with
// the stock tools a site would use: `openssl smime -verify -CApath <CA dir>`
// and `sha512sum` of the images. Failed uploads (wrong password, wrong SSH
// key, server down) must leave the stored list and the remote list as they
// were.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "test/support/caster_e2e.h"
#include "test/support/json_output.h"
#include "test/support/nginx.h"
#include "test/support/pki.h"
#include "test/support/sshd.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {
namespace {

namespace fs = std::filesystem;

constexpr char kUser[] = "submitter";
constexpr char kPassword[] = "Pa55-for-the-dav-server";

const TestPki& Pki() { return TestPki::Get(); }

// A credentials file as an operator keeps it (mode 0600).
fs::path Credentials(const fs::path& file, const std::string& text) {
  WriteFile(file, text);
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
  return file;
}

// The images of a list's JSON, by identifier: (hv:uri, checksum, size).
struct PublishedImage {
  std::string uri;
  std::string sha512;
  uint64_t size = 0;
};
std::map<std::string, PublishedImage> ImagesOf(const std::string& json) {
  std::map<std::string, PublishedImage> out;
  auto doc = ParseJson(json);
  if (!doc || !doc->HasMember("hv:imagelist")) {
    ADD_FAILURE() << "not a list: " << json;
    return out;
  }
  for (const auto& item : (*doc)["hv:imagelist"]["hv:images"].GetArray()) {
    const auto& image = item["hv:image"];
    out[Str(image, "dc:identifier")] = {Str(image, "hv:uri"), Str(image, "sl:checksum:sha512"),
                                        image["hv:size"].GetUint64()};
  }
  return out;
}

class CasterPublishTest : public CasterE2eTest {
 protected:
  static void SetUpTestSuite() {
    // The WebDAV server: every request needs the password, as an upload
    // area does.
    NginxOptions dav;
    dav.dav_put = true;
    dav.basic_auth = std::make_pair(std::string(kUser), std::string(kPassword));
    dav_ = StartNginx(std::move(dav)).release();
    // The web server behind the SFTP account: read-only, public.
    web_ = StartNginx({}).release();
    sshd_ = SshServer::Start().release();
  }
  static void TearDownTestSuite() {
    delete dav_;
    delete web_;
    delete sshd_;
    dav_ = web_ = nullptr;
    sshd_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(dav_, nullptr);
    ASSERT_NE(web_, nullptr);
    ASSERT_NE(sshd_, nullptr);
    name_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    WriteFile(config_, "ca-dir = " + Pki().ca_dir().string() + "\n");
    dav_credentials_ = Credentials(
        dir_ / "dav.cred", std::string("username = ") + kUser + "\npassword = " + kPassword + "\n");
    ssh_credentials_ =
        Credentials(dir_ / "ssh.cred", "ssh-key = " + sshd_->user_key().string() + "\n");
    image_a_ = dir_ / "alpha.qcow2";
    image_b_ = dir_ / "beta.raw";
    WriteFile(image_a_, RandomBytes((1 << 20) + 11, 1));
    WriteFile(image_b_, RandomBytes(300000, 2));
  }

  // A list published at `uri` with the two images, their hv:uri on a mirror.
  std::string MakeList(const std::string& uri) {
    std::string id = Trim(Ok({"list", "create", "--title", "Published list", "--description",
                              "Two images, published by caster_publish_e2e_test", "--source",
                              "example.org", "--uri", uri}));
    ids_["alpha"] =
        Trim(Ok({"image", "add", id, "--uri", "https://mirror.example/alpha.qcow2", "--file",
                 image_a_.string(), "--title", "Alpha", "--set", "hv:format=qcow2"}));
    ids_["beta"] =
        Trim(Ok({"image", "add", id, "--uri", "https://mirror.example/beta.raw", "--file",
                 image_b_.string(), "--title", "Beta", "--set", "hv:format=raw"}));
    return id;
  }

  std::vector<std::string> Publish(const std::string& id, std::vector<std::string> extra) const {
    std::vector<std::string> args = {"publish", id, "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    for (const auto& k : KeyArgs(Pki().endorser1())) args.push_back(k);
    return args;
  }

  // Fetches `url` with the curl command, trusting only the test CA
  // directory, into `out`; returns curl's exit status.
  int Curl(const std::string& url, const fs::path& out, bool with_password) const {
    std::vector<std::string> argv = {"curl",     "--silent",  "--show-error",
                                     "--fail",   "--capath",  Pki().ca_dir().string(),
                                     "--output", out.string()};
    if (with_password) {
      argv.emplace_back("--user");
      argv.push_back(std::string(kUser) + ":" + kPassword);
    }
    argv.push_back(url);
    const RunResult r = test::Run(argv);
    EXPECT_EQ(r.exit_code, 0) << url << "\n" << Describe(r);
    return r.exit_code;
  }

  // Verifies a fetched signed list as a site would, with the stock openssl
  // command and the test CA directory (CRLs included); returns its JSON.
  std::string OpensslVerify(const fs::path& signed_file) const {
    const fs::path content = signed_file.string() + ".json";
    const RunResult r =
        test::Run({"openssl", "smime", "-verify", "-CApath", Pki().ca_dir().string(),
                   "-crl_check_all", "-in", signed_file.string(), "-out", content.string()});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    EXPECT_NE(r.err.find("Verification successful"), std::string::npos) << r.err;
    return fs::exists(content) ? StripCr(ReadFile(content)) : "";
  }

  // The published list's checksums are those sha512sum gives for the files.
  void ExpectImagesOfTheFiles(const std::string& json) const {
    auto images = ImagesOf(json);
    ASSERT_EQ(images.size(), 2u) << json;
    EXPECT_EQ(images[ids_.at("alpha")].sha512, Sha512Sum(image_a_));
    EXPECT_EQ(images[ids_.at("alpha")].size, fs::file_size(image_a_));
    EXPECT_EQ(images[ids_.at("beta")].sha512, Sha512Sum(image_b_));
    EXPECT_EQ(images[ids_.at("beta")].size, fs::file_size(image_b_));
  }

  // The store's "lists" database as mdb_dump prints it, and the version
  // floor of list `id`.
  std::string ListsDump() const {
    const RunResult r = MustRun({"mdb_dump", "-s", "lists", "-p", store_.string()});
    return r.out;
  }
  std::string SignedVersion(const std::string& id) const {
    auto doc = ParseJson(Ok({"list", "ls", "--json"}));
    if (!doc || !doc->IsArray()) return "<no list ls>";
    for (const auto& item : doc->GetArray()) {
      if (Str(item, "identifier") == id) return Str(item, "signed_version");
    }
    return "<absent>";
  }

  static NginxServer* dav_;
  static NginxServer* web_;
  static SshServer* sshd_;
  std::string name_;
  fs::path dav_credentials_;
  fs::path ssh_credentials_;
  fs::path image_a_;
  fs::path image_b_;
  std::map<std::string, std::string> ids_;
};

NginxServer* CasterPublishTest::dav_ = nullptr;
NginxServer* CasterPublishTest::web_ = nullptr;
SshServer* CasterPublishTest::sshd_ = nullptr;

TEST_F(CasterPublishTest, PublishedOverHttpsPutAndVerifiedWithOpenssl) {
  // hv:uri is an https:// URL: it is its own upload target.
  const std::string uri = dav_->Url("/" + name_ + "/lists/test.list");
  const std::string id = MakeList(uri);
  const RunResult r = Caster(Publish(id, {"--credentials-file", dav_credentials_.string()}));
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto out = ParseJson(Trim(r.out));
  ASSERT_NE(out, nullptr) << r.out;
  EXPECT_EQ(Str(*out, "version"), "1");
  EXPECT_EQ(Str(*out, "target"), uri);
  const auto puts = dav_->WaitForLog("/" + name_ + "/lists/test.list", 1);
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_EQ(puts[0].method, "PUT");
  EXPECT_EQ(r.out.find(kPassword), std::string::npos);
  EXPECT_EQ(r.err.find(kPassword), std::string::npos);

  ASSERT_EQ(Curl(uri, dir_ / "fetched.list", true), 0);
  const std::string json = OpensslVerify(dir_ / "fetched.list");
  ExpectImagesOfTheFiles(json);
  // What was published is what the store holds.
  EXPECT_EQ(StripCr(Ok({"list", "export", id})), json);
  EXPECT_EQ(SignedVersion(id), "1");
  // Image URIs were left alone (no --with-images).
  EXPECT_EQ(ImagesOf(json)[ids_["alpha"]].uri, "https://mirror.example/alpha.qcow2");
  EXPECT_FALSE(fs::exists(dav_->root() / name_ / "lists/alpha.qcow2"));
}

TEST_F(CasterPublishTest, PublishedOverSftpToTheWebServersRoot) {
  // The list lives on the public web server; the config maps its URL to the
  // SFTP account that writes that server's document root.
  const std::string uri = web_->Url("/" + name_ + "/test.list");
  const fs::path remote_dir = web_->root() / name_;
  fs::create_directories(remote_dir);
  WriteFile(config_, "ca-dir = " + Pki().ca_dir().string() + "\nknown-hosts = " +
                         sshd_->known_hosts().string() + "\nupload = " + web_->Url("/") + " " +
                         sshd_->Url(web_->root() / "") + " " + ssh_credentials_.string() + "\n");
  const std::string id = MakeList(uri);
  const RunResult r = Caster(Publish(id, {}));
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto out = ParseJson(Trim(r.out));
  ASSERT_NE(out, nullptr) << r.out;
  // Reported without the user name (URLs in output never carry userinfo).
  EXPECT_EQ(Str(*out, "target"), "sftp://127.0.0.1:" + std::to_string(sshd_->port()) +
                                     (remote_dir / "test.list").string());
  EXPECT_NE(sshd_->Log().find("Accepted publickey for " + sshd_->user()), std::string::npos)
      << sshd_->Log();
  EXPECT_NE(sshd_->Log().find("sftp"), std::string::npos) << sshd_->Log();

  ASSERT_EQ(Curl(uri, dir_ / "fetched.list", false), 0);
  const std::string json = OpensslVerify(dir_ / "fetched.list");
  ExpectImagesOfTheFiles(json);
  EXPECT_EQ(StripCr(Ok({"list", "export", id})), json);
  // Replaced by rename: no temporary file is left in the document root.
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(remote_dir)) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"test.list"});

  // A second publication replaces the first, one version up.
  ASSERT_EQ(Caster(Publish(id, {})).exit_code, 0);
  ASSERT_EQ(Curl(uri, dir_ / "second.list", false), 0);
  auto second = ParseJson(OpensslVerify(dir_ / "second.list"));
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(Str((*second)["hv:imagelist"], "hv:version"), "2");
}

TEST_F(CasterPublishTest, WithImagesOverHttpsUploadsImagesBesideTheListAndRewritesUris) {
  const std::string uri = dav_->Url("/" + name_ + "/lists/test.list");
  const std::string id = MakeList(uri);
  const RunResult r =
      Caster(Publish(id, {"--with-images", "--credentials-file", dav_credentials_.string()}));
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ASSERT_EQ(Curl(uri, dir_ / "fetched.list", true), 0);
  const std::string json = OpensslVerify(dir_ / "fetched.list");
  ExpectImagesOfTheFiles(json);
  auto images = ImagesOf(json);
  EXPECT_EQ(images[ids_["alpha"]].uri, dav_->Url("/" + name_ + "/lists/alpha.qcow2"));
  EXPECT_EQ(images[ids_["beta"]].uri, dav_->Url("/" + name_ + "/lists/beta.raw"));
  // Each image, fetched from its new hv:uri, is the file it was measured from.
  for (const auto& [name, file] : {std::pair<std::string, fs::path>{"alpha", image_a_},
                                   std::pair<std::string, fs::path>{"beta", image_b_}}) {
    const fs::path fetched = dir_ / ("fetched-" + name);
    ASSERT_EQ(Curl(images[ids_[name]].uri, fetched, true), 0);
    EXPECT_EQ(Sha512Sum(fetched), images[ids_[name]].sha512) << name;
  }
  // The store holds the list as published, with the new image URIs.
  EXPECT_EQ(StripCr(Ok({"list", "export", id})), json);
  // The images went up before the list: a subscriber never sees the list
  // without its images.
  const auto log = dav_->AccessLog();
  std::vector<std::string> order;
  for (const auto& e : log) {
    if (e.method == "PUT" && e.uri.rfind("/" + name_ + "/", 0) == 0) order.push_back(e.uri);
  }
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order.back(), "/" + name_ + "/lists/test.list");
}

TEST_F(CasterPublishTest, WithImagesOverSftp) {
  const std::string uri = web_->Url("/" + name_ + "/test.list");
  fs::create_directories(web_->root() / name_);
  const std::string id = MakeList(uri);
  const RunResult r = Caster(
      Publish(id, {"--with-images", "--target", sshd_->Url(web_->root() / name_ / "test.list"),
                   "--credentials-file", ssh_credentials_.string(), "--known-hosts",
                   sshd_->known_hosts().string()}));
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ASSERT_EQ(Curl(uri, dir_ / "fetched.list", false), 0);
  const std::string json = OpensslVerify(dir_ / "fetched.list");
  auto images = ImagesOf(json);
  EXPECT_EQ(images[ids_["alpha"]].uri, web_->Url("/" + name_ + "/alpha.qcow2"));
  ASSERT_EQ(Curl(images[ids_["beta"]].uri, dir_ / "beta", false), 0);
  EXPECT_EQ(Sha512Sum(dir_ / "beta"), Sha512Sum(image_b_));
}

TEST_F(CasterPublishTest, FailedUploadsLeaveTheStoredListAndTheRemoteListAlone) {
  const std::string uri = dav_->Url("/" + name_ + "/lists/test.list");
  const std::string id = MakeList(uri);
  ASSERT_EQ(Caster(Publish(id, {"--credentials-file", dav_credentials_.string()})).exit_code, 0);
  const fs::path remote = dav_->root() / name_ / "lists/test.list";
  const std::string published = ReadFile(remote);
  const std::string stored = ListsDump();

  // Wrong password: the server refuses the PUT.
  const std::string wrong = "not-the-Pa55word";
  const fs::path wrong_cred = Credentials(
      dir_ / "wrong.cred", std::string("username = ") + kUser + "\npassword = " + wrong + "\n");
  RunResult r = Caster(Publish(id, {"--credentials-file", wrong_cred.string()}));
  EXPECT_EQ(r.exit_code, 3) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "upload-failed");
  EXPECT_EQ(r.out.find(wrong), std::string::npos) << "the password leaked: " << r.out;
  EXPECT_EQ(r.err.find(wrong), std::string::npos) << "the password leaked: " << r.err;
  EXPECT_EQ(ListsDump(), stored);
  EXPECT_EQ(ReadFile(remote), published);

  // The server is down (nothing listens on the port).
  const std::string down = "https://127.0.0.1:1/" + name_ + "/lists/test.list";
  r = Caster(Publish(id, {"--target", down, "--credentials-file", dav_credentials_.string()}));
  EXPECT_EQ(r.exit_code, 3) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "network-error");
  EXPECT_EQ(ListsDump(), stored);

  // SFTP with a key the server does not accept.
  const fs::path stranger = dir_ / "stranger_key";
  MustRun({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", stranger.string()});
  const fs::path stranger_cred =
      Credentials(dir_ / "stranger.cred", "ssh-key = " + stranger.string() + "\n");
  const fs::path sftp_remote = web_->root() / name_ / "test.list";
  fs::create_directories(sftp_remote.parent_path());
  WriteFile(sftp_remote, "what the web server had\n");
  r = Caster(Publish(id, {"--target", sshd_->Url(sftp_remote), "--credentials-file",
                          stranger_cred.string(), "--known-hosts", sshd_->known_hosts().string()}));
  EXPECT_EQ(r.exit_code, 3) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "upload-failed") << Describe(r);
  EXPECT_EQ(ReadFile(sftp_remote), "what the web server had\n");
  EXPECT_EQ(ListsDump(), stored);

  // SFTP to a server whose host key is not the known one.
  const std::string other_pub = Trim(ReadFile(stranger.string() + ".pub"));
  WriteFile(dir_ / "other_known_hosts", "[127.0.0.1]:" + std::to_string(sshd_->port()) + " " +
                                            other_pub.substr(0, other_pub.rfind(' ')) + "\n");
  r = Caster(Publish(
      id, {"--target", sshd_->Url(sftp_remote), "--credentials-file", ssh_credentials_.string(),
           "--known-hosts", (dir_ / "other_known_hosts").string()}));
  EXPECT_EQ(r.exit_code, 3) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "tls-error") << Describe(r);
  EXPECT_EQ(ReadFile(sftp_remote), "what the web server had\n");
  EXPECT_EQ(ListsDump(), stored);

  // Each failed attempt raised the version floor, never the list: the next
  // publication goes above any version that might have reached a server.
  EXPECT_EQ(SignedVersion(id), "5");
  ASSERT_EQ(Caster(Publish(id, {"--credentials-file", dav_credentials_.string()})).exit_code, 0);
  ASSERT_EQ(Curl(uri, dir_ / "after.list", true), 0);
  auto after = ParseJson(OpensslVerify(dir_ / "after.list"));
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(Str((*after)["hv:imagelist"], "hv:version"), "6");
}

TEST_F(CasterPublishTest, FailedImageUploadLeavesTheListUnpublished) {
  const std::string uri = dav_->Url("/" + name_ + "/lists/test.list");
  const std::string id = MakeList(uri);
  const std::string stored = ListsDump();
  // Without credentials the first image PUT is refused; the list never goes.
  const RunResult r = Caster(Publish(id, {"--with-images"}));
  EXPECT_EQ(r.exit_code, 3) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "upload-failed");
  EXPECT_FALSE(fs::exists(dav_->root() / name_ / "lists/test.list"));
  EXPECT_EQ(ListsDump(), stored) << "the image URIs were rewritten in the store";
}

}  // namespace
}  // namespace vmc::test
