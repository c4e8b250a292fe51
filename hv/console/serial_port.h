// A minimal 16550 at COM1 (0x3f8): transmit only, always ready. Early boot
// code and guests that find no Xen host print here; output goes to the
// same place as the PV console.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>

#include "console/console_sink.h"

namespace pv {

class SerialPort {
 public:
  static constexpr uint16_t kBase = 0x3f8;
  static constexpr uint16_t kPorts = 8;
  explicit SerialPort(ConsoleSink& out) : out_(out) {}
  static bool claims(uint16_t port) { return port >= kBase && port < kBase + kPorts; }
  void write(uint16_t port, uint8_t value);
  uint8_t read(uint16_t port);

 private:
  ConsoleSink& out_;
  std::mutex mu_;
  uint8_t lcr_ = 0, scratch_ = 0, ier_ = 0;
};

}  // namespace pv
