// xenstored's durable state on disk: <dir>/snapshot (the whole state at one
// point) and <dir>/journal (every batch of changes since, appended with
// write(2) before the reply to the request that made them is queued).
// compact() writes a new snapshot (temporary file, fsync, rename) and starts
// an empty journal of the next epoch; a journal whose epoch is not the
// snapshot's is one compaction already absorbed and is ignored.
//
// Durability is against the death of pvd (kill -9, crash, upgrade): the
// data is in the kernel's page cache once write(2) returns. Appends are
// not fsync'd: after a host crash no domain is left running for the store
// to describe (docs/xenstore.md explains the choice).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "pv/unique_fd.h"
#include "xenstore/saved_state.h"

namespace pv::xenstore {

class Journal {
 public:
  // Creates `dir` (mode 0700) if needed. Throws pv::SystemError.
  explicit Journal(std::string dir);

  // What is saved: the snapshot plus the journal's intact batches. A torn
  // or corrupt journal tail is dropped with a warning. nullopt (and an
  // error logged) when the snapshot is missing or damaged: the caller
  // starts with an empty store. Call once, before compact()/append().
  std::optional<SavedState> load();

  // Replaces snapshot and journal with `state`. Throws pv::SystemError.
  void compact(const SavedState& state);
  // Appends one batch. Throws pv::SystemError (then compact() to recover).
  void append(const JournalBatch& batch);

  size_t journal_bytes() const { return journal_bytes_; }
  const std::string& dir() const { return dir_; }
  std::string snapshot_path() const { return dir_ + "/snapshot"; }
  std::string journal_path() const { return dir_ + "/journal"; }

 private:
  std::optional<SavedState> load_snapshot();
  void replay_journal(SavedState& state);

  std::string dir_;
  uint64_t epoch_ = 0;
  UniqueFd journal_fd_;
  size_t journal_bytes_ = 0;
};

}  // namespace pv::xenstore
