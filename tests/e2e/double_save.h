// The save ops of pv-hv's control socket (pv/control_protocol.h 80..82), as
// pv-hv-double serves them for toolstack tests of pvctl save / restore
// (pv_hv_double.cpp): the same requests, replies and checks as pv-hv's
// hv/save/save_control.cpp, and a real save stream (proto/save's writer)
// of what the double has: its configuration, one zeroed register set per
// vCPU, its few pages of "RAM", and the singletons. A stream written by the
// double is read back with the real reader on --restore. No guest state is
// saved: that is pv-hv's, tested with real guests.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain_state.pb.h"
#include "pv/control_protocol.h"
#include "pv/unique_fd.h"

namespace pvtest {

struct DoubleShape {
  std::string name, kernel, cmdline;
  uint32_t domid = 1, vcpus = 1;
  uint64_t memory_bytes = 64ull << 20, maxmem_bytes = 0;
  int memfd = -1;          // the double's RAM
  uint64_t ram_pages = 0;  // how much of it there is
  uint64_t ring_gfn = 1;   // the xenstore ring's page: the double's own, never restored
};

class DoubleSaveOps {
 public:
  DoubleSaveOps(const std::string& control_socket, DoubleShape shape);
  // The fd to poll for input now: the listening socket when idle, none
  // (-1) while a save is armed (pv-hv serves one request at a time).
  int poll_fd() const { return armed_ ? -1 : listen_.get(); }
  void on_readable();
  // ms until an armed save gives up, -1 when none is armed.
  int timeout_ms() const;
  void on_timeout();
  // The guest took control/shutdown = suspend and suspended: true when the
  // domain ends (a save was written, or no save was waiting), false when it
  // carries on (a checkpoint, a failed write, a late suspend cancelled).
  bool on_guest_suspend();

 private:
  void reply(int32_t status);
  void write_stream(int fd);

  DoubleShape shape_;
  pv::UniqueFd listen_, conn_;
  bool armed_ = false, ends_ = false, cancel_late_ = false;
  std::vector<pv::UniqueFd> fds_;
  pv::state::DomainConfig toolstack_;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

// --restore FILE: reads and checks the whole stream with the real reader
// and copies what falls inside the double's RAM back. Throws the reader's
// message. Returns the stream's configuration.
pv::state::DomainConfig restore_double(const std::string& path, const DoubleShape& shape);

}  // namespace pvtest
