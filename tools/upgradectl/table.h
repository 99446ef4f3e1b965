// Aligned text tables, the way kubectl prints them: a header row in capitals,
// columns two spaces apart, no borders.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace noodle::tools {

using TableRows = std::vector<std::vector<std::string>>;

// Prints rows (the first is the header) with every column padded to its
// widest cell; the last column is not padded. Widths count bytes of UTF-8
// as one column each only for ASCII; upgradectl's cells are ASCII.
void PrintTable(const TableRows& rows, std::ostream& out);

}  // namespace noodle::tools
