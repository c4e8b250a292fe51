#include "console/serial_port.h"

#include <string_view>


namespace pv {
namespace {
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kLsrThre = 0x20, kLsrTemt = 0x40;
}  // namespace

void SerialPort::write(uint16_t port, uint8_t value) {
  std::lock_guard lk(mu_);
  switch (port - kBase) {
    case 0:
      if (!(lcr_ & kLcrDlab)) {
        char c = static_cast<char>(value);
        out_.write(std::string_view(&c, 1));
      }
      break;
    case 1:
      if (!(lcr_ & kLcrDlab)) ier_ = value;
      break;
    case 3:
      lcr_ = value;
      break;
    case 7:
      scratch_ = value;
      break;
    default:
      break;
  }
}

uint8_t SerialPort::read(uint16_t port) {
  std::lock_guard lk(mu_);
  switch (port - kBase) {
    case 1:
      return (lcr_ & kLcrDlab) ? 0 : ier_;
    case 3:
      return lcr_;
    case 5:
      return kLsrThre | kLsrTemt;  // transmitter always empty
    case 7:
      return scratch_;
    default:
      return 0;
  }
}

}  // namespace pv
