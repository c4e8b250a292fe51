// boot::parse_elf on hand-built ELF32/ELF64 images (good and hostile), and
// boot::load_pvh loading a kernel file into guest RAM.
#include <elf.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <xen/start_info.h>

#include "boot/elf_image.h"
#include "boot/layout.h"
#include "boot/pvh_loader.h"
#include "memory/guest_memory.h"
#include "pv/error.h"

namespace pv::boot {
namespace {

using Bytes = std::vector<uint8_t>;

struct Seg {
  uint64_t paddr, filesz, memsz;
};

struct Spec {
  bool is64 = true;
  std::vector<Seg> segs{{0x100000, 0x180, 0x3000}};
  bool xen_note = true;
  uint64_t entry = 0x100040;
  uint32_t descsz = 4;  // 4 or 8 for a valid note
  uint32_t note_type = xen::pvh::XEN_ELFNOTE_PHYS32_ENTRY;
  std::string note_name = std::string("Xen", 4);  // including the NUL
};

// Byte a segment's file data holds at offset i (so loads can be checked).
uint8_t seg_byte(size_t seg, size_t i) { return static_cast<uint8_t>(0x40 + seg * 17 + i * 7); }

void put_u32(Bytes& b, uint32_t v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  b.insert(b.end(), p, p + 4);
}
void pad4(Bytes& b) {
  while (b.size() % 4) b.push_back(0);
}

// The notes region: a harmless GNU note first (so the parser has to skip
// one), then the Xen note.
Bytes build_notes(const Spec& s) {
  Bytes n;
  put_u32(n, 4);  // namesz "GNU\0"
  put_u32(n, 4);  // descsz
  put_u32(n, NT_GNU_BUILD_ID);
  n.insert(n.end(), {'G', 'N', 'U', 0});
  put_u32(n, 0xdeadbeef);
  if (s.xen_note) {
    put_u32(n, static_cast<uint32_t>(s.note_name.size()));
    put_u32(n, s.descsz);
    put_u32(n, s.note_type);
    n.insert(n.end(), s.note_name.begin(), s.note_name.end());
    pad4(n);
    uint8_t desc[8] = {};
    std::memcpy(desc, &s.entry, sizeof(s.entry));
    for (uint32_t i = 0; i < s.descsz; i++) n.push_back(i < 8 ? desc[i] : 0);
    pad4(n);
  }
  return n;
}

template <typename Ehdr, typename Phdr>
Bytes build_class(const Spec& s, uint8_t cls, uint16_t machine) {
  const Bytes notes = build_notes(s);
  const size_t nph = s.segs.size() + 1;
  const size_t notes_off = sizeof(Ehdr) + nph * sizeof(Phdr);
  size_t data_off = (notes_off + notes.size() + 15) & ~size_t{15};
  Bytes img(data_off, 0);

  Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = cls;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = machine;
  eh.e_version = EV_CURRENT;
  eh.e_entry = static_cast<decltype(eh.e_entry)>(0xffffffff81000000ull);
  eh.e_phoff = sizeof(Ehdr);
  eh.e_ehsize = sizeof(Ehdr);
  eh.e_phentsize = sizeof(Phdr);
  eh.e_phnum = static_cast<uint16_t>(nph);
  std::memcpy(img.data(), &eh, sizeof(eh));

  for (size_t i = 0; i < s.segs.size(); i++) {
    Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_flags = PF_R | PF_X;
    ph.p_offset = static_cast<decltype(ph.p_offset)>(img.size());
    ph.p_vaddr = static_cast<decltype(ph.p_vaddr)>(s.segs[i].paddr);
    ph.p_paddr = static_cast<decltype(ph.p_paddr)>(s.segs[i].paddr);
    ph.p_filesz = static_cast<decltype(ph.p_filesz)>(s.segs[i].filesz);
    ph.p_memsz = static_cast<decltype(ph.p_memsz)>(s.segs[i].memsz);
    ph.p_align = 0x1000;
    std::memcpy(img.data() + sizeof(Ehdr) + i * sizeof(Phdr), &ph, sizeof(ph));
    for (uint64_t b = 0; b < s.segs[i].filesz; b++) img.push_back(seg_byte(i, b));
  }
  Phdr note{};
  note.p_type = PT_NOTE;
  note.p_offset = static_cast<decltype(note.p_offset)>(notes_off);
  note.p_filesz = static_cast<decltype(note.p_filesz)>(notes.size());
  note.p_align = 4;
  std::memcpy(img.data() + sizeof(Ehdr) + s.segs.size() * sizeof(Phdr), &note, sizeof(note));
  std::memcpy(img.data() + notes_off, notes.data(), notes.size());
  return img;
}

Bytes build(const Spec& s = {}) {
  return s.is64 ? build_class<Elf64_Ehdr, Elf64_Phdr>(s, ELFCLASS64, EM_X86_64)
                : build_class<Elf32_Ehdr, Elf32_Phdr>(s, ELFCLASS32, EM_386);
}

// Edits a header in place (copying out and back: no aliasing games).
template <typename T>
void patch(Bytes& img, size_t off, const std::function<void(T&)>& fn) {
  ASSERT_LE(off + sizeof(T), img.size());
  T v;
  std::memcpy(&v, img.data() + off, sizeof(T));
  fn(v);
  std::memcpy(img.data() + off, &v, sizeof(T));
}
void patch_ehdr64(Bytes& img, const std::function<void(Elf64_Ehdr&)>& fn) { patch<Elf64_Ehdr>(img, 0, fn); }
void patch_phdr64(Bytes& img, size_t i, const std::function<void(Elf64_Phdr&)>& fn) {
  patch<Elf64_Phdr>(img, sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr), fn);
}
Elf64_Phdr phdr64(const Bytes& img, size_t i) {
  Elf64_Phdr ph;
  std::memcpy(&ph, img.data() + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr), sizeof(ph));
  return ph;
}

// Expects parse_elf to refuse `img` with a UserError naming the file and
// containing `needle`.
void expect_refused(const Bytes& img, const std::string& needle) {
  try {
    parse_elf(img, "vmlinux-test");
    ADD_FAILURE() << "image accepted; expected a refusal mentioning '" << needle << "'";
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("vmlinux-test"), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg;
  }
}

// ---------------------------------------------------------------- accepted

TEST(ParseElf, AcceptsElf64WithFourByteNote) {
  const Bytes img = build();
  ElfImage e = parse_elf(img, "k");
  EXPECT_TRUE(e.is64);
  EXPECT_EQ(e.phys32_entry, 0x100040u);
  ASSERT_EQ(e.segments.size(), 1u);
  EXPECT_EQ(e.segments[0].paddr, 0x100000u);
  EXPECT_EQ(e.segments[0].filesz, 0x180u);
  EXPECT_EQ(e.segments[0].memsz, 0x3000u);
  EXPECT_EQ(e.segments[0].offset, phdr64(img, 0).p_offset);
  EXPECT_EQ(img[e.segments[0].offset], seg_byte(0, 0));
  EXPECT_EQ(e.lowest, 0x100000u);
  EXPECT_EQ(e.highest, 0x103000u);
}

TEST(ParseElf, AcceptsElf64WithEightByteNote) {
  Spec s;
  s.descsz = 8;
  s.entry = 0x101234;
  ElfImage e = parse_elf(build(s), "k");
  EXPECT_EQ(e.phys32_entry, 0x101234u);
}

TEST(ParseElf, AcceptsElf32) {
  Spec s;
  s.is64 = false;
  s.segs = {{0x200000, 0x40, 0x1000}, {0x100000, 0x80, 0x800}};
  s.entry = 0x100010;
  ElfImage e = parse_elf(build(s), "k");
  EXPECT_FALSE(e.is64);
  EXPECT_EQ(e.phys32_entry, 0x100010u);
  ASSERT_EQ(e.segments.size(), 2u);
  EXPECT_EQ(e.segments[0].paddr, 0x200000u);
  EXPECT_EQ(e.segments[1].paddr, 0x100000u);
  EXPECT_EQ(e.segments[1].memsz, 0x800u);
  EXPECT_EQ(e.lowest, 0x100000u);
  EXPECT_EQ(e.highest, 0x201000u);
}

TEST(ParseElf, MultipleSegmentsLowestHighestAndEmptyOnesIgnored) {
  Spec s;
  s.segs = {{0x300000, 0x10, 0x2000}, {0x100000, 0x10, 0x1000}, {0x500000, 0, 0}, {0x180000, 0x20, 0x20}};
  s.entry = 0x300100;
  ElfImage e = parse_elf(build(s), "k");
  ASSERT_EQ(e.segments.size(), 3u);  // the memsz == 0 one is skipped
  EXPECT_EQ(e.lowest, 0x100000u);
  EXPECT_EQ(e.highest, 0x302000u);
  EXPECT_EQ(e.phys32_entry, 0x300100u);
}

TEST(ParseElf, EntryInBssPartOfSegmentIsAccepted) {
  Spec s;
  s.entry = 0x102ffe;  // past filesz but inside memsz
  EXPECT_EQ(parse_elf(build(s), "k").phys32_entry, 0x102ffeu);
}

TEST(ParseElf, AdjacentSegmentsDoNotOverlap) {
  Spec s;
  s.segs = {{0x100000, 0x10, 0x1000}, {0x101000, 0x10, 0x1000}};
  EXPECT_EQ(parse_elf(build(s), "k").segments.size(), 2u);
}

// ---------------------------------------------------------------- refused

TEST(ParseElfHostile, NotElf) {
  Bytes img = build();
  img[1] = 'X';
  expect_refused(img, "not an ELF file");
  expect_refused(Bytes{0x7f, 'E', 'L'}, "not an ELF file");
  expect_refused(Bytes{}, "not an ELF file");
}

TEST(ParseElfHostile, WrongClass) {
  Bytes img = build();
  img[EI_CLASS] = 7;
  expect_refused(img, "unknown ELF class");
  img[EI_CLASS] = ELFCLASSNONE;
  expect_refused(img, "unknown ELF class");
}

TEST(ParseElfHostile, BigEndian) {
  Bytes img = build();
  img[EI_DATA] = ELFDATA2MSB;
  expect_refused(img, "not little-endian");
}

TEST(ParseElfHostile, WrongMachine) {
  Bytes img = build();
  patch_ehdr64(img, [](Elf64_Ehdr& e) { e.e_machine = EM_AARCH64; });
  expect_refused(img, "not an x86 image");
  // An ELF64 that claims i386 is wrong too.
  img = build();
  patch_ehdr64(img, [](Elf64_Ehdr& e) { e.e_machine = EM_386; });
  expect_refused(img, "not an x86 image");
}

TEST(ParseElfHostile, SharedObject) {
  Bytes img = build();
  patch_ehdr64(img, [](Elf64_Ehdr& e) { e.e_type = ET_DYN; });
  expect_refused(img, "not an executable");
}

TEST(ParseElfHostile, TruncatedElfHeader) {
  Bytes img = build();
  img.resize(sizeof(Elf64_Ehdr) - 1);
  expect_refused(img, "ELF header lies outside the file");
}

TEST(ParseElfHostile, PhoffOutsideFile) {
  Bytes img = build();
  patch_ehdr64(img, [&](Elf64_Ehdr& e) { e.e_phoff = img.size() - 8; });
  expect_refused(img, "program header lies outside the file");
  patch_ehdr64(img, [](Elf64_Ehdr& e) { e.e_phoff = ~uint64_t{0} - 16; });  // offset + size overflows
  expect_refused(img, "program header lies outside the file");
}

TEST(ParseElfHostile, HugePhnum) {
  Bytes img = build();
  patch_ehdr64(img, [](Elf64_Ehdr& e) { e.e_phnum = 0xffff; });
  expect_refused(img, "too many program headers");
}

TEST(ParseElfHostile, NoProgramHeaders) {
  Bytes img = build();
  patch_ehdr64(img, [](Elf64_Ehdr& e) { e.e_phnum = 0; });
  expect_refused(img, "no program headers");
}

TEST(ParseElfHostile, WrongPhentsize) {
  Bytes img = build();
  patch_ehdr64(img, [](Elf64_Ehdr& e) { e.e_phentsize = sizeof(Elf32_Phdr); });
  expect_refused(img, "program header size");
}

TEST(ParseElfHostile, SegmentDataPastEof) {
  Bytes img = build();
  patch_phdr64(img, 0, [&](Elf64_Phdr& p) { p.p_offset = img.size() - p.p_filesz + 1; });
  expect_refused(img, "data lies outside the file");
  img = build();
  patch_phdr64(img, 0, [](Elf64_Phdr& p) { p.p_offset = ~uint64_t{0} - 4; });  // offset + filesz overflows
  expect_refused(img, "data lies outside the file");
}

TEST(ParseElfHostile, FileszGreaterThanMemsz) {
  Bytes img = build();
  patch_phdr64(img, 0, [](Elf64_Phdr& p) { p.p_memsz = p.p_filesz - 1; });
  expect_refused(img, "filesz > memsz");
}

TEST(ParseElfHostile, SegmentWrapsAddressSpace) {
  Spec s;
  s.segs = {{0xfffffffffffff000ull, 0x10, 0x2000}};
  s.entry = 0;  // irrelevant: refused before the entry check
  expect_refused(build(s), "wraps the address space");
}

TEST(ParseElfHostile, Elf32SegmentWrapsAt4GiB) {
  Spec s;
  s.is64 = false;
  s.segs = {{0xfffff000u, 0x10, 0x2000}};
  s.entry = 0xfffff010u;
  expect_refused(build(s), "wraps the address space");
}

TEST(ParseElfHostile, OverlappingSegments) {
  Spec s;
  s.segs = {{0x100000, 0x10, 0x2000}, {0x101fff, 0x10, 0x1000}};
  expect_refused(build(s), "overlap");
  // One segment entirely inside another, listed first.
  s.segs = {{0x101000, 0x10, 0x100}, {0x100000, 0x10, 0x4000}};
  expect_refused(build(s), "overlap");
}

TEST(ParseElfHostile, NoteTruncatedByItsSegment) {
  Bytes img = build();
  const size_t note_ph = 1;
  patch_phdr64(img, note_ph, [](Elf64_Phdr& p) { p.p_filesz -= 4; });  // cuts the Xen note's desc
  expect_refused(img, "truncated ELF note");
}

TEST(ParseElfHostile, NoteNameszHuge) {
  Bytes img = build();
  const uint64_t notes = phdr64(img, 1).p_offset;
  const uint32_t huge = 0xfffffff0u;
  std::memcpy(img.data() + notes, &huge, 4);  // first note's n_namesz
  expect_refused(img, "truncated ELF note");
  img = build();
  std::memcpy(img.data() + notes + 4, &huge, 4);  // first note's n_descsz
  expect_refused(img, "truncated ELF note");
}

TEST(ParseElfHostile, NoteSegmentOutsideFile) {
  Bytes img = build();
  patch_phdr64(img, 1, [&](Elf64_Phdr& p) { p.p_offset = img.size(); p.p_filesz = 64; });
  expect_refused(img, "PT_NOTE segment lies outside the file");
  img = build();
  patch_phdr64(img, 1, [](Elf64_Phdr& p) { p.p_offset = ~uint64_t{0} - 16; });  // offset + size overflows
  expect_refused(img, "PT_NOTE segment lies outside the file");
  img = build();
  patch_phdr64(img, 1, [](Elf64_Phdr& p) { p.p_filesz = uint64_t{1} << 40; });
  expect_refused(img, "PT_NOTE");
}

TEST(ParseElfHostile, NoXenNote) {
  Spec s;
  s.xen_note = false;
  expect_refused(build(s), "no Xen PHYS32_ENTRY");
  // Right type, wrong name.
  s = {};
  s.note_name = std::string("Xex", 4);
  expect_refused(build(s), "no Xen PHYS32_ENTRY");
  // Right name, another Xen note type (XEN_ELFNOTE_ENTRY = 1).
  s = {};
  s.note_type = 1;
  expect_refused(build(s), "no Xen PHYS32_ENTRY");
}

TEST(ParseElfHostile, NoLoadableSegment) {
  Spec s;
  s.segs = {{0x100000, 0, 0}};
  expect_refused(build(s), "no loadable segments");
}

TEST(ParseElfHostile, EntryOutsideSegments) {
  Spec s;
  s.entry = 0x103000;  // one past the end
  expect_refused(build(s), "outside every loadable segment");
  s.entry = 0xfffff;  // one before the start
  expect_refused(build(s), "outside every loadable segment");
}

TEST(ParseElfHostile, EntryNoteWithTwoByteDesc) {
  Spec s;
  s.descsz = 2;
  expect_refused(build(s), "2-byte value");
}

TEST(ParseElfHostile, SixtyFourBitEntryAbove4GiB) {
  Spec s;
  s.descsz = 8;
  s.entry = 0x100000100040ull;  // low 32 bits would land inside the segment
  expect_refused(build(s), "above 4 GiB");
}

// ---------------------------------------------------------------- load_pvh

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "pvhv-unit-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    for (auto& f : files_) ::unlink(f.c_str());
    ::rmdir(path_.c_str());
  }
  std::string write(const std::string& name, const Bytes& data) {
    std::string f = path_ + "/" + name;
    std::ofstream(f, std::ios::binary).write(reinterpret_cast<const char*>(data.data()),
                                             static_cast<std::streamsize>(data.size()));
    files_.push_back(f);
    return f;
  }
  std::string path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

constexpr uint64_t kRam = 8ull << 20;

template <typename Fn>
void expect_user_error(Fn&& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no UserError; expected one mentioning '" << needle << "'";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

TEST(LoadPvh, LoadsKernelAndBuildsStartInfo) {
  TempDir dir;
  Spec s;
  s.segs = {{0x100000, 0x180, 0x3000}, {0x200000, 0x20, 0x20}};
  const std::string kernel = dir.write("vmlinux", build(s));
  GuestMemory mem(kRam);
  std::memset(mem.base(), 0xcc, mem.size());  // so zeroed bss is visible

  const BootInfo bi = load_pvh(mem, {kernel, std::nullopt, "console=hvc0 root=/dev/xvda"});
  EXPECT_EQ(bi.entry, 0x100040u);
  EXPECT_EQ(bi.start_info_gpa, kStartInfoGpa);
  EXPECT_EQ(bi.kernel_end, 0x200020u);

  // Segment data copied, the rest of memsz zeroed, beyond untouched.
  for (uint64_t i = 0; i < 0x180; i++) ASSERT_EQ(mem.base()[0x100000 + i], seg_byte(0, i)) << i;
  for (uint64_t i = 0x180; i < 0x3000; i++) ASSERT_EQ(mem.base()[0x100000 + i], 0) << i;
  EXPECT_EQ(mem.base()[0x103000], 0xcc);
  for (uint64_t i = 0; i < 0x20; i++) ASSERT_EQ(mem.base()[0x200000 + i], seg_byte(1, i)) << i;

  const auto* si = mem.object<xen::pvh::hvm_start_info>(kStartInfoGpa);
  ASSERT_NE(si, nullptr);
  EXPECT_EQ(si->magic, xen::pvh::XEN_HVM_START_MAGIC_VALUE);
  EXPECT_EQ(si->version, 1u);
  EXPECT_EQ(si->nr_modules, 0u);
  EXPECT_EQ(si->cmdline_paddr, kCmdlineGpa);
  EXPECT_STREQ(reinterpret_cast<const char*>(mem.host(si->cmdline_paddr, 1)), "console=hvc0 root=/dev/xvda");
  EXPECT_EQ(si->rsdp_paddr, 0u);

  const auto regions = memory_map(kRam);
  ASSERT_EQ(si->memmap_entries, regions.size());
  EXPECT_EQ(si->memmap_paddr, kMemmapGpa);
  for (size_t i = 0; i < regions.size(); i++) {
    const auto* e = mem.object<xen::pvh::hvm_memmap_table_entry>(si->memmap_paddr + i * sizeof(xen::pvh::hvm_memmap_table_entry));
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->addr, regions[i].addr) << i;
    EXPECT_EQ(e->size, regions[i].size) << i;
    EXPECT_EQ(e->type, regions[i].type) << i;
  }
}

TEST(LoadPvh, MemoryMapReservesSpecialPages) {
  const auto r = memory_map(kRam);
  const uint64_t special = special_base_gfn(kRam) << 12;
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].addr, 0u);
  EXPECT_EQ(r[0].size, special);
  EXPECT_EQ(r[0].type, xen::pvh::XEN_HVM_MEMMAP_TYPE_RAM);
  EXPECT_EQ(r[1].addr, special);
  EXPECT_EQ(r[1].addr + r[1].size, kRam);
  EXPECT_EQ(r[1].type, xen::pvh::XEN_HVM_MEMMAP_TYPE_RESERVED);
  EXPECT_EQ(special_gfn(kRam, kConsolePage), kRam / 4096 - 2);
  EXPECT_EQ(special_gfn(kRam, kXenstorePage), kRam / 4096 - 1);
}

TEST(LoadPvh, PlacesInitrdBelowSpecialPages) {
  TempDir dir;
  const std::string kernel = dir.write("vmlinux", build());
  Bytes initrd(12345);
  for (size_t i = 0; i < initrd.size(); i++) initrd[i] = static_cast<uint8_t>(i * 31 + 7);
  const std::string initrd_path = dir.write("initrd", initrd);
  GuestMemory mem(kRam);
  const BootInfo bi = load_pvh(mem, {kernel, initrd_path, ""});

  const auto* si = mem.object<xen::pvh::hvm_start_info>(kStartInfoGpa);
  ASSERT_EQ(si->nr_modules, 1u);
  EXPECT_EQ(si->modlist_paddr, kModlistGpa);
  const auto* mod = mem.object<xen::pvh::hvm_modlist_entry>(si->modlist_paddr);
  ASSERT_NE(mod, nullptr);
  EXPECT_EQ(mod->size, initrd.size());
  EXPECT_EQ(mod->paddr % 4096, 0u);
  const uint64_t special = special_base_gfn(kRam) << 12;
  EXPECT_LE(mod->paddr + mod->size, special);
  EXPECT_GT(mod->paddr + mod->size + 4096, special);  // as high as it goes
  EXPECT_GE(mod->paddr, bi.kernel_end);
  EXPECT_EQ(0, std::memcmp(mem.host(mod->paddr, mod->size), initrd.data(), initrd.size()));
  EXPECT_STREQ(reinterpret_cast<const char*>(mem.host(kCmdlineGpa, 1)), "");
}

// memory < maxmem: RAM (and the memory map) is maxmem long; the initrd goes
// below the end of what is populated at boot, not into the frames that
// start ballooned out.
TEST(LoadPvh, WithMaxmemLoadsBelowThePopulatedPart) {
  TempDir dir;
  const std::string kernel = dir.write("vmlinux", build());
  const std::string initrd_path = dir.write("initrd", Bytes(5000, 0x3c));
  const uint64_t boot = kRam / 2;
  GuestMemory mem(kRam);
  load_pvh(mem, {kernel, initrd_path, ""}, boot);
  const auto* mod = mem.object<xen::pvh::hvm_modlist_entry>(kModlistGpa);
  const uint64_t populated_end = boot_ballooned_first_gfn(boot) << 12;
  EXPECT_LE(mod->paddr + mod->size, populated_end);
  EXPECT_GT(mod->paddr + mod->size + 4096, populated_end);
  const auto* si = mem.object<xen::pvh::hvm_start_info>(kStartInfoGpa);
  ASSERT_EQ(si->memmap_entries, 2u);
  const auto* ram = mem.object<xen::pvh::hvm_memmap_table_entry>(si->memmap_paddr);
  EXPECT_EQ(ram->size, special_base_gfn(kRam) << 12);  // the map covers maxmem
  // Nothing written into the part that starts ballooned out.
  struct stat st{};
  ASSERT_EQ(::fstat(mem.fd(), &st), 0);
  EXPECT_LE(uint64_t(st.st_blocks) * 512, boot);
  const std::string too_big = dir.write("initrd2", Bytes(populated_end - 0x103000 + 1, 0x5a));
  GuestMemory mem2(kRam);
  expect_user_error([&] { load_pvh(mem2, {kernel, too_big, ""}, boot); }, "does not fit");
}

TEST(LoadPvh, InitrdThatDoesNotFitIsRefused) {
  TempDir dir;
  const std::string kernel = dir.write("vmlinux", build());  // ends at 0x103000
  const uint64_t special = special_base_gfn(kRam) << 12;
  const std::string big = dir.write("initrd", Bytes(special - 0x103000 + 1, 0x5a));
  GuestMemory mem(kRam);
  expect_user_error([&] { load_pvh(mem, {kernel, big, ""}); }, "does not fit");
  // Exactly the free space fits.
  const std::string fits = dir.write("initrd2", Bytes(special - 0x103000, 0x5a));
  GuestMemory mem2(kRam);
  load_pvh(mem2, {kernel, fits, ""});
  EXPECT_EQ(mem2.object<xen::pvh::hvm_modlist_entry>(kModlistGpa)->paddr, 0x103000u);
}

TEST(LoadPvh, KernelOverlappingBootDataIsRefused) {
  TempDir dir;
  Spec s;
  s.segs = {{0x2000, 0x10, 0x2000}};
  s.entry = 0x2000;
  const std::string kernel = dir.write("vmlinux", build(s));
  GuestMemory mem(kRam);
  expect_user_error([&] { load_pvh(mem, {kernel, std::nullopt, ""}); }, "outside the loadable guest RAM");
}

TEST(LoadPvh, KernelBeyondRamIsRefused) {
  TempDir dir;
  Spec s;
  const uint64_t special = special_base_gfn(kRam) << 12;
  s.segs = {{special - 0x1000, 0x10, 0x2000}};  // runs into the special pages
  s.entry = special - 0x1000;
  GuestMemory mem(kRam);
  expect_user_error([&] { load_pvh(mem, {dir.write("a", build(s)), std::nullopt, ""}); },
                    "outside the loadable guest RAM");
  s.segs = {{kRam * 4, 0x10, 0x1000}};  // far beyond RAM
  s.entry = kRam * 4;
  expect_user_error([&] { load_pvh(mem, {dir.write("b", build(s)), std::nullopt, ""}); },
                    "outside the loadable guest RAM");
}

TEST(LoadPvh, CommandLineLimit) {
  TempDir dir;
  const std::string kernel = dir.write("vmlinux", build());
  GuestMemory mem(kRam);
  expect_user_error([&] { load_pvh(mem, {kernel, std::nullopt, std::string(kCmdlineMax, 'a')}); },
                    "command line");
  const std::string longest(kCmdlineMax - 1, 'b');
  load_pvh(mem, {kernel, std::nullopt, longest});
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(mem.host(kCmdlineGpa, kCmdlineMax))), longest);
}

TEST(LoadPvh, MissingFilesAreRefused) {
  TempDir dir;
  GuestMemory mem(kRam);
  expect_user_error([&] { load_pvh(mem, {dir.path("nope"), std::nullopt, ""}); }, "cannot open");
  const std::string kernel = dir.write("vmlinux", build());
  expect_user_error([&] { load_pvh(mem, {kernel, dir.path("no-initrd"), ""}); }, "cannot open");
}

TEST(LoadPvh, DirectoryAsKernelIsRefused) {
  TempDir dir;
  GuestMemory mem(kRam);
  expect_user_error([&] { load_pvh(mem, {"/", std::nullopt, ""}); }, "not a regular file");
}

TEST(LoadPvh, BadImageFileIsRefusedWithItsName) {
  TempDir dir;
  Bytes img = build();
  img[0] = 0;
  const std::string kernel = dir.write("garbage", img);
  GuestMemory mem(kRam);
  expect_user_error([&] { load_pvh(mem, {kernel, std::nullopt, ""}); }, kernel + ": not a bootable PVH kernel");
}

TEST(LoadPvh, TooLittleMemoryIsRefused) {
  TempDir dir;
  const std::string kernel = dir.write("vmlinux", build());
  GuestMemory mem(2ull << 20);
  expect_user_error([&] { load_pvh(mem, {kernel, std::nullopt, ""}); }, "at least 4 MiB");
}

}  // namespace
}  // namespace pv::boot
