// The bar of one transfer, moved by libcurl's own reports from a real nginx:
// its total is the Content-Length libcurl read, and it is not even asked for
// when the bar is not drawn.
#include "caster/transfer_bar.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "test/support/nginx.h"
#include "test/support/temp_dir.h"

namespace vmc::caster {
namespace {

// Receives and forgets.
class NullSink final : public DownloadSink {
 public:
  Status Begin(uint64_t /*first_byte*/) override { return Ok(); }
  Status Write(const char* /*data*/, size_t /*size*/) override { return Ok(); }
};

TEST(TransferBarTest, NoObserverWhenTheBarIsNotDrawn) {
  TransferBar bar("image.qcow2", false);
  EXPECT_FALSE(bar.Observer());
}

TEST(TransferBarTest, DrawnBarShowsTheContentLengthAsTotal) {
  const auto server = test::NginxServer::Start({});
  ASSERT_NE(server, nullptr);
  test::WriteFile(server->root() / "image.qcow2", std::string(2 << 20, 'x'));
  auto client = HttpClient::Create();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  NullSink sink;
  testing::internal::CaptureStderr();
  {
    TransferBar bar("image.qcow2", true);
    DownloadRequest request;
    request.url = server->Url("/image.qcow2");
    request.progress = bar.Observer();
    const auto result = client->Download(request, sink);
    EXPECT_TRUE(result.ok()) << result.error().ToString();
    bar.Finish();
  }
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("image.qcow2 [########################] 100%  2.0 MiB/2.0 MiB"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.back(), '\n');
}

}  // namespace
}  // namespace vmc::caster
