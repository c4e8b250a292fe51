#include "boot/elf_image.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

#include <xen/start_info.h>

#include "pv/error.h"

namespace pv::boot {
namespace {

constexpr size_t kMaxSegments = 64;
constexpr size_t kMaxNotesBytes = 1 << 20;

struct Reader {
  std::span<const uint8_t> file;
  const std::string& name;

  [[noreturn]] void fail(const std::string& why) const { throw UserError(name + ": not a bootable PVH kernel: " + why); }

  // Copies a T from [off, off + sizeof(T)), refusing out-of-range reads.
  template <typename T>
  T at(uint64_t off, const char* what) const {
    if (off > file.size() || sizeof(T) > file.size() - off) fail(std::string(what) + " lies outside the file");
    T v;
    std::memcpy(&v, file.data() + off, sizeof(T));
    return v;
  }
};

uint64_t align4(uint64_t v) { return (v + 3) & ~uint64_t{3}; }

// Scans one PT_NOTE region for the Xen PHYS32_ENTRY note.
bool find_entry_note(const Reader& r, uint64_t off, uint64_t size, uint32_t& entry) {
  if (size > kMaxNotesBytes) r.fail("PT_NOTE segment is implausibly large");
  if (off > r.file.size() || size > r.file.size() - off) r.fail("PT_NOTE segment lies outside the file");
  const uint64_t end = off + size;
  while (off + sizeof(Elf64_Nhdr) <= end) {
    auto nh = r.at<Elf64_Nhdr>(off, "note header");  // same layout as Elf32_Nhdr
    const uint64_t name_off = off + sizeof(Elf64_Nhdr);
    const uint64_t desc_off = name_off + align4(nh.n_namesz);
    const uint64_t next = desc_off + align4(nh.n_descsz);
    if (nh.n_namesz > size || nh.n_descsz > size || next > end) r.fail("truncated ELF note");
    if (nh.n_type == xen::pvh::XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == sizeof(xen::pvh::kElfNoteName) &&
        std::memcmp(r.file.data() + name_off, xen::pvh::kElfNoteName, sizeof(xen::pvh::kElfNoteName)) == 0) {
      uint64_t value;
      if (nh.n_descsz == 4) value = r.at<uint32_t>(desc_off, "note");
      else if (nh.n_descsz == 8) value = r.at<uint64_t>(desc_off, "note");
      else r.fail("XEN_ELFNOTE_PHYS32_ENTRY has a " + std::to_string(nh.n_descsz) + "-byte value");
      if (value > UINT32_MAX) r.fail("PHYS32_ENTRY is above 4 GiB");
      entry = static_cast<uint32_t>(value);
      return true;
    }
    off = next;
  }
  return false;
}

template <typename Ehdr, typename Phdr>
ElfImage parse_class(const Reader& r, bool is64) {
  auto eh = r.at<Ehdr>(0, "ELF header");
  if (eh.e_machine != (is64 ? EM_X86_64 : EM_386)) r.fail("not an x86 image (e_machine " + std::to_string(eh.e_machine) + ")");
  if (eh.e_type != ET_EXEC) r.fail("not an executable (e_type " + std::to_string(eh.e_type) + ")");
  if (eh.e_phnum == 0) r.fail("no program headers");
  if (eh.e_phentsize != sizeof(Phdr)) r.fail("unexpected program header size");
  if (eh.e_phnum > kMaxSegments) r.fail("too many program headers (" + std::to_string(eh.e_phnum) + ")");

  ElfImage img;
  img.is64 = is64;
  bool have_entry = false;
  for (unsigned i = 0; i < eh.e_phnum; i++) {
    auto ph = r.at<Phdr>(eh.e_phoff + uint64_t{i} * sizeof(Phdr), "program header");
    if (ph.p_type == PT_NOTE && !have_entry) {
      have_entry = find_entry_note(r, ph.p_offset, ph.p_filesz, img.phys32_entry);
    } else if (ph.p_type == PT_LOAD && ph.p_memsz > 0) {
      if (ph.p_filesz > ph.p_memsz) r.fail("segment " + std::to_string(i) + " has filesz > memsz");
      if (ph.p_offset > r.file.size() || ph.p_filesz > r.file.size() - ph.p_offset)
        r.fail("segment " + std::to_string(i) + " data lies outside the file");
      if (ph.p_paddr + ph.p_memsz < ph.p_paddr) r.fail("segment " + std::to_string(i) + " wraps the address space");
      img.segments.push_back({ph.p_paddr, ph.p_filesz, ph.p_memsz, ph.p_offset});
    }
  }
  if (img.segments.empty()) r.fail("no loadable segments");
  if (!have_entry) r.fail("no Xen PHYS32_ENTRY ELF note (the kernel lacks PVH support)");

  img.lowest = UINT64_MAX;
  for (auto& s : img.segments) {
    img.lowest = std::min(img.lowest, s.paddr);
    img.highest = std::max(img.highest, s.paddr + s.memsz);
  }
  // Segments must not overlap one another.
  auto segs = img.segments;
  std::sort(segs.begin(), segs.end(), [](auto& a, auto& b) { return a.paddr < b.paddr; });
  for (size_t i = 1; i < segs.size(); i++)
    if (segs[i].paddr < segs[i - 1].paddr + segs[i - 1].memsz) r.fail("loadable segments overlap");
  bool entry_in_image = false;
  for (auto& s : img.segments)
    if (img.phys32_entry >= s.paddr && img.phys32_entry < s.paddr + s.memsz) entry_in_image = true;
  if (!entry_in_image) r.fail("PHYS32_ENTRY is outside every loadable segment");
  return img;
}

}  // namespace

ElfImage parse_elf(std::span<const uint8_t> file, const std::string& name) {
  Reader r{file, name};
  if (file.size() < EI_NIDENT || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0) r.fail("not an ELF file");
  if (file[EI_DATA] != ELFDATA2LSB) r.fail("not little-endian");
  if (file[EI_VERSION] != EV_CURRENT) r.fail("unknown ELF version");
  if (file[EI_CLASS] == ELFCLASS64) return parse_class<Elf64_Ehdr, Elf64_Phdr>(r, true);
  if (file[EI_CLASS] == ELFCLASS32) return parse_class<Elf32_Ehdr, Elf32_Phdr>(r, false);
  r.fail("unknown ELF class");
}

}  // namespace pv::boot
