#include "memory/guest_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include "pv/error.h"

namespace pv {

GuestMemory::GuestMemory(uint64_t bytes) : size_(bytes) {
  if (bytes == 0 || (bytes & 0xfff)) throw UserError("guest memory size must be a non-zero multiple of 4 KiB");
  fd_.reset(::memfd_create("pv-guest-ram", MFD_CLOEXEC));
  if (!fd_) throw_errno("memfd_create(guest RAM)");
  if (::ftruncate(fd_.get(), static_cast<off_t>(bytes)) < 0) throw_errno("ftruncate(guest RAM)");
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd_.get(), 0);
  if (p == MAP_FAILED) throw_errno("mmap(guest RAM)");
  map_ = Mapping(p, bytes);
}

}  // namespace pv
