#include "common/error.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <set>

namespace vmc {
namespace {

TEST(ErrorTest, EveryCodeHasAUniqueNameAndAnExitStatusFromTheContract) {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(ErrorCode::kUnsafePath); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    const auto name = ErrorCodeName(code);
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    const int status = ExitStatusFor(code);
    EXPECT_GE(status, 1) << name;
    EXPECT_LE(status, 7) << name;
    if (code != ErrorCode::kUsage) {
      EXPECT_NE(name, "usage") << "code " << i << " is missing from the table";
    }
  }
}

TEST(ErrorTest, ExitStatusesFollowDesignSection8) {
  EXPECT_EQ(ExitStatusFor(ErrorCode::kUsage), 1);
  EXPECT_EQ(ExitStatusFor(ErrorCode::kPolicyInvalid), 2);
  EXPECT_EQ(ExitStatusFor(ErrorCode::kTransferTimeout), 3);
  EXPECT_EQ(ExitStatusFor(ErrorCode::kSignerRevoked), 4);
  EXPECT_EQ(ExitStatusFor(ErrorCode::kListExpired), 5);
  EXPECT_EQ(ExitStatusFor(ErrorCode::kChecksumMismatch), 6);
  EXPECT_EQ(ExitStatusFor(ErrorCode::kStorage), 7);
  EXPECT_EQ(ErrorCodeName(ErrorCode::kListExpired), "list-expired");
}

TEST(ErrorTest, JsonCarriesCodeMessageAndDetailsEscaped) {
  const Error e = Error(ErrorCode::kSchemaViolation, "bad \"value\"\nhere")
                      .With("pointer", "/hv:imagelist/dc:title")
                      .With("code", "ignored: reserved key");
  rapidjson::Document doc;
  doc.Parse(e.ToJson().c_str());
  ASSERT_FALSE(doc.HasParseError());
  const auto& err = doc["error"];
  EXPECT_STREQ(err["code"].GetString(), "schema-violation");
  EXPECT_STREQ(err["message"].GetString(), "bad \"value\"\nhere");
  EXPECT_STREQ(err["pointer"].GetString(), "/hv:imagelist/dc:title");
  EXPECT_EQ(err["exit_status"].GetInt(), 5);
}

TEST(ErrorTest, ResultCarriesValueOrError) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = Error(ErrorCode::kIo, "disk");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kIo);
  EXPECT_EQ(bad.error().ToString(), "io-error: disk");
}

Result<int> Half(int x) {
  if (x % 2 != 0) return Error(ErrorCode::kInvalidValue, "odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  VMC_ASSIGN_OR_RETURN(const int h, Half(x));
  VMC_ASSIGN_OR_RETURN(const int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  VMC_RETURN_IF_ERROR(Half(x));
  return Ok();
}

TEST(ErrorTest, MacrosPropagateTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_FALSE(Quarter(6).ok());
  EXPECT_EQ(Quarter(6).error().message(), "odd");
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_EQ(CheckEven(3).error().code(), ErrorCode::kInvalidValue);
}

TEST(ErrorTest, PrefixAddsContext) {
  const Error e = Error(ErrorCode::kListExpired, "expired").Prefix("image list x: ");
  EXPECT_EQ(e.message(), "image list x: expired");
}

}  // namespace
}  // namespace vmc
