#include "common/string_bio.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

// Reads lines from `bytes` with `read_line` into a buffer of `size` until it
// returns 0: the lines read, each as the reader returned it.
template <typename ReadLine>
std::vector<std::string> Lines(const std::string& bytes, int size, ReadLine read_line) {
  BioPtr bio = StringSourceBio(bytes);
  std::vector<std::string> lines;
  std::vector<char> buffer(static_cast<std::size_t>(size));
  for (int n; (n = read_line(bio.get(), buffer.data(), size)) > 0;) {
    EXPECT_EQ(buffer[static_cast<std::size_t>(n)], '\0');  // NUL-terminated
    lines.emplace_back(buffer.data(), static_cast<std::size_t>(n));
  }
  return lines;
}

TEST(StringSourceBio, GetsStopsAfterTheNewlineOrAtTheBufferSize) {
  // At most size - 1 bytes a call.
  EXPECT_EQ(Lines("first\nsecond line\nlast", 8, BIO_gets),
            (std::vector<std::string>{"first\n", "second ", "line\n", "last"}));
}

TEST(StringSourceBio, GetLineReadsByteByByteToTheEnd) {
  // What SMIME_read_CMS does with a multipart message.
  EXPECT_EQ(Lines("one\ntwo", 16, BIO_get_line), (std::vector<std::string>{"one\n", "two"}));
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
