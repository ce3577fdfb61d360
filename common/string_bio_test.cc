#include "common/string_bio.h"

#include <gtest/gtest.h>

#include <string>

namespace vmc {
namespace {

TEST(StringSourceBio, ReadsTheBytesInPiecesThenEnds) {
  const std::string bytes = "abc\ndef";
  BioPtr bio = StringSourceBio(bytes);
  ASSERT_NE(bio, nullptr);
  EXPECT_EQ(BIO_pending(bio.get()), 7);
  EXPECT_EQ(BIO_eof(bio.get()), 0);
  char buf[8] = {};
  ASSERT_EQ(BIO_read(bio.get(), buf, 1), 1);
  EXPECT_EQ(buf[0], 'a');
  ASSERT_EQ(BIO_read(bio.get(), buf, 5), 5);
  EXPECT_EQ(std::string(buf, 5), "bc\nde");
  ASSERT_EQ(BIO_read(bio.get(), buf, 8), 1);
  EXPECT_EQ(buf[0], 'f');
  EXPECT_EQ(BIO_eof(bio.get()), 1);
  EXPECT_EQ(BIO_read(bio.get(), buf, 8), 0);
  // An end is an end: nothing asks the caller to try again.
  EXPECT_EQ(BIO_should_retry(bio.get()), 0);
}

TEST(StringSourceBio, GetsStopsAfterTheNewlineOrAtTheBufferSize) {
  const std::string bytes = "first\nsecond line\nlast";
  BioPtr bio = StringSourceBio(bytes);
  char line[8];
  ASSERT_EQ(BIO_gets(bio.get(), line, sizeof line), 6);
  EXPECT_STREQ(line, "first\n");
  ASSERT_EQ(BIO_gets(bio.get(), line, sizeof line), 7);  // size - 1, NUL-terminated
  EXPECT_STREQ(line, "second ");
  ASSERT_EQ(BIO_gets(bio.get(), line, sizeof line), 5);
  EXPECT_STREQ(line, "line\n");
  ASSERT_EQ(BIO_gets(bio.get(), line, sizeof line), 4);
  EXPECT_STREQ(line, "last");
  EXPECT_EQ(BIO_gets(bio.get(), line, sizeof line), 0);
}

TEST(StringSourceBio, GetLineReadsByteByByteToTheEnd) {
  // What SMIME_read_CMS does with a multipart message.
  const std::string bytes = "one\ntwo";
  BioPtr bio = StringSourceBio(bytes);
  char line[16];
  EXPECT_EQ(BIO_get_line(bio.get(), line, sizeof line), 4);
  EXPECT_STREQ(line, "one\n");
  EXPECT_EQ(BIO_get_line(bio.get(), line, sizeof line), 3);
  EXPECT_STREQ(line, "two");
  EXPECT_EQ(BIO_get_line(bio.get(), line, sizeof line), 0);
}

TEST(StringSourceBio, EmptyInputIsAtItsEnd) {
  BioPtr bio = StringSourceBio("");
  char buf[4];
  EXPECT_EQ(BIO_eof(bio.get()), 1);
  EXPECT_EQ(BIO_read(bio.get(), buf, sizeof buf), 0);
}

TEST(StringSinkBio, AppendsEverythingWrittenThroughAFilterChain) {
  std::string sink = "kept:";
  BioPtr bio = StringSinkBio(&sink);
  ASSERT_NE(bio, nullptr);
  // CMS_verify writes through a buffering BIO and flushes it at the end.
  BioPtr chain(BIO_push(BIO_new(BIO_f_buffer()), bio.release()));
  ASSERT_EQ(BIO_write(chain.get(), "line\r\n", 6), 6);
  ASSERT_EQ(BIO_puts(chain.get(), "more"), 4);
  EXPECT_EQ(sink, "kept:");  // still in the buffer
  ASSERT_EQ(BIO_flush(chain.get()), 1);
  EXPECT_EQ(sink, "kept:line\r\nmore");
}

}  // namespace
}  // namespace vmc
