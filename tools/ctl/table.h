// Aligned text tables for the default output: columns padded to their
// widest cell, two spaces apart.
#ifndef CONCORDANCE_TOOLS_CTL_TABLE_H_
#define CONCORDANCE_TOOLS_CTL_TABLE_H_

#include <ostream>
#include <string>
#include <vector>

namespace concordance::ctl {

class Table {
 public:
  // No header: a list of `name  value` rows (get, put).
  explicit Table(std::vector<std::string> header = {});
  void AddRow(std::vector<std::string> row);
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;  // the header first, if any
};

}  // namespace concordance::ctl

#endif  // CONCORDANCE_TOOLS_CTL_TABLE_H_
