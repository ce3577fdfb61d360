#include "common/credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "test/support/temp_dir.h"

namespace vmc {
namespace {

class CredentialsTest : public testing::Test {
 protected:
  // Writes `text` as a private file (mode 0600 unless told) and reads it.
  Result<Credentials> Load(std::string_view text, mode_t mode = 0600) {
    test::WriteFile(dir_ / "cred", text);
    EXPECT_EQ(chmod((dir_ / "cred").c_str(), mode), 0);
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

// No message carries a line, a key that is not one of the known names, or a
// value: any of them may be the secret. The file and the line number do.
TEST_F(CredentialsTest, MalformedCredentialsFileNeverEchoesASecret) {
  const std::string secret = "s3cret-Zq8";
  struct Case {
    std::string text;
    std::string line;  // "line N" expected in the message
    std::string says;  // and this
  };
  const std::vector<Case> cases = {
      {"username = alice\npassword " + secret + "\n", "line 2", "is not KEY = VALUE"},
      {"password" + secret + "\n", "line 1", "is not KEY = VALUE"},
      {secret + "\n", "line 1", "is not KEY = VALUE"},
      {"# comment\n" + secret + " = x\n", "line 2", "unknown key"},
      {"tokn = " + secret + "\n", "line 1", "unknown key"},
      {"token: " + secret + "\n", "line 1", "is not KEY = VALUE"},
      {"\n\n[" + secret + "]\ntoken = x\n", "line 3", "[section]"},
      {"[x]\ntoken = " + secret + "\n", "line 1", "[section]"},
      {"token = a\ntoken = " + secret + "\n", "line 2", "repeats the key token (first on line 1)"},
      {"username = alice\npassword = " + secret + "\n=" + secret + "\n", "line 3", ""},
      {"username = " + secret + "\n", "", "needs both username and password"},
      {"token = " + secret + "\nusername = a\npassword = " + secret + "\n", "", "exactly one of"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const auto loaded = Load(c.text);
    ASSERT_FALSE(loaded.ok());
    const Error& e = loaded.error();
    EXPECT_EQ(e.code(), ErrorCode::kConfigInvalid);
    for (const std::string& shown : {e.message(), e.ToString(), e.ToJson()}) {
      EXPECT_EQ(shown.find(secret), std::string::npos) << shown;
      EXPECT_EQ(shown.find("s3cret"), std::string::npos) << shown;
    }
    EXPECT_NE(e.message().find((dir_ / "cred").string()), std::string::npos) << e.message();
    EXPECT_NE(e.message().find(c.line), std::string::npos) << e.message();
    EXPECT_NE(e.message().find(c.says), std::string::npos) << e.message();
  }
}

// A file that group or others may read or write is refused with its mode, not
// used with a warning; its content is never looked at.
TEST_F(CredentialsTest, FileOpenToOthersRefused) {
  for (const mode_t mode : {0640, 0604, 0620, 0660, 0644, 0700 | 0001}) {
    SCOPED_TRACE(mode);
    const auto loaded = Load("token = abc\n", mode);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().code(), ErrorCode::kConfigInvalid);
    char octal[8];
    std::snprintf(octal, sizeof(octal), "%04o", static_cast<unsigned>(mode));
    EXPECT_NE(loaded.error().message().find(std::string("mode ") + octal), std::string::npos)
        << loaded.error().message();
    EXPECT_NE(loaded.error().message().find((dir_ / "cred").string()), std::string::npos);
  }
  EXPECT_TRUE(Load("token = abc\n", 0400).ok());
  EXPECT_TRUE(Load("token = abc\n", 0600).ok());
  // A directory is not a credentials file.
  std::filesystem::create_directory(dir_ / "dir");
  chmod((dir_ / "dir").c_str(), 0700);
  EXPECT_FALSE(LoadCredentials(dir_ / "dir").ok());
}

}  // namespace
}  // namespace vmc
