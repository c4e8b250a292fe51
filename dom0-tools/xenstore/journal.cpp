#include "xenstore/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "pv/error.h"
#include "pv/files.h"
#include "pv/log.h"

namespace pv::xenstore {

namespace {
void write_all(int fd, const std::string& bytes, const std::string& what) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw SystemError("cannot append to " + what, n < 0 ? errno : ENOSPC);
    done += static_cast<size_t>(n);
  }
}

void sync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd) ::fsync(fd.get());
}
}  // namespace

Journal::Journal(std::string dir) : dir_(std::move(dir)) {
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) throw_errno("cannot create " + dir_);
}

std::optional<SavedState> Journal::load() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(snapshot_path(), ec)) {
    if (fs::exists(journal_path(), ec))
      log::warning("xenstore journal " + journal_path() + " has no snapshot; ignored, starting with a fresh store");
    else
      log::info("no saved xenstore state in " + dir_ + ": starting with a fresh store");
    return std::nullopt;
  }
  std::optional<SavedState> state = load_snapshot();
  if (!state) {
    const std::string keep = snapshot_path() + ".damaged";
    std::rename(snapshot_path().c_str(), keep.c_str());
    log::error("xenstore snapshot " + snapshot_path() + " is damaged (kept as " + keep +
               "): STARTING WITH AN EMPTY STORE; running guests lose their xenstore contents and watches");
    return std::nullopt;
  }
  replay_journal(*state);
  return state;
}

std::optional<SavedState> Journal::load_snapshot() {
  const std::string data = read_file(snapshot_path());
  size_t offset = 0;
  std::string payload;
  try {
    if (next_frame(data, offset, payload) != FrameStatus::kOk) throw FormatError("no header");
    const FileHeader header = decode_header(payload);
    if (header.kind != FileKind::kSnapshot) throw FormatError("not a snapshot");
    SavedState state;
    for (uint64_t batches = 0;; batches++) {
      const FrameStatus st = next_frame(data, offset, payload);
      if (st != FrameStatus::kOk) throw FormatError(st == FrameStatus::kCorrupt ? "checksum mismatch" : "truncated");
      if (record_type(payload) == RecordType::kEnd) {
        if (decode_end(payload) != batches) throw FormatError("batch count mismatch");
        break;
      }
      state.apply(decode_batch(payload));
    }
    if (offset != data.size()) throw FormatError("bytes after the end record");
    epoch_ = header.epoch;
    return state;
  } catch (const std::exception& e) {
    log::error("xenstore snapshot " + snapshot_path() + ": " + e.what() + " (at byte " + std::to_string(offset) + ")");
    return std::nullopt;
  }
}

void Journal::replay_journal(SavedState& state) {
  const std::string data = read_file(journal_path());
  if (data.empty()) return;
  size_t offset = 0;
  std::string payload;
  try {
    if (next_frame(data, offset, payload) != FrameStatus::kOk) throw FormatError("no header");
    const FileHeader header = decode_header(payload);
    if (header.kind != FileKind::kJournal) throw FormatError("not a journal");
    if (header.epoch != epoch_) {
      log::info("xenstore journal of epoch " + std::to_string(header.epoch) + " is older than the snapshot; ignored");
      return;
    }
  } catch (const std::exception& e) {
    log::warning("xenstore journal " + journal_path() + ": bad header (" + e.what() + "); ignored");
    return;
  }
  size_t applied = 0;
  for (;;) {
    const size_t at = offset;
    const FrameStatus st = next_frame(data, offset, payload);
    if (st == FrameStatus::kEnd) break;
    if (st != FrameStatus::kOk) {
      log::warning("xenstore journal " + journal_path() + ": " +
                   (st == FrameStatus::kTorn ? "torn last record" : "damaged record (checksum mismatch)") +
                   " at byte " + std::to_string(at) + "; the " + std::to_string(data.size() - at) +
                   " bytes from there are ignored");
      break;
    }
    try {
      SavedState next = state;  // a batch applies whole or not at all
      next.apply(decode_batch(payload));
      state = std::move(next);
      applied++;
    } catch (const std::exception& e) {
      log::warning("xenstore journal " + journal_path() + ": record at byte " + std::to_string(at) +
                   " does not apply (" + e.what() + "); it and what follows are ignored");
      break;
    }
  }
  log::info("xenstore journal: " + std::to_string(applied) + " change(s) replayed");
}

void Journal::compact(const SavedState& state) {
  const uint64_t epoch = epoch_ + 1;
  std::string bytes = frame(encode_header({FileKind::kSnapshot, epoch}));
  const auto batches = state.as_batches();
  for (const JournalBatch& b : batches) bytes += frame(encode_batch(b));
  bytes += frame(encode_end(batches.size()));
  journal_fd_.reset();
  write_file_atomically(snapshot_path(), bytes, 0600);
  // From here the old journal (older epoch) no longer counts.
  const std::string header = frame(encode_header({FileKind::kJournal, epoch}));
  write_file_atomically(journal_path(), header, 0600);
  sync_dir(dir_);
  epoch_ = epoch;
  UniqueFd fd(::open(journal_path().c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!fd) throw_errno("cannot open " + journal_path());
  journal_fd_ = std::move(fd);
  journal_bytes_ = header.size();
}

void Journal::append(const JournalBatch& batch) {
  if (!journal_fd_) throw SystemError("xenstore journal " + journal_path() + " is not open", EBADF);
  const std::string bytes = frame(encode_batch(batch));
  try {
    write_all(journal_fd_.get(), bytes, journal_path());
  } catch (...) {
    journal_fd_.reset();  // a part may be written: only a compaction starts clean
    throw;
  }
  journal_bytes_ += bytes.size();
}

}  // namespace pv::xenstore
