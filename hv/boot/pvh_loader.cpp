#include "boot/pvh_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <xen/start_info.h>

#include "boot/layout.h"
#include "pv/error.h"
#include "pv/unique_fd.h"

namespace pv::boot {

std::vector<MemRegion> memory_map(uint64_t ram_bytes) {
  const uint64_t special = special_base_gfn(ram_bytes) << 12;
  return {{0, special, xen::pvh::XEN_HVM_MEMMAP_TYPE_RAM},
          {special, kSpecialPages << 12, xen::pvh::XEN_HVM_MEMMAP_TYPE_RESERVED}};
}

std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw UserError("cannot open " + path + ": " + std::strerror(errno));
  struct stat st{};
  if (::fstat(fd.get(), &st) < 0) throw UserError("cannot stat " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw UserError(path + " is not a regular file");
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    throw UserError(path + " (" + std::to_string(st.st_size) + " bytes) does not fit in guest memory");
  std::vector<uint8_t> buf(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = ::read(fd.get(), buf.data() + done, buf.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw UserError("cannot read " + path + ": " + (n < 0 ? std::strerror(errno) : "short file"));
    done += static_cast<size_t>(n);
  }
  return buf;
}

BootInfo load_pvh(GuestMemory& mem, const BootFiles& files, uint64_t boot_bytes) {
  if (boot_bytes == 0 || boot_bytes > mem.size()) boot_bytes = mem.size();
  if (boot_bytes < (4u << 20)) throw UserError("guest memory must be at least 4 MiB");
  // The end of what is loadable: the special pages, or where the frames
  // ballooned out at boot begin.
  const uint64_t special = special_base_gfn(boot_bytes) << 12;

  auto image_bytes = read_file(files.kernel_path, mem.size());
  ElfImage img = parse_elf(image_bytes, files.kernel_path);
  if (img.lowest < kBootDataEnd || img.highest > special)
    throw UserError(files.kernel_path + ": kernel occupies [" + std::to_string(img.lowest) + ", " +
                    std::to_string(img.highest) + "), outside the loadable guest RAM [" +
                    std::to_string(kBootDataEnd) + ", " + std::to_string(special) + ")");
  for (const auto& s : img.segments) {
    std::memcpy(mem.host(s.paddr, s.memsz), image_bytes.data() + s.offset, s.filesz);
    std::memset(mem.host(s.paddr + s.filesz, s.memsz - s.filesz), 0, s.memsz - s.filesz);
  }

  if (files.cmdline.size() >= kCmdlineMax)
    throw UserError("command line is " + std::to_string(files.cmdline.size()) + " bytes; the limit is " +
                    std::to_string(kCmdlineMax - 1));
  mem.write(kCmdlineGpa, files.cmdline.c_str(), files.cmdline.size() + 1);

  xen::pvh::hvm_start_info si{};
  si.magic = xen::pvh::XEN_HVM_START_MAGIC_VALUE;
  si.version = 1;
  si.cmdline_paddr = kCmdlineGpa;

  if (files.initrd_path) {
    const uint64_t kernel_end_page = (img.highest + 0xfff) & ~uint64_t{0xfff};
    auto initrd = read_file(*files.initrd_path, special - kernel_end_page);
    const uint64_t at = (special - initrd.size()) & ~uint64_t{0xfff};
    mem.write(at, initrd.data(), initrd.size());
    xen::pvh::hvm_modlist_entry mod{};
    mod.paddr = at;
    mod.size = initrd.size();
    mem.write(kModlistGpa, &mod, sizeof(mod));
    si.nr_modules = 1;
    si.modlist_paddr = kModlistGpa;
  }

  const auto regions = memory_map(mem.size());
  uint64_t at = kMemmapGpa;
  for (const auto& r : regions) {
    xen::pvh::hvm_memmap_table_entry e{r.addr, r.size, r.type, 0};
    mem.write(at, &e, sizeof(e));
    at += sizeof(e);
  }
  si.memmap_paddr = kMemmapGpa;
  si.memmap_entries = static_cast<uint32_t>(regions.size());
  mem.write(kStartInfoGpa, &si, sizeof(si));

  return BootInfo{img.phys32_entry, kStartInfoGpa, img.highest};
}

}  // namespace pv::boot
