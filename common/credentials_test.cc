#include "common/credentials.h"

#include <gtest/gtest.h>

#include "test/support/temp_dir.h"

namespace vmc {
namespace {

class CredentialsTest : public testing::Test {
 protected:
  Result<Credentials> Load(std::string_view text) {
    test::WriteFile(dir_ / "cred", text);
    return LoadCredentials(dir_ / "cred");
  }
  test::TempDir dir_;
};

TEST_F(CredentialsTest, ReadsBasicAuth) {
  const auto c = Load("# site account\nusername = alice\npassword = s3cret=x\n");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  const auto& basic = std::get<BasicAuth>(*c);
  EXPECT_EQ(basic.user, "alice");
  EXPECT_EQ(basic.password, "s3cret=x");
}

TEST_F(CredentialsTest, ReadsTokenAndSshKey) {
  EXPECT_EQ(std::get<BearerToken>(*Load("token = abc.def\n")).token, "abc.def");
  const auto ssh = Load("ssh-key = /k/id\nssh-user = bob\n");
  ASSERT_TRUE(ssh.ok());
  EXPECT_EQ(std::get<SshKey>(*ssh).private_key, "/k/id");
  EXPECT_EQ(std::get<SshKey>(*ssh).user, "bob");
}

TEST_F(CredentialsTest, RefusesAmbiguousIncompleteOrUnknownWithoutQuotingSecrets) {
  for (const char* bad : {"username = a\n", "password = topsecret\n",
                          "token = topsecret\nusername = a\npassword = topsecret\n", "",
                          "tokn = topsecret\n", "token =\n"}) {
    const auto c = Load(bad);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.error().code(), ErrorCode::kConfigInvalid);
    EXPECT_EQ(c.error().message().find("topsecret"), std::string::npos) << c.error().message();
    EXPECT_EQ(c.error().ToJson().find("topsecret"), std::string::npos);
  }
  EXPECT_FALSE(LoadCredentials(dir_ / "missing").ok());
}

}  // namespace
}  // namespace vmc
