#include "common/output.h"

#include <algorithm>

#include "common/log.h"

namespace vmc {

void PrintTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    std::vector<std::string> escaped;
    for (size_t i = 0; i < row.size(); ++i) {
      escaped.push_back(EscapeForLog(row[i]));
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], escaped.back().size());
    }
    cells.push_back(std::move(escaped));
  }
  for (const auto& row : cells) {
    for (size_t i = 0; i < row.size(); ++i) {
      out << row[i];
      if (i + 1 < row.size()) out << std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << "\n";
  }
}

std::string Counted(std::size_t n, std::string_view noun) {
  std::string text = std::to_string(n) + " ";
  text += noun;
  if (n != 1) text += 's';
  return text;
}

}  // namespace vmc
