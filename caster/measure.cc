#include "caster/measure.h"

#include <sys/stat.h>

#include "caster/transfer_bar.h"
#include "common/progress.h"
#include "common/url.h"

namespace vmc::caster {
namespace {

// Hashes what it receives; restarts when the server sends from byte 0.
class HashingSink final : public DownloadSink {
 public:
  Status Begin(uint64_t first_byte) override {
    (void)first_byte;  // never resumes: it always asks from 0
    hash_.Reset();
    size_ = 0;
    return Ok();
  }

  Status Write(const char* data, size_t n) override {
    hash_.Update(data, n);
    size_ += n;
    return Ok();
  }

  Result<FileDigest> Finish() {
    VMC_ASSIGN_OR_RETURN(std::string hex, hash_.FinishHex());
    return FileDigest{std::move(hex), size_};
  }

 private:
  Sha512 hash_;
  uint64_t size_ = 0;
};

// The image's file name, as a person knows the image; the URL (without
// credentials) when its path names no file.
std::string TransferLabel(const std::string& url) {
  auto name = UrlFileName(url);
  if (name.ok() && !name->empty()) return *name;
  return RedactUrl(url);
}

}  // namespace

Result<FileDigest> MeasureFile(const std::filesystem::path& path) {
  struct stat st {};
  const uint64_t total = stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  ProgressBar bar(path.filename().string(), total);
  auto digest = HashFile(path, [&](uint64_t done) { bar.Update(done); });
  bar.Finish();
  return digest;
}

Result<FileDigest> MeasureUrl(HttpClient& client, const std::string& url,
                              const Credentials& credentials) {
  HashingSink sink;
  TransferBar bar(TransferLabel(url));
  DownloadRequest request;
  request.url = url;
  request.credentials = credentials;
  request.protocols = kLocalProtocols;  // the publisher's own URL
  request.progress = bar.Observer();
  VMC_RETURN_IF_ERROR(client.Download(request, sink));
  bar.Finish();
  return sink.Finish();
}

}  // namespace vmc::caster
