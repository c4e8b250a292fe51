// What keeps pvd off what it does not own: an exclusive lock on its state
// directory (one pvd per state dir), and the rule that the only thing it
// ever removes at a socket path is a stale socket of its own user.
#pragma once
#include <string>

#include "pv/unique_fd.h"

namespace pv::pvd {

// flock(LOCK_EX) on <state-dir>/pvd.lock, held while the object lives
// (across daemon(): the lock belongs to the open file, which the child
// keeps). The file holds the holder's pid, for the message another pvd
// gets. Creates the state dir (mode 0700) if needed; throws UserError when
// another pvd holds the lock.
class StateDirLock {
 public:
  explicit StateDirLock(const std::string& state_dir);
  // Writes the current pid (after daemon() it is the daemon's).
  void record_pid() const;

 private:
  std::string path_;
  UniqueFd fd_;
};

// Makes `path` free for a server socket: nothing there is fine; a socket
// nobody answers on, owned by this user, is stale and removed. Anything
// else throws UserError and is left alone: a live server on it (another
// pvd), a regular file, a directory, a socket of another user. `what`
// names the option in the message ("--socket").
void claim_socket_path(const std::string& path, const std::string& what);

}  // namespace pv::pvd
