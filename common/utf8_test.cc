#include "common/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace vmc {
namespace {

using namespace std::string_literals;

constexpr auto kNpos = std::string_view::npos;

TEST(Utf8Test, AcceptsAsciiAndMultiByteText) {
  EXPECT_EQ(FirstInvalidUtf8(""), kNpos);
  EXPECT_EQ(FirstInvalidUtf8("plain ASCII text, longer than one word"), kNpos);
  EXPECT_EQ(FirstInvalidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"), kNpos);
  EXPECT_TRUE(
      IsValidUtf8("Gr\xc3\xbc\xc3\x9f"
                  "e"));
}

// The offset is the byte where the bad sequence begins, whether it falls in
// the first word, after whole ASCII words, or in the unaligned tail.
TEST(Utf8Test, NamesTheFirstBadByte) {
  EXPECT_EQ(FirstInvalidUtf8("\xff"), 0u);
  EXPECT_EQ(FirstInvalidUtf8("abc\x80"), 3u);
  EXPECT_EQ(FirstInvalidUtf8("0123456789abcdef\xc3"), 16u);  // truncated at the end
  EXPECT_EQ(FirstInvalidUtf8("0123456789\xc3\xa9x\xe2\x82"), 13u);
  EXPECT_EQ(FirstInvalidUtf8("ok\xc3\xa9\xff\xc3\xa9"), 4u);
}

TEST(Utf8Test, RefusesWhatRfc3629Forbids) {
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));              // overlong "/"
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));          // overlong, three bytes
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));          // encoded surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xed\xbf\xbf"));          // encoded surrogate U+DFFF
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));      // beyond U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xf8\x88\x80\x80\x80"));  // five bytes
  EXPECT_TRUE(IsValidUtf8("a\0b"s));                  // NUL is a character
}

}  // namespace
}  // namespace vmc
