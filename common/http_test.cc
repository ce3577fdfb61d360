// HttpClient against real servers on loopback: nginx over HTTPS with a CA made
// here by the openssl command, nginx as a forward proxy, and OpenSSH's sshd for
// SFTP. Nothing is mocked: each test would fail if libcurl were misconfigured.
#include "common/http.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test/support/loopback.h"
#include "test/support/nginx.h"
#include "test/support/scoped_env.h"
#include "test/support/sshd.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc {
namespace {

namespace fs = std::filesystem;
using test::AccessLogEntry;
using test::NginxOptions;
using test::NginxServer;
using test::ReadFile;
using test::RunResult;
using test::ScopedEnv;
using test::TempDir;
using test::WriteFile;
using Clock = std::chrono::steady_clock;

constexpr char kUser[] = "publisher";
constexpr char kPassword[] = "s3cret-Pa55word";
constexpr char kToken[] = "tok-3a5b7c9d1e2f";

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(gen() & 0xff);
  return out;
}

// Runs a command the fixture needs; an empty optional (after a test failure
// naming the command and its stderr) when it fails.
std::optional<std::string> MustRun(const std::vector<std::string>& argv,
                                   const test::RunOptions& options = {}) {
  const RunResult r = test::Run(argv, options);
  if (r.exit_code == 0) return r.out;
  std::string command;
  for (const auto& a : argv) command += a + " ";
  ADD_FAILURE() << command << "failed (" << r.exit_code << "):\n" << r.err;
  return std::nullopt;
}

// Request builders: GCC 12 warns about designated initializers that leave
// members to their defaults.
FetchRequest Get(std::string url, Credentials credentials = {}) {
  FetchRequest request;
  request.url = std::move(url);
  request.credentials = std::move(credentials);
  return request;
}

FetchRequest Conditional(std::string url, std::string etag, std::string last_modified) {
  FetchRequest request = Get(std::move(url));
  request.etag = std::move(etag);
  request.last_modified = std::move(last_modified);
  return request;
}

FetchRequest Capped(std::string url, uint64_t max_bytes) {
  FetchRequest request = Get(std::move(url));
  request.max_bytes = max_bytes;
  return request;
}

DownloadRequest Object(std::string url, std::optional<uint64_t> expected_size = std::nullopt,
                       uint64_t resume_offset = 0) {
  DownloadRequest request;
  request.url = std::move(url);
  request.expected_size = expected_size;
  request.resume_offset = resume_offset;
  return request;
}

UploadRequest Put(std::string url, fs::path source, Credentials credentials = {}) {
  UploadRequest request;
  request.url = std::move(url);
  request.source = std::move(source);
  request.credentials = std::move(credentials);
  return request;
}

// What a TransferProgress was told, in order: (done, total) pairs.
struct ProgressLog {
  TransferProgress Observer() {
    return [this](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
  }
  // The totals told, once each, in order.
  std::vector<uint64_t> Totals() const {
    std::vector<uint64_t> out;
    for (const auto& [done, total] : calls) {
      if (out.empty() || out.back() != total) out.push_back(total);
    }
    return out;
  }
  bool DoneNeverDecreases() const {
    return std::is_sorted(calls.begin(), calls.end(),
                          [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  std::vector<std::pair<uint64_t, uint64_t>> calls;
};

// A CA in a hashed directory ("<hash>.0", as in /etc/grid-security/certificates)
// and a server certificate for localhost and 127.0.0.1, all EC P-256.
struct Pki {
  fs::path ca_pem, ca_dir, cert, key;
};

std::optional<fs::path> HashedCaDir(const fs::path& ca_pem, const fs::path& dir) {
  const auto hash = MustRun({"openssl", "x509", "-hash", "-noout", "-in", ca_pem.string()});
  if (!hash) return std::nullopt;
  std::string name = *hash;
  while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
  fs::create_directories(dir);
  fs::copy_file(ca_pem, dir / (name + ".0"), fs::copy_options::overwrite_existing);
  return dir;
}

std::optional<Pki> MakePki(const fs::path& dir, const std::string& name) {
  fs::create_directories(dir);
  Pki pki;
  pki.ca_pem = dir / "ca.pem";
  const auto ca_key = dir / "ca.key";
  pki.cert = dir / "server.pem";
  pki.key = dir / "server.key";
  const auto csr = dir / "server.csr";
  const auto ext = dir / "server.ext";
  WriteFile(ext,
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n");
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                       "-nodes"};
  std::vector<std::string> make_ca = {"openssl", "req", "-x509"};
  make_ca.insert(make_ca.end(), ec.begin(), ec.end());
  make_ca.insert(make_ca.end(),
                 {"-keyout", ca_key.string(), "-out", pki.ca_pem.string(), "-days", "2", "-subj",
                  "/CN=" + name, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                  "keyUsage=critical,keyCertSign,cRLSign"});
  std::vector<std::string> make_csr = {"openssl", "req", "-new"};
  make_csr.insert(make_csr.end(), ec.begin(), ec.end());
  make_csr.insert(make_csr.end(),
                  {"-keyout", pki.key.string(), "-out", csr.string(), "-subj", "/CN=localhost"});
  if (!MustRun(make_ca) || !MustRun(make_csr) ||
      !MustRun({"openssl", "x509", "-req", "-in", csr.string(), "-CA", pki.ca_pem.string(),
                "-CAkey", ca_key.string(), "-set_serial", "2", "-days", "2", "-out",
                pki.cert.string(), "-extfile", ext.string()})) {
    return std::nullopt;
  }
  const auto ca_dir = HashedCaDir(pki.ca_pem, dir / "certificates");
  if (!ca_dir) return std::nullopt;
  pki.ca_dir = *ca_dir;
  return pki;
}

// Collects a download in memory, as a cache file would: Begin truncates to the
// offset it is given.
class StringSink : public DownloadSink {
 public:
  explicit StringSink(std::string held = {}) : data(std::move(held)) {}
  Status Begin(uint64_t first_byte) override {
    begins.push_back(first_byte);
    data.resize(first_byte);
    return Ok();
  }
  Status Write(const char* bytes, size_t n) override {
    data.append(bytes, n);
    ++writes;
    return Ok();
  }
  std::string data;
  std::vector<uint64_t> begins;
  int writes = 0;
};

class FailingSink : public DownloadSink {
 public:
  Status Begin(uint64_t /*first_byte*/) override { return Ok(); }
  Status Write(const char* /*bytes*/, size_t n) override {
    received += n;
    return Error(ErrorCode::kDiskFull, "cache disk full (test)");
  }
  uint64_t received = 0;
};

// ---------------------------------------------------------------------------
// Shared servers: one HTTPS nginx with special locations, and two with
// WebDAV PUT behind basic auth and a bearer token.

class HttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Loopback tests must not go through whatever proxy the machine has.
    for (const char* name : {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                             "no_proxy", "NO_PROXY"}) {
      unsetenv(name);
    }
    dir_ = std::make_unique<TempDir>();
    const auto pki = MakePki(dir_->path() / "pki", "vmc http_test CA");
    const auto other = MakePki(dir_->path() / "other-pki", "vmc http_test other CA");
    if (!pki || !other) return;
    pki_ = std::make_unique<Pki>(*pki);
    other_ca_dir_ = std::make_unique<fs::path>(other->ca_dir);

    const fs::path www = dir_->path() / "www";
    fs::create_directories(www);
    WriteFile(www / "list.txt", "image list v1\n");
    WriteFile(www / "reuse.txt", "unchanged list\n");
    WriteFile(www / "conditional.txt", "version 1\n");
    big_ = std::make_unique<std::string>(RandomBytes(300000, 7));
    WriteFile(www / "big.bin", *big_);
    // Sparse: 256 MiB of zeros that cost no disk.
    WriteFile(www / "huge.bin", "");
    fs::resize_file(www / "huge.bin", 256ull << 20);

    // The document root again under a prefix, with special behaviour.
    auto alias = [&](const std::string& prefix, const std::string& directives) {
      return "location " + prefix + " { alias " + www.string() + "/; " + directives + " }\n";
    };
    NginxOptions options;
    options.root = www;
    options.tls_cert = pki_->cert;
    options.tls_key = pki_->key;
    // ssi makes a response dynamic: chunked, without Content-Length.
    options.server_config = alias("/chunked/", "ssi on; ssi_types *;") +
                            alias("/slow-chunked/", "ssi on; ssi_types *; limit_rate 32m;") +
                            alias("/stalled/", "limit_rate 1;") +
                            alias("/slow/", "limit_rate 100k;") +
                            alias("/noranges/", "max_ranges 0;") +
                            "location = /to-file { return 302 file:///etc/hostname; }\n"
                            "location = /to-http { return 302 http://127.0.0.1:1/list.txt; }\n"
                            "location = /moved { return 301 /list.txt; }\n"
                            "location = /loop { return 302 /loop; }\n";
    tls_ = NginxServer::Start(options);

    NginxOptions basic;
    basic.tls_cert = pki_->cert;
    basic.tls_key = pki_->key;
    basic.dav_put = true;
    basic.basic_auth = {kUser, kPassword};
    basic_ = NginxServer::Start(basic);

    NginxOptions bearer = basic;
    bearer.basic_auth.reset();
    bearer.bearer_token = kToken;
    bearer_ = NginxServer::Start(bearer);

    if (basic_) WriteFile(basic_->root() / "list.txt", "behind basic auth\n");
    if (bearer_) WriteFile(bearer_->root() / "list.txt", "behind a token\n");
  }

  static void TearDownTestSuite() {
    bearer_.reset();
    basic_.reset();
    tls_.reset();
    dir_.reset();
  }

  void SetUp() override {
    ASSERT_NE(pki_, nullptr) << "test PKI could not be made";
    ASSERT_NE(tls_, nullptr) << "nginx (TLS) did not start";
    ASSERT_NE(basic_, nullptr) << "nginx (basic auth) did not start";
    ASSERT_NE(bearer_, nullptr) << "nginx (bearer) did not start";
  }

  static HttpOptions TrustingOptions() {
    HttpOptions options;
    options.ca_dir = pki_->ca_dir;
    return options;
  }

  static HttpClient Client(HttpOptions options = TrustingOptions()) {
    auto client = HttpClient::Create(std::move(options));
    EXPECT_TRUE(client.ok()) << (client.ok() ? "" : client.error().ToString());
    return std::move(client).value();
  }

  static fs::path Www() { return tls_->root(); }

  static inline std::unique_ptr<TempDir> dir_;
  static inline std::unique_ptr<Pki> pki_;
  static inline std::unique_ptr<fs::path> other_ca_dir_;
  static inline std::unique_ptr<std::string> big_;
  static inline std::unique_ptr<NginxServer> tls_;
  static inline std::unique_ptr<NginxServer> basic_;
  static inline std::unique_ptr<NginxServer> bearer_;
};

// ---------------------------------------------------------------------------
// TLS and trust.

TEST_F(HttpTest, FetchOverHttpsVerifiedWithCaDir) {
  HttpClient client = Client();
  for (const std::string& url : {tls_->Url("/list.txt"), tls_->UrlOnLocalhost("/list.txt")}) {
    const auto result = client.Fetch(Get(url));
    ASSERT_TRUE(result.ok()) << result.error().ToString();
    EXPECT_EQ(result->status, 200);
    EXPECT_EQ(result->body, "image list v1\n");
    EXPECT_FALSE(result->not_modified);
    EXPECT_EQ(result->effective_url, url);
  }
}

TEST_F(HttpTest, FetchWithCaFile) {
  HttpOptions options;
  options.ca_file = pki_->ca_pem;
  HttpClient client = Client(options);
  const auto result = client.Fetch(Get(tls_->Url("/list.txt")));
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->body, "image list v1\n");
}

TEST_F(HttpTest, UntrustedCaRejected) {
  HttpOptions options;
  options.ca_dir = *other_ca_dir_;
  HttpClient client = Client(options);
  const auto result = client.Fetch(Get(tls_->Url("/list.txt")));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kTlsError) << result.error().ToString();
  EXPECT_NE(result.error().message().find(other_ca_dir_->string()), std::string::npos)
      << result.error().message();
  EXPECT_NE(result.error().message().find(tls_->Url("/list.txt")), std::string::npos);
}

TEST_F(HttpTest, SystemBundleDoesNotTrustTestCa) {
  HttpClient client = Client(HttpOptions{});
  const auto result = client.Fetch(Get(tls_->Url("/list.txt")));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kTlsError) << result.error().ToString();
  EXPECT_NE(result.error().message().find("system CA bundle"), std::string::npos);
}

TEST_F(HttpTest, MissingCaDirRejectedAtCreate) {
  HttpOptions options;
  options.ca_dir = dir_->path() / "no-such-dir";
  const auto client = HttpClient::Create(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().code(), ErrorCode::kConfigInvalid);
}

// ---------------------------------------------------------------------------
// Protocols and redirects.

TEST_F(HttpTest, FileFetch) {
  WriteFile(dir_->path() / "local list.json", "{\"local\": true}\n");
  HttpClient client = Client();
  FetchRequest request = Get("file://" + dir_->path().string() + "/local%20list.json");
  request.protocols = kLocalProtocols;
  const auto result = client.Fetch(request);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->body, "{\"local\": true}\n");
  EXPECT_EQ(result->status, 0);
}

TEST_F(HttpTest, ProtocolNotAllowedRejected) {
  HttpClient client = Client();
  for (const char* url :
       {"ftp://127.0.0.1:1/list", "scp://127.0.0.1:1/list", "sftp://127.0.0.1:1/list"}) {
    const auto result = client.Fetch(Get(url));
    ASSERT_FALSE(result.ok()) << url;
    EXPECT_EQ(result.error().code(), ErrorCode::kNetwork);
    EXPECT_NE(result.error().message().find("protocol not allowed"), std::string::npos)
        << result.error().message();
  }
}

// Each transfer states its own schemes: one client reads a local file for the
// request that allows "file" and refuses it, in every spelling libcurl reads
// as file, for the next request that does not, before any I/O: the refusal
// is the same whether the file exists or not and says nothing of its size.
TEST_F(HttpTest, ProtocolsAreRestrictedPerRequest) {
  const fs::path file = dir_->path() / "private.txt";
  WriteFile(file, "private bytes\n");
  const std::string path = file.string();
  HttpClient client = Client();
  FetchRequest local = Get("file://" + path);
  local.protocols = kLocalProtocols;
  const auto read = client.Fetch(local);
  ASSERT_TRUE(read.ok()) << read.error().ToString();
  EXPECT_EQ(read->body, "private bytes\n");

  std::string encoded = path;
  encoded.replace(encoded.rfind("private"), 1, "%70");  // "p"
  for (const std::string& url : {"file://" + path, "file:" + path, "FILE://" + path,
                                 "File://localhost" + path, "file://" + encoded}) {
    SCOPED_TRACE(url);
    for (const char* protocols : {kRemoteProtocols, "https"}) {
      FetchRequest remote = Get(url);
      remote.protocols = protocols;
      const auto fetched = client.Fetch(remote);
      ASSERT_FALSE(fetched.ok());
      EXPECT_EQ(fetched.error().code(), ErrorCode::kNetwork);
      EXPECT_NE(fetched.error().message().find("protocol not allowed"), std::string::npos)
          << fetched.error().message();
      StringSink sink;
      DownloadRequest download = Object(url);
      download.protocols = protocols;
      const auto downloaded = client.Download(download, sink);
      ASSERT_FALSE(downloaded.ok());
      EXPECT_EQ(downloaded.error().code(), ErrorCode::kNetwork);
      EXPECT_TRUE(sink.begins.empty());
      EXPECT_TRUE(sink.data.empty());
      // The same words for a file that does not exist: nothing was opened.
      std::string absent_url = url;
      absent_url.replace(absent_url.rfind("txt"), 3, "absent");
      FetchRequest absent = Get(absent_url);
      absent.protocols = protocols;
      const auto missing = client.Fetch(absent);
      ASSERT_FALSE(missing.ok());
      std::string expected = fetched.error().message();
      const std::string shown = RedactUrl(url);
      const std::string shown_absent = RedactUrl(absent_url);
      expected.replace(expected.find(shown), shown.size(), shown_absent);
      EXPECT_EQ(missing.error().message(), expected);
    }
  }
  // Text that is no URL for libcurl (leading blanks) is refused unread too.
  FetchRequest blank = Get("  file://" + path);
  blank.protocols = kLocalProtocols;
  const auto refused = client.Fetch(blank);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidValue);
}

TEST_F(HttpTest, RedirectToFileRefused) {
  HttpClient client = Client();
  const auto result = client.Fetch(Get(tls_->Url("/to-file")));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kNetwork);
  EXPECT_NE(result.error().message().find("protocol not allowed"), std::string::npos)
      << result.error().message();
}

TEST_F(HttpTest, RedirectFromHttpsToHttpRefused) {
  HttpClient client = Client();
  const auto result = client.Fetch(Get(tls_->Url("/to-http")));
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message().find("protocol not allowed"), std::string::npos)
      << result.error().message();
}

TEST_F(HttpTest, RedirectFollowedWithinHttps) {
  HttpClient client = Client();
  const auto result = client.Fetch(Get(tls_->Url("/moved")));
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->body, "image list v1\n");
  EXPECT_EQ(result->effective_url, tls_->Url("/list.txt"));
}

TEST_F(HttpTest, RedirectLoopStopsAtLimit) {
  HttpOptions options = TrustingOptions();
  options.max_redirects = 3;
  HttpClient client = Client(options);
  const auto result = client.Fetch(Get(tls_->Url("/loop")));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kNetwork);
  EXPECT_NE(result.error().message().find("limit 3"), std::string::npos)
      << result.error().message();
}

TEST_F(HttpTest, NotFoundIsHttpStatus) {
  HttpClient client = Client();
  const auto result = client.Fetch(Get(tls_->Url("/absent.txt")));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kHttpStatus);
  EXPECT_NE(result.error().message().find("HTTP 404"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Caps and timeouts.

// No Content-Length: the cap must be enforced while bytes arrive. At 32 MB/s
// the whole 256 MiB would take 8 s; stopping at 16 MiB takes half a second.
TEST_F(HttpTest, OversizedListRejected) {
  HttpClient client = Client();
  const std::string url = tls_->Url("/slow-chunked/huge.bin");
  const auto start = Clock::now();
  const auto result = client.Fetch(Get(url));
  const double elapsed = SecondsSince(start);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kListTooLarge) << result.error().ToString();
  // Found while streaming, not from a Content-Length.
  EXPECT_NE(result.error().message().find("exceeds the cap of 16777216 bytes"), std::string::npos)
      << result.error().message();
  EXPECT_NE(result.error().message().find(url), std::string::npos);
  EXPECT_LT(elapsed, 4.0) << "the transfer was not stopped at the cap";
}

TEST_F(HttpTest, OversizedListWithContentLengthRejected) {
  HttpClient client = Client();
  const auto start = Clock::now();
  const auto result = client.Fetch(Get(tls_->Url("/huge.bin")));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kListTooLarge) << result.error().ToString();
  EXPECT_NE(result.error().message().find("268435456 bytes, exceeding the cap of 16777216"),
            std::string::npos)
      << result.error().message();
  EXPECT_LT(SecondsSince(start), 2.0);
}

TEST_F(HttpTest, SmallCapEnforcedOnChunkedBody) {
  HttpClient client = Client();
  const auto result = client.Fetch(Capped(tls_->Url("/chunked/big.bin"), 1000));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kListTooLarge);
  const auto fits = client.Fetch(Capped(tls_->Url("/chunked/big.bin"), big_->size()));
  ASSERT_TRUE(fits.ok()) << fits.error().ToString();
  EXPECT_EQ(fits->body, *big_);
}

TEST_F(HttpTest, StalledServerAborted) {
  HttpOptions options = TrustingOptions();
  options.low_speed_limit = 1000;
  options.low_speed_time = std::chrono::seconds(2);
  HttpClient client = Client(options);
  const auto start = Clock::now();
  const auto result = client.Fetch(Get(tls_->Url("/stalled/big.bin")));
  const double elapsed = SecondsSince(start);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kTransferTimeout) << result.error().ToString();
  EXPECT_NE(result.error().message().find("low-speed limit 1000 bytes/s over 2 s"),
            std::string::npos)
      << result.error().message();
  EXPECT_GE(elapsed, 1.5);
  EXPECT_LT(elapsed, 5.0);
}

TEST_F(HttpTest, TotalTimeoutAborts) {
  HttpOptions options = TrustingOptions();
  options.fetch_timeout = std::chrono::milliseconds(1000);
  HttpClient client = Client(options);
  const auto start = Clock::now();
  // 300 kB at 100 kB/s: fast enough for the low-speed limit, too slow for 1 s.
  const auto result = client.Fetch(Get(tls_->Url("/slow/big.bin")));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kTransferTimeout) << result.error().ToString();
  EXPECT_NE(result.error().message().find("total timeout 1 s"), std::string::npos);
  EXPECT_LT(SecondsSince(start), 2.5);
}

// ---------------------------------------------------------------------------
// Conditional requests and connection reuse.

TEST_F(HttpTest, ConditionalGetReturnsNotModified) {
  HttpClient client = Client();
  const std::string url = tls_->Url("/conditional.txt");
  const auto first = client.Fetch(Get(url));
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  ASSERT_FALSE(first->etag.empty());
  ASSERT_FALSE(first->last_modified.empty());

  const auto by_etag = client.Fetch(Conditional(url, first->etag, ""));
  ASSERT_TRUE(by_etag.ok()) << by_etag.error().ToString();
  EXPECT_TRUE(by_etag->not_modified);
  EXPECT_EQ(by_etag->status, 304);
  EXPECT_TRUE(by_etag->body.empty());
  EXPECT_EQ(by_etag->etag, first->etag);

  const auto by_date = client.Fetch(Conditional(url, "", first->last_modified));
  ASSERT_TRUE(by_date.ok()) << by_date.error().ToString();
  EXPECT_TRUE(by_date->not_modified);

  WriteFile(Www() / "conditional.txt", "version 2, longer\n");
  const auto changed = client.Fetch(Conditional(url, first->etag, ""));
  ASSERT_TRUE(changed.ok()) << changed.error().ToString();
  EXPECT_FALSE(changed->not_modified);
  EXPECT_EQ(changed->body, "version 2, longer\n");
  EXPECT_NE(changed->etag, first->etag);
}

TEST_F(HttpTest, ManyFetchesReuseOneConnection) {
  HttpClient client = Client();
  const std::string url = tls_->Url("/reuse.txt");
  std::string etag;
  for (int i = 0; i < 20; ++i) {
    const auto result = client.Fetch(Conditional(url, etag, ""));
    ASSERT_TRUE(result.ok()) << result.error().ToString();
    EXPECT_EQ(result->not_modified, i > 0);
    etag = result->etag;
  }
  const std::vector<AccessLogEntry> log = tls_->WaitForLog("/reuse.txt", 20);
  std::set<long> connections;
  for (const AccessLogEntry& e : log) connections.insert(e.connection);
  EXPECT_EQ(log.size(), 20u);
  EXPECT_EQ(connections.size(), 1u) << "fetches did not share one connection";
}

TEST_F(HttpTest, UserAgentNamesTheProduct) {
  HttpClient client = Client();
  ASSERT_TRUE(client.Fetch(Get(tls_->Url("/list.txt?ua"))).ok());
  const std::vector<AccessLogEntry> log = tls_->WaitForLog("/list.txt?ua", 1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].user_agent, DefaultUserAgent());
  EXPECT_EQ(DefaultUserAgent().substr(0, 15), "caster-catcher/");
}

// ---------------------------------------------------------------------------
// Credentials.

TEST_F(HttpTest, BasicAuthSucceeds) {
  HttpClient client = Client();
  const auto result = client.Fetch(Get(basic_->Url("/list.txt"), BasicAuth{kUser, kPassword}));
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->body, "behind basic auth\n");
}

TEST_F(HttpTest, BasicAuthWrongPasswordRejectedWithoutLeakingIt) {
  HttpClient client = Client();
  const std::string wrong = "WrongPassw0rd-xyz";
  const auto result = client.Fetch(Get(basic_->Url("/list.txt"), BasicAuth{kUser, wrong}));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kHttpStatus);
  EXPECT_NE(result.error().message().find("HTTP 401"), std::string::npos);
  EXPECT_EQ(result.error().ToJson().find(wrong), std::string::npos);

  // Credentials inside the URL are stripped from messages too.
  const std::string in_url = "https://" + std::string(kUser) + ":" + wrong +
                             "@127.0.0.1:" + std::to_string(basic_->port()) + "/list.txt";
  const auto from_url = client.Fetch(Get(in_url));
  ASSERT_FALSE(from_url.ok());
  EXPECT_EQ(from_url.error().code(), ErrorCode::kHttpStatus);
  EXPECT_EQ(from_url.error().ToJson().find(wrong), std::string::npos) << from_url.error().ToJson();
  EXPECT_EQ(from_url.error().ToJson().find(kUser), std::string::npos);
  EXPECT_NE(from_url.error().message().find(basic_->Url("/list.txt")), std::string::npos);

  const auto none = client.Fetch(Get(basic_->Url("/list.txt")));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kHttpStatus);
}

TEST_F(HttpTest, BearerTokenSucceeds) {
  HttpClient client = Client();
  const auto result = client.Fetch(Get(bearer_->Url("/list.txt"), BearerToken{kToken}));
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->body, "behind a token\n");
}

TEST_F(HttpTest, WrongBearerTokenRejectedWithoutLeakingIt) {
  HttpClient client = Client();
  const std::string wrong = "tok-wrong-0123456789";
  const auto result = client.Fetch(Get(bearer_->Url("/list.txt"), BearerToken{wrong}));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kHttpStatus);
  EXPECT_NE(result.error().ToJson().find("\"status\":\"401\""), std::string::npos)
      << result.error().ToJson();
  EXPECT_EQ(result.error().ToJson().find(wrong), std::string::npos);
}

// ---------------------------------------------------------------------------
// Downloads.

TEST_F(HttpTest, DownloadStreamsWholeObject) {
  HttpClient client = Client();
  StringSink sink;
  const auto result = client.Download(Object(tls_->Url("/big.bin"), big_->size()), sink);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->first_byte, 0u);
  EXPECT_EQ(result->bytes_received, big_->size());
  EXPECT_EQ(sink.begins, std::vector<uint64_t>{0});
  EXPECT_EQ(sink.data, *big_);
}

TEST_F(HttpTest, DownloadResumesWithRange) {
  HttpClient client = Client();
  StringSink sink(big_->substr(0, 100000));
  const auto result = client.Download(Object(tls_->Url("/big.bin"), big_->size(), 100000), sink);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->status, 206);
  EXPECT_EQ(result->first_byte, 100000u);
  EXPECT_EQ(result->bytes_received, big_->size() - 100000);
  EXPECT_EQ(sink.begins, std::vector<uint64_t>{100000});
  EXPECT_EQ(sink.data, *big_);
}

TEST_F(HttpTest, DownloadRestartsFromZeroWhenRangeIgnored) {
  HttpClient client = Client();
  StringSink sink(std::string(100000, 'x'));  // stale bytes the sink must drop
  const auto result =
      client.Download(Object(tls_->Url("/noranges/big.bin"), big_->size(), 100000), sink);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->first_byte, 0u);
  EXPECT_EQ(sink.begins, std::vector<uint64_t>{0});
  EXPECT_EQ(sink.data, *big_);
}

TEST_F(HttpTest, DownloadFromFileResumes) {
  const fs::path file = dir_->path() / "image.img";
  WriteFile(file, *big_);
  HttpClient client = Client();
  StringSink sink(big_->substr(0, 5000));
  DownloadRequest request = Object("file://" + file.string(), big_->size(), 5000);
  request.protocols = kLocalProtocols;
  const auto result = client.Download(request, sink);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(sink.begins, std::vector<uint64_t>{5000});
  EXPECT_EQ(sink.data, *big_);
}

// The server announces more than hv:size: nothing reaches the sink.
TEST_F(HttpTest, ImageLargerThanDeclaredAborted) {
  HttpClient client = Client();
  StringSink sink;
  const auto result = client.Download(Object(tls_->Url("/big.bin"), big_->size() - 1), sink);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kSizeMismatch) << result.error().ToString();
  EXPECT_NE(result.error().message().find(std::to_string(big_->size() - 1)), std::string::npos);
  EXPECT_EQ(sink.writes, 0);
}

// No Content-Length: the excess is cut while streaming, never delivered.
TEST_F(HttpTest, ImageLargerThanDeclaredAbortedWhileStreaming) {
  HttpClient client = Client();
  StringSink sink;
  const uint64_t declared = 100000;
  const auto result = client.Download(Object(tls_->Url("/chunked/big.bin"), declared), sink);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kSizeMismatch) << result.error().ToString();
  EXPECT_LE(sink.data.size(), declared);
  EXPECT_EQ(sink.data, big_->substr(0, sink.data.size()));
}

TEST_F(HttpTest, ImageShorterThanDeclaredFails) {
  HttpClient client = Client();
  StringSink sink;
  const auto result =
      client.Download(Object(tls_->Url("/chunked/big.bin"), big_->size() + 10), sink);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kSizeMismatch);
  EXPECT_NE(result.error().message().find("short of the declared size"), std::string::npos);
}

TEST_F(HttpTest, SinkErrorAbortsDownload) {
  HttpClient client = Client();
  FailingSink sink;
  const auto start = Clock::now();
  // 300 kB at 100 kB/s would take 3 s if the transfer went on.
  const auto result = client.Download(Object(tls_->Url("/slow/big.bin")), sink);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kDiskFull);
  EXPECT_EQ(result.error().message(), "cache disk full (test)");
  EXPECT_LT(SecondsSince(start), 1.5);
  EXPECT_LT(sink.received, big_->size());
}

TEST_F(HttpTest, DownloadOfMissingObjectIsHttpStatus) {
  HttpClient client = Client();
  StringSink sink;
  const auto result = client.Download(Object(tls_->Url("/absent.img")), sink);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kHttpStatus);
  EXPECT_TRUE(sink.begins.empty());
  EXPECT_EQ(sink.writes, 0);
}

// The total is the response's Content-Length as libcurl read it (0 before
// the headers), and the last report is the whole object.
TEST_F(HttpTest, DownloadProgressTotalIsContentLength) {
  HttpClient client = Client();
  StringSink sink;
  ProgressLog log;
  DownloadRequest request = Object(tls_->Url("/big.bin"), big_->size());
  request.progress = log.Observer();
  const auto result = client.Download(request, sink);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  ASSERT_FALSE(log.calls.empty());
  EXPECT_EQ(log.calls.back(), std::make_pair(uint64_t{big_->size()}, uint64_t{big_->size()}));
  EXPECT_EQ(log.Totals().back(), big_->size());
  EXPECT_LE(log.Totals().size(), 2u) << "the total is 0, then the Content-Length";
  EXPECT_TRUE(log.DoneNeverDecreases());
}

TEST_F(HttpTest, DownloadProgressTotalUnknownWithoutContentLength) {
  HttpClient client = Client();
  StringSink sink;
  ProgressLog log;
  DownloadRequest request = Object(tls_->Url("/chunked/big.bin"));
  request.progress = log.Observer();
  const auto result = client.Download(request, sink);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  ASSERT_FALSE(log.calls.empty());
  EXPECT_EQ(log.Totals(), std::vector<uint64_t>{0});
  EXPECT_EQ(log.calls.back().first, big_->size());
}

TEST_F(HttpTest, DownloadProgressOfFileUrlKnowsTheSize) {
  const fs::path file = dir_->path() / "progress.img";
  WriteFile(file, *big_);
  HttpClient client = Client();
  StringSink sink;
  ProgressLog log;
  DownloadRequest request = Object("file://" + file.string());
  request.protocols = kLocalProtocols;
  request.progress = log.Observer();
  const auto result = client.Download(request, sink);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  ASSERT_FALSE(log.calls.empty());
  EXPECT_EQ(log.calls.back(), std::make_pair(uint64_t{big_->size()}, uint64_t{big_->size()}));
}

// One libcurl callback serves both: an observer does not keep a download
// from being cancelled.
TEST_F(HttpTest, CancelStopsADownloadThatReportsProgress) {
  HttpClient client = Client();
  StringSink sink;
  ProgressLog log;
  const std::atomic<bool> cancel{true};
  DownloadRequest request = Object(tls_->Url("/stalled/big.bin"));
  request.cancel = &cancel;
  request.progress = log.Observer();
  const auto start = Clock::now();
  const auto result = client.Download(request, sink);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kNetwork);
  EXPECT_NE(result.error().message().find("cancelled"), std::string::npos)
      << result.error().ToString();
  EXPECT_LT(SecondsSince(start), 3.0);
  EXPECT_FALSE(log.calls.empty());
}

// ---------------------------------------------------------------------------
// Uploads.

TEST_F(HttpTest, UploadPutWithBasicAuth) {
  HttpClient client = Client();
  const fs::path source = dir_->path() / "signed-basic.smime";
  for (const std::string& content : {std::string("first version\n"), RandomBytes(2 << 20, 3)}) {
    WriteFile(source, content);
    const Status status = client.Upload(
        Put(basic_->Url("/lists/new/list.smime"), source, BasicAuth{kUser, kPassword}));
    ASSERT_TRUE(status.ok()) << status.error().ToString();
    EXPECT_EQ(ReadFile(basic_->root() / "lists/new/list.smime"), content);
  }
}

TEST_F(HttpTest, UploadPutWithBearerToken) {
  HttpClient client = Client();
  const fs::path source = dir_->path() / "signed-bearer.smime";
  WriteFile(source, "signed by a token holder\n");
  const Status status = client.Upload(Put(bearer_->Url("/l.smime"), source, BearerToken{kToken}));
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_EQ(ReadFile(bearer_->root() / "l.smime"), "signed by a token holder\n");
}

TEST_F(HttpTest, UploadWithWrongPasswordFailsWithoutLeakingIt) {
  HttpClient client = Client();
  const fs::path source = dir_->path() / "refused.smime";
  WriteFile(source, "refused\n");
  const std::string wrong = "NotThePassword-42";
  const Status status =
      client.Upload(Put(basic_->Url("/refused.smime"), source, BasicAuth{kUser, wrong}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kUploadFailed);
  EXPECT_NE(status.error().message().find("HTTP 401"), std::string::npos);
  EXPECT_EQ(status.error().ToJson().find(wrong), std::string::npos);
  EXPECT_FALSE(fs::exists(basic_->root() / "refused.smime"));
}

TEST_F(HttpTest, UploadMissingSourceIsIoError) {
  HttpClient client = Client();
  const Status status = client.Upload(Put(basic_->Url("/x"), dir_->path() / "no-such-file"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kIo);
}

TEST_F(HttpTest, UploadToFileReplacesAtomically) {
  TempDir target;
  const fs::path source = dir_->path() / "to-file.smime";
  WriteFile(target / "list.smime", "old\n");
  WriteFile(source, "new content\n");
  HttpClient client = Client();
  const Status status = client.Upload(Put("file://" + (target / "list.smime").string(), source));
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_EQ(ReadFile(target / "list.smime"), "new content\n");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(target.path())) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"list.smime"}) << "temporary file left behind";
}

// The total is the source file's size, and the last report is all of it.
TEST_F(HttpTest, UploadProgressTotalIsTheFileSize) {
  HttpClient client = Client();
  const fs::path source = dir_->path() / "progress-put.img";
  const std::string content = RandomBytes(2 << 20, 4);
  WriteFile(source, content);
  ProgressLog log;
  UploadRequest request =
      Put(basic_->Url("/progress/image.img"), source, BasicAuth{kUser, kPassword});
  request.progress = log.Observer();
  const Status status = client.Upload(request);
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  ASSERT_FALSE(log.calls.empty());
  EXPECT_EQ(log.calls.back(), std::make_pair(uint64_t{content.size()}, uint64_t{content.size()}));
  EXPECT_EQ(log.Totals().back(), content.size());
  EXPECT_TRUE(log.DoneNeverDecreases());
  EXPECT_EQ(ReadFile(basic_->root() / "progress/image.img"), content);
}

TEST_F(HttpTest, UploadProgressToFileUrl) {
  TempDir target;
  const fs::path source = dir_->path() / "progress-file.img";
  WriteFile(source, *big_);
  HttpClient client = Client();
  ProgressLog log;
  UploadRequest request = Put("file://" + (target / "image.img").string(), source);
  request.progress = log.Observer();
  const Status status = client.Upload(request);
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  ASSERT_FALSE(log.calls.empty());
  EXPECT_EQ(log.calls.back(), std::make_pair(uint64_t{big_->size()}, uint64_t{big_->size()}));
}

TEST_F(HttpTest, UploadToDirectoryUrlRejected) {
  TempDir target;
  const fs::path source = dir_->path() / "to-dir.smime";
  WriteFile(source, "x");
  HttpClient client = Client();
  const Status status = client.Upload(Put("file://" + target.path().string() + "/", source));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kInvalidValue);
}

// ---------------------------------------------------------------------------
// Proxies from the environment.

// nginx as a forward proxy for plain HTTP: proves http_proxy is honoured.
TEST_F(HttpTest, ProxyFromEnvironmentUsed) {
  auto origin = NginxServer::Start(NginxOptions{});
  ASSERT_NE(origin, nullptr);
  WriteFile(origin->root() / "list.txt", "via the proxy\n");
  NginxOptions proxy_options;
  proxy_options.server_config = "location ~ . { proxy_pass http://$http_host$request_uri; }\n";
  auto proxy = NginxServer::Start(proxy_options);
  ASSERT_NE(proxy, nullptr);

  const std::string proxy_url = "http://127.0.0.1:" + std::to_string(proxy->port());
  const ScopedEnv env({{"http_proxy", proxy_url.c_str()}, {"no_proxy", nullptr}});
  HttpClient client = Client();
  const auto result = client.Fetch(Get(origin->Url("/list.txt")));
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->body, "via the proxy\n");
  const auto proxied = proxy->WaitForLog("/list.txt", 1);
  ASSERT_EQ(proxied.size(), 1u) << "the request did not go through the proxy";
  EXPECT_EQ(proxied[0].status, 200);
  EXPECT_EQ(origin->WaitForLog("/list.txt", 1).size(), 1u);
}

TEST_F(HttpTest, HttpsProxyFailureNamesTheProxy) {
  const int closed = test::PickFreePort();  // nothing listens on it: just released
  const std::string proxy_url = "http://127.0.0.1:" + std::to_string(closed);
  const ScopedEnv env({{"https_proxy", proxy_url.c_str()}, {"no_proxy", nullptr}});
  HttpClient client = Client();
  const auto result = client.Fetch(Get(tls_->Url("/list.txt")));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kNetwork) << result.error().ToString();
  EXPECT_NE(result.error().message().find("port " + std::to_string(closed)), std::string::npos)
      << result.error().message();
}

// ---------------------------------------------------------------------------
// SFTP against OpenSSH's sshd (test/support/sshd.h).

class SftpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sshd_ = test::SshServer::Start();
    ASSERT_NE(sshd_, nullptr);
  }

  std::string Url(const fs::path& remote) const { return sshd_->Url(remote); }

  static HttpClient Client(const fs::path& known_hosts) {
    HttpOptions options;
    options.ssh_known_hosts = known_hosts;
    auto client = HttpClient::Create(options);
    EXPECT_TRUE(client.ok());
    return std::move(client).value();
  }

  SshKey Key() const {
    SshKey key;
    key.private_key = sshd_->user_key();
    return key;
  }

  std::unique_ptr<test::SshServer> sshd_;
  TempDir remote_;
  TempDir local_;
};

TEST_F(SftpTest, UploadReplacesRemoteFileByRename) {
  HttpClient client = Client(sshd_->known_hosts());
  const fs::path target = remote_ / "lists/sub/list.smime";
  const fs::path source = local_ / "list.smime";
  for (const std::string& content : {std::string("first\n"), RandomBytes(1 << 20, 5)}) {
    WriteFile(source, content);
    const Status status = client.Upload(Put(Url(target), source, Key()));
    ASSERT_TRUE(status.ok()) << status.error().ToString();
    EXPECT_EQ(ReadFile(target), content);
  }
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(target.parent_path())) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"list.smime"}) << "temporary file left behind";
}

TEST_F(SftpTest, UploadProgressTotalIsTheFileSize) {
  HttpClient client = Client(sshd_->known_hosts());
  const fs::path source = local_ / "image.img";
  const std::string content = RandomBytes(1 << 20, 6);
  WriteFile(source, content);
  ProgressLog log;
  UploadRequest request = Put(Url(remote_ / "image.img"), source, Key());
  request.progress = log.Observer();
  const Status status = client.Upload(request);
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  ASSERT_FALSE(log.calls.empty());
  EXPECT_EQ(log.calls.back(), std::make_pair(uint64_t{content.size()}, uint64_t{content.size()}));
}

TEST_F(SftpTest, UnknownHostKeyRejected) {
  const fs::path other = local_ / "other_host_key";
  ASSERT_TRUE(MustRun({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other.string()}));
  const std::string key = ReadFile(other.string() + ".pub");
  WriteFile(local_ / "known_hosts", "[127.0.0.1]:" + std::to_string(sshd_->port()) + " " +
                                        key.substr(0, key.rfind(' ')) + "\n");
  HttpClient client = Client(local_ / "known_hosts");
  const fs::path source = local_ / "l.smime";
  WriteFile(source, "x");
  const fs::path target = remote_ / "never.smime";
  const Status status = client.Upload(Put(Url(target), source, Key()));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kTlsError) << status.error().ToString();
  EXPECT_FALSE(fs::exists(target));
}

TEST(SftpOptionsTest, KnownHostsRequired) {
  auto client = HttpClient::Create();
  ASSERT_TRUE(client.ok());
  TempDir local;
  WriteFile(local / "l", "x");
  const Status status = client->Upload(Put("sftp://127.0.0.1:1/tmp/l", local / "l"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kConfigInvalid);
}

}  // namespace
}  // namespace vmc
