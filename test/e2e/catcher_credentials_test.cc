// End-to-end tests of what catcher sends where (issue 11, findings 2, 3 and
// 9; DESIGN.md section 5 step 1): a subscription's credentials go only to its
// list's https origin, an image host gets only the credentials the admin
// named for its exact origin, a remote list can never make catcher read a
// local file, and no message shows a line of a credentials file.
//
// Every server is a real nginx on loopback whose access log records each
// request's Authorization header, so the tests prove from the servers' side
// which requests carried credentials and which did not.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/digest.h"
#include "test/support/catcher_e2e.h"
#include "test/support/json_output.h"
#include "test/support/list_factory.h"
#include "test/support/nginx.h"
#include "test/support/pki.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {
namespace {

namespace fs = std::filesystem;

const TestPki& Pki() { return TestPki::Get(); }

// A credentials file as an operator keeps it (mode 0600).
fs::path PrivateFile(const fs::path& path, const std::string& text) {
  WriteFile(path, text);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  return path;
}

std::string Base64(const std::string& text) {
  RunOptions options;
  options.stdin_data = text;
  const RunResult r = Run({"openssl", "base64", "-A"}, options);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

std::string Sha512Of(const std::string& bytes) { return Sha512Hex(bytes).value(); }

std::vector<fs::path> Files(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path());
  return out;
}

class CatcherCredentialsTest : public CatcherE2eTest<CatcherCredentialsTest> {
 protected:
  // The list server (the fixture's) redirects /to-other/X to X on the other
  // https host, a different origin.
  static void SetUpTestSuite() {
    NginxOptions https;
    https.tls_cert = Pki().server_fullchain();
    https.tls_key = Pki().server().key;
    other_ = NginxServer::Start(https).release();
    mirror_ = NginxServer::Start(https).release();
    plain_ = NginxServer::Start({}).release();
    ASSERT_NE(other_, nullptr);
    ASSERT_NE(mirror_, nullptr);
    ASSERT_NE(plain_, nullptr);
    NginxOptions list;
    list.server_config = "location ~ ^/to-other/(.*)$ { return 302 " + other_->Url("/") + "$1; }";
    StartServer(std::move(list));
  }
  static void TearDownTestSuite() {
    CatcherE2eTest::TearDownTestSuite();
    for (NginxServer** s : {&other_, &mirror_, &plain_}) {
      delete *s;
      *s = nullptr;
    }
  }

  // Serves `bytes` at <test>/<path> on `server`; returns its entry in a list
  // (at `url`, which may spell the origin differently or redirect).
  ImageSpec Image(NginxServer& server, const std::string& id, const std::string& path,
                  const std::string& url) const {
    const std::string bytes = "image " + id + " of " + name_ + " at " + path + "\n";
    Serve(server.root() / name_ / path, bytes);
    ImageSpec s;
    s.identifier = id;
    s.uri = url;
    s.size = bytes.size();
    s.sha512 = Sha512Of(bytes);
    return s;
  }

  // The Authorization headers `server` received for <test>/<path>, once it
  // logged at least one request for it.
  std::vector<std::string> AuthorizationsAt(const NginxServer& server,
                                            const std::string& path) const {
    std::vector<std::string> out;
    for (const auto& e : server.WaitForLog("/" + name_ + "/" + path, 1)) {
      out.push_back(e.authorization);
    }
    EXPECT_FALSE(out.empty()) << "no request for " << path << " reached port " << server.port();
    return out;
  }

  std::vector<std::string> Subscribe(const std::string& url, const fs::path& credentials) const {
    return {"--json",
            "subscribe",
            url,
            "--credentials-file",
            credentials.string(),
            "--endorser-dn",
            e1_.dn,
            "--endorser-ca",
            e1_.ca};
  }

  static inline NginxServer* other_ = nullptr;   // another https origin
  static inline NginxServer* mirror_ = nullptr;  // https, with image-credentials
  static inline NginxServer* plain_ = nullptr;   // http
};

// Basic auth and a bearer token alike: the subscription's credentials reach
// the list's origin (the list, its images there, spelt in another case) and
// nothing else: not the same server under another host name, not another
// https host, not an http host, not the target of a redirect from the list's
// origin (for the list itself and for an image); the mirror gets only the
// credentials the admin named for it. An http list with credentials is
// refused before any request.
TEST_F(CatcherCredentialsTest, CredentialsNeverLeaveTheListOrigin) {
  struct Kind {
    std::string name;
    std::string subscription_file;  // its text
    std::string subscription_header;
    std::string mirror_file;
    std::string mirror_header;
  };
  const std::vector<Kind> kinds = {
      {"basic", "username = site\npassword = Sub-SECRET-b7\n",
       "Basic " + Base64("site:Sub-SECRET-b7"), "username = mirror\npassword = Mirror-SECRET-c3\n",
       "Basic " + Base64("mirror:Mirror-SECRET-c3")},
      {"token", "token = sub-SECRET-tok-9q\n", "Bearer sub-SECRET-tok-9q",
       "token = mirror-SECRET-tok-2w\n", "Bearer mirror-SECRET-tok-2w"},
  };
  const int port = server_->port();
  for (const Kind& k : kinds) {
    SCOPED_TRACE(k.name);
    state_ = dir_ / ("state-" + k.name);
    const fs::path sub_creds = PrivateFile(dir_ / (k.name + ".cred"), k.subscription_file);
    const fs::path mirror_creds = PrivateFile(dir_ / (k.name + "-mirror.cred"), k.mirror_file);
    WriteFile(config_, "image-credentials = " + mirror_->Url("") + " " + mirror_creds.string() +
                           "\n# the same origin spelt differently would be a second entry\n");
    const std::string d = k.name + "/";
    const std::vector<ImageSpec> images = {
        Image(*server_, "same", d + "same.img", Url(d + "same.img")),
        Image(*server_, "upper", d + "upper.img",
              "HTTPS://127.0.0.1:" + std::to_string(port) + "/" + name_ + "/" + d + "upper.img"),
        Image(*server_, "byname", d + "byname.img",
              server_->UrlOnLocalhost("/" + name_ + "/" + d + "byname.img")),
        Image(*other_, "other", d + "other.img", other_->Url("/" + name_ + "/" + d + "other.img")),
        Image(*plain_, "plain", d + "plain.img", plain_->Url("/" + name_ + "/" + d + "plain.img")),
        Image(*other_, "moved", d + "moved.img",
              server_->Url("/to-other/" + name_ + "/" + d + "moved.img")),
        Image(*mirror_, "mirrored", d + "mirrored.img",
              mirror_->Url("/" + name_ + "/" + d + "mirrored.img")),
    };
    ListSpec spec;
    spec.images = images;
    Publish(d + "list", spec);
    ListSpec elsewhere;  // reached through a redirect to another origin
    Serve(other_->root() / name_ / d / "list",
          BuildSignedList(elsewhere, Pki().endorser1()).value());

    const RunResult sub = Catcher(Subscribe(Url(d + "list"), sub_creds));
    ASSERT_EQ(sub.exit_code, 0) << Describe(sub);
    const RunResult redirected =
        Catcher(Subscribe(server_->Url("/to-other/" + name_ + "/" + d + "list"), sub_creds));
    ASSERT_EQ(redirected.exit_code, 0) << Describe(redirected);
    const RunResult cache = Catcher({"--json", "cache"});
    ASSERT_EQ(cache.exit_code, 0) << Describe(cache);
    for (const auto& image : images) {
      EXPECT_TRUE(fs::exists(state_ / "cache" / image.identifier)) << image.identifier;
    }

    using Headers = std::vector<std::string>;
    // Where they must arrive.
    EXPECT_EQ(AuthorizationsAt(*server_, d + "list"), Headers{k.subscription_header});
    EXPECT_EQ(AuthorizationsAt(*server_, d + "same.img"), Headers{k.subscription_header});
    EXPECT_EQ(AuthorizationsAt(*server_, d + "upper.img"), Headers{k.subscription_header});
    EXPECT_EQ(AuthorizationsAt(*mirror_, d + "mirrored.img"), Headers{k.mirror_header});
    // The redirecting request itself is on the list's origin.
    for (const auto& e : server_->WaitForLog("/to-other/" + name_ + "/" + d + "moved.img", 1)) {
      EXPECT_EQ(e.status, 302);
      EXPECT_EQ(e.authorization, k.subscription_header);
    }
    // Where they must not.
    EXPECT_EQ(AuthorizationsAt(*server_, d + "byname.img"), Headers{""});
    EXPECT_EQ(AuthorizationsAt(*other_, d + "other.img"), Headers{""});
    EXPECT_EQ(AuthorizationsAt(*plain_, d + "plain.img"), Headers{""});
    EXPECT_EQ(AuthorizationsAt(*other_, d + "moved.img"), Headers{""});
    EXPECT_EQ(AuthorizationsAt(*other_, d + "list"), Headers{""});
    // Nothing anywhere carried a credential it was not meant for.
    for (const NginxServer* s : {server_, other_, mirror_, plain_}) {
      for (const auto& e : s->AccessLog()) {
        if (e.authorization.empty() || e.uri.find("/" + name_ + "/" + d) == std::string::npos) {
          continue;  // no credential, or another kind's request
        }
        const bool list_origin = s == server_ && e.authorization == k.subscription_header;
        const bool mirror = s == mirror_ && e.authorization == k.mirror_header;
        EXPECT_TRUE(list_origin || mirror)
            << e.uri << " on port " << s->port() << " got " << e.authorization;
      }
    }
  }

  // An http list with credentials is refused with the reason, before any
  // request: at subscribe time and in the policy.
  state_ = dir_ / "state-http";
  const fs::path creds = PrivateFile(dir_ / "http.cred", "token = http-SECRET-5t\n");
  ListSpec spec;
  Serve(plain_->root() / name_ / "http.list", BuildSignedList(spec, Pki().endorser1()).value());
  const std::string http_url = plain_->Url("/" + name_ + "/http.list");
  const RunResult refused = Catcher(Subscribe(http_url, creds));
  EXPECT_EQ(refused.exit_code, 2) << Describe(refused);
  EXPECT_EQ(ErrorCodeOf(refused), "config-invalid") << Describe(refused);
  EXPECT_NE(refused.out.find("only over https"), std::string::npos) << Describe(refused);
  WritePolicy(Sub("http", http_url, "e1", ", \"credentials_file\": " + Quote(creds.string())));
  const RunResult policy = Catcher({"--json", "update"});
  EXPECT_EQ(policy.exit_code, 2) << Describe(policy);
  EXPECT_EQ(ErrorCodeOf(policy), "policy-invalid") << Describe(policy);
  EXPECT_NE(policy.out.find("/subscriptions/0/credentials_file"), std::string::npos)
      << Describe(policy);
  EXPECT_TRUE(plain_->WaitForLog("/" + name_ + "/http.list", 1, std::chrono::seconds(1)).empty());
  // An image-credentials entry for an http origin is refused too.
  WritePolicy("");
  WriteFile(config_, "image-credentials = " + plain_->Url("") + " " + creds.string() + "\n");
  const RunResult config = Catcher({"--json", "status"});
  EXPECT_EQ(config.exit_code, 2) << Describe(config);
  EXPECT_EQ(ErrorCodeOf(config), "config-invalid") << Describe(config);
}

// However libcurl may spell a local file, a remote list never has one copied
// into the cache: each is refused (invalid-value) before any I/O, no partial
// or content file appears, and the message says nothing of the file. A list
// read from a local file may still name one.
TEST_F(CatcherCredentialsTest, RemoteListCannotReadLocalFiles) {
  std::vector<std::string> spellings;
  std::vector<ImageSpec> images;
  for (int i = 0; i < 7; ++i) {
    const fs::path secret = dir_ / ("secret-" + std::to_string(i) + ".txt");
    const std::string bytes = "root-only secret number " + std::to_string(i) + "\n";
    WriteFile(secret, bytes);
    ASSERT_EQ(chmod(secret.c_str(), 0600), 0);
    const std::string path = secret.string();
    std::string encoded = path;
    encoded.replace(encoded.rfind("secret"), 1, "%73");  // "s"
    const std::vector<std::string> all = {
        "file:" + path,      "file://" + path,   "FILE://" + path, "file://localhost" + path,
        "file://" + encoded, "  file://" + path, "File:" + encoded};
    ImageSpec s;
    s.identifier = "local-" + std::to_string(i);
    s.uri = all[static_cast<size_t>(i)];
    s.size = bytes.size();
    s.sha512 = Sha512Of(bytes);
    images.push_back(s);
  }
  ListSpec spec;
  spec.images = images;
  Publish("list", spec);
  WritePolicy(Sub("remote", Url("list")));
  UpdateOk();

  const RunResult r = Catcher({"--json", "cache"});
  EXPECT_EQ(r.exit_code, 5) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "invalid-value") << Describe(r);
  auto report = ParseJson(Lines(r.out).empty() ? "" : Lines(r.out).front());
  ASSERT_TRUE(report && report->IsObject()) << r.out;
  EXPECT_EQ((*report)["failures"].Size(), images.size()) << r.out;
  EXPECT_TRUE(Files(state_ / "cache" / ".sha512").empty());
  EXPECT_TRUE(Files(state_ / "partial").empty());
  for (const auto& image : images) {
    EXPECT_FALSE(fs::exists(state_ / "cache" / image.identifier)) << image.uri;
  }
  for (const std::string& text : {r.out, r.err}) {
    EXPECT_EQ(text.find("root-only secret"), std::string::npos) << text;
    EXPECT_EQ(text.find("No such file"), std::string::npos) << text;
    EXPECT_EQ(text.find("Couldn't open"), std::string::npos) << text;
  }
  EXPECT_EQ(ImageStates().at("local-0"), "wanted");

  // The same list read from a local file may name local files.
  const fs::path local_list = dir_ / "local.list";
  WriteFile(local_list, BuildSignedList(spec, Pki().endorser1()).value());
  state_ = dir_ / "state-local";
  WritePolicy(Sub("local", "file://" + local_list.string()));
  UpdateOk();
  const RunResult local = Catcher({"--json", "cache"});
  EXPECT_TRUE(fs::exists(state_ / "cache" / "local-0")) << Describe(local);
  EXPECT_TRUE(fs::exists(state_ / "cache" / "local-2")) << Describe(local);
}

// A credentials file with a broken line, and one others can read: no output
// of catcher (update, subscriptions, status, in text and --json, with -v) nor
// caster's error shows the secret; they say the file and the line.
TEST_F(CatcherCredentialsTest, MalformedCredentialsFileNeverEchoesASecret) {
  const std::string secret = "Pw-SECRET-7xQ";
  const fs::path creds = PrivateFile(dir_ / "site.cred", "username = site\npassword = x\n");
  ListSpec spec;
  Publish("list", spec);
  ASSERT_EQ(Catcher(Subscribe(Url("list"), creds)).exit_code, 0);
  auto expect_clean = [&](const RunResult& r) {
    EXPECT_EQ(r.out.find(secret), std::string::npos) << "stdout shows the secret: " << r.out;
    EXPECT_EQ(r.err.find(secret), std::string::npos) << "stderr shows the secret: " << r.err;
  };
  const std::vector<std::pair<std::string, std::string>> broken = {
      {"username = site\npassword " + secret + "\n", "line 2 is not KEY = VALUE"},
      {"username = site\n" + secret + " = x\n", "line 2 has an unknown key"},
  };
  for (const auto& [text, says] : broken) {
    SCOPED_TRACE(says);
    PrivateFile(creds, text);
    const RunResult update = Catcher({"-v", "--json", "update"});
    EXPECT_EQ(update.exit_code, 2) << Describe(update);
    EXPECT_EQ(ErrorCodeOf(update), "config-invalid") << Describe(update);
    EXPECT_NE(update.out.find(says), std::string::npos) << Describe(update);
    EXPECT_NE(update.out.find(creds.string()), std::string::npos) << Describe(update);
    expect_clean(update);
    expect_clean(Catcher({"-v", "update"}));
    for (const char* command : {"subscriptions", "status"}) {
      expect_clean(Catcher({"-v", command}));
      expect_clean(Catcher({"-v", "--json", command}));
    }
  }
  // Readable by others: refused, naming the mode.
  PrivateFile(creds, "username = site\npassword = " + secret + "\n");
  fs::permissions(creds, fs::perms::group_read | fs::perms::others_read, fs::perm_options::add);
  const RunResult open = Catcher({"--json", "update"});
  EXPECT_EQ(open.exit_code, 2) << Describe(open);
  EXPECT_NE(open.out.find("has mode 0644"), std::string::npos) << Describe(open);
  expect_clean(open);

  // caster publish, with the broken file.
  PrivateFile(creds, "username = site\npassword " + secret + "\n");
  RunOptions options;
  options.env = {{"XDG_CONFIG_HOME", (dir_ / "xdg-config").string()},
                 {"XDG_DATA_HOME", (dir_ / "xdg-data").string()},
                 {"HOME", (dir_ / "home").string()}};
  const auto caster = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {VMC_CASTER_BIN, "--store", (dir_ / "store").string()});
    return test::Run(args, options);
  };
  const RunResult created =
      caster({"list", "create", "--title", "Test list", "--description", "For tests", "--source",
              "example.org", "--uri", "https://www.example.org/lists/test.list"});
  ASSERT_EQ(created.exit_code, 0) << Describe(created);
  std::string id = created.out;
  while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
  for (const bool json : {false, true}) {
    std::vector<std::string> args = {"publish",
                                     id,
                                     "--target",
                                     "file://" + (dir_ / "out.list").string(),
                                     "--credentials-file",
                                     creds.string(),
                                     "--cert",
                                     Pki().endorser1().cert.string(),
                                     "--key",
                                     Pki().endorser1().key.string()};
    if (json) args.insert(args.begin(), "--json");
    const RunResult publish = caster(args);
    EXPECT_EQ(publish.exit_code, 2) << Describe(publish);
    EXPECT_NE((publish.out + publish.err).find("line 2 is not KEY = VALUE"), std::string::npos)
        << Describe(publish);
    expect_clean(publish);
  }
}

}  // namespace
}  // namespace vmc::test
