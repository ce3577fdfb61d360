#include "common/output.h"

#include <gtest/gtest.h>

#include <sstream>

namespace vmc {
namespace {

TEST(OutputTest, CountsReadAsPeopleWriteThem) {
  EXPECT_EQ(Counted(0, "subscription"), "0 subscriptions");
  EXPECT_EQ(Counted(1, "subscription"), "1 subscription");
  EXPECT_EQ(Counted(2, "failure"), "2 failures");
}

TEST(OutputTest, TablesAlignTheirColumns) {
  std::ostringstream out;
  PrintTable(out, {{"NAME", "STATE"}, {"a-long-name", "ok"}, {"b", "failed"}});
  const std::string text = out.str();
  EXPECT_NE(text.find("NAME"), std::string::npos);
  // Each row's second column starts at the same offset.
  std::istringstream lines(text);
  std::string line;
  std::size_t column = std::string::npos;
  while (std::getline(lines, line)) {
    const std::size_t at = line.find_first_not_of(' ', line.find(' '));
    if (column == std::string::npos) column = at;
    EXPECT_EQ(at, column) << line;
  }
}

}  // namespace
}  // namespace vmc
