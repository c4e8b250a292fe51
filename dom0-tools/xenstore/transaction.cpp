#include "xenstore/transaction.h"

namespace pv::xenstore {

void Transaction::note_access(const std::string& path) {
  if (accessed_.contains(path)) return;
  NodePtr node = tree_.lookup(path);
  accessed_.emplace(path, node ? node->generation : 0);
}

}  // namespace pv::xenstore
