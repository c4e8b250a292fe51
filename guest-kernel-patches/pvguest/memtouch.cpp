// pvguest: the `balloon` and `memtouch` modes.
//
// `balloon`: start the balloon driver and follow memory/target until
// control/shutdown asks for something.
//
// `memtouch`: the same, but the kernel first takes every page the
// allocator has (after ballooning to the first target) and writes a pattern
// into it, so the host holds all of it: `MEMTOUCH done pages=N kib=K`. When
// the balloon needs pages it gets them from here, highest first, each
// checked on its way out; pages that come back must be zeroed (the host's
// promise) and are taken and patterned again. Each time the target is
// reached every page still held is checked:
//   MEMTOUCH verify ok kept=N refilled=M released=R
//   MEMTOUCH verify FAILED bad=N first=0x<paddr> word=W got=0x.. want=0x..
// A page that came back holding data prints `MEMTOUCH FAILED page 0x..
// came back not zeroed`.
//
// The pattern is three words per page (first, middle, last), from the
// page's frame number: touching one word makes the host back the whole
// page, and three emulated stores cost far less than filling it.
#include "balloon.h"
#include "console.h"
#include "control.h"
#include "lib.h"
#include "mm.h"
#include "modes.h"

namespace {
constexpr uint64_t kSeed = 0x6d656d746f756368ull;  // "memtouch"
constexpr uint64_t kReserve = 16;                  // pages left to the allocator's other users
constexpr unsigned kWords[3] = {0, 256, 511};

uint64_t span_base = 0, span_pages = 0;
uint64_t* owned = nullptr;  // bit per span page: held (and patterned) by memtouch
uint64_t owned_count = 0;
uint64_t top_word = 0;      // no owned bit at or above this word
bool touched = false;
uint64_t refilled = 0, released = 0, released_bad = 0, not_zeroed = 0;

inline uint64_t* page_words(uint64_t i) { return reinterpret_cast<uint64_t*>(span_base + (i << mm::kPageShift)); }
inline uint64_t want(uint64_t i, unsigned w) {
  const uint64_t x = ((span_base >> mm::kPageShift) + i) * 0x9E3779B97F4A7C15ull + kSeed;
  return w == 0 ? x : w == 1 ? x ^ 0x5555555555555555ull : ~x;
}
void pattern(uint64_t i) {
  volatile uint64_t* p = page_words(i);
  for (unsigned w = 0; w < 3; w++) p[kWords[w]] = want(i, w);
}
// The first bad word of page i (0-2), or 3.
unsigned check(uint64_t i) {
  volatile uint64_t* p = page_words(i);
  for (unsigned w = 0; w < 3; w++)
    if (p[kWords[w]] != want(i, w)) return w;
  return 3;
}
inline void set_owned(uint64_t i) {
  owned[i / 64] |= 1ull << (i % 64);
  if (i / 64 >= top_word) top_word = i / 64 + 1;
}

// Takes every free page but the reserve, in runs, and patterns it.
uint64_t grab() {
  uint64_t got = 0;
  uint64_t run = 512;
  while (run) {
    if (mm::free_page_count() <= kReserve) break;
    const uint64_t room = mm::free_page_count() - kReserve;
    if (run > room) run = room;
    void* p = mm::alloc_pages(run, mm::kNoZero);
    if (!p) {
      run /= 2;
      continue;
    }
    const uint64_t first = (uint64_t(p) - span_base) >> mm::kPageShift;
    for (uint64_t i = first; i < first + run; i++) {
      pattern(i);
      set_owned(i);
    }
    got += run;
  }
  owned_count += got;
  return got;
}

// balloon hook: frees up to `n` held pages to mm, highest first, checking
// each on its way out. Contiguous pages go back as one run.
uint64_t reclaim(uint64_t n) {
  uint64_t freed = 0;
  while (freed < n && top_word) {
    const uint64_t w = top_word - 1;
    uint64_t bits = owned[w];
    if (!bits) {
      top_word--;
      continue;
    }
    // The highest run of set bits in this word.
    unsigned hi = 63 - unsigned(__builtin_clzll(bits));
    unsigned lo = hi;
    while (lo > 0 && ((bits >> (lo - 1)) & 1) && freed + (hi - lo + 1) < n) lo--;
    for (unsigned b = lo; b <= hi; b++) {
      const uint64_t i = w * 64 + b;
      if (check(i) != 3) released_bad++;
      owned[w] &= ~(1ull << b);
    }
    const uint64_t cnt = hi - lo + 1;
    mm::free_pages(page_words(w * 64 + lo), cnt, mm::kNoReport);
    freed += cnt;
  }
  owned_count -= freed;
  released += freed;
  return freed;
}

// balloon hook: pages came back from the host; they must read as zero.
void back(void* p, uint64_t pages) {
  const uint64_t first = (uint64_t(p) - span_base) >> mm::kPageShift;
  for (uint64_t i = first; i < first + pages; i++) {
    volatile uint64_t* q = page_words(i);
    if (q[kWords[0]] | q[kWords[1]] | q[kWords[2]]) {
      if (not_zeroed++ < 4) con::printf("MEMTOUCH FAILED page 0x%lx came back not zeroed\n", uint64_t(q));
    }
  }
}

void verify() {
  uint64_t bad = 0, kept = 0, first_bad = ~0ull;
  unsigned bad_word = 0;
  for (uint64_t w = 0; w < top_word; w++) {
    for (uint64_t bits = owned[w]; bits; bits &= bits - 1) {
      const uint64_t i = w * 64 + unsigned(__builtin_ctzll(bits));
      const unsigned r = check(i);
      kept++;
      if (r == 3) continue;
      if (!bad++) first_bad = i, bad_word = r;
    }
  }
  const uint64_t now = grab();  // the pages that came back: patterned from here on
  refilled += now;
  if (bad || released_bad) {
    volatile uint64_t* p = bad ? page_words(first_bad) : nullptr;
    con::printf("MEMTOUCH verify FAILED bad=%lu released_bad=%lu first=0x%lx word=%u got=0x%lx want=0x%lx\n", bad,
                released_bad, p ? uint64_t(p) : 0, kWords[bad_word], p ? p[kWords[bad_word]] : 0,
                bad ? want(first_bad, bad_word) : 0);
    return;
  }
  con::printf("MEMTOUCH verify ok kept=%lu refilled=%lu released=%lu not_zeroed=%lu\n", kept, now, released,
              not_zeroed);
}

void reached() {
  if (touched) verify();
}
}  // namespace

[[noreturn]] void run_balloon(bool memtouch) {
  control::start();
  balloon::Hooks h;
  if (memtouch) h.reclaim = reclaim, h.back = back, h.reached = reached;
  if (!balloon::start(h)) run_idle();
  balloon::settle();
  if (memtouch) {
    mm::span(span_base, span_pages);
    const uint64_t words = (span_pages + 63) / 64;
    owned = static_cast<uint64_t*>(mm::alloc_pages((words * 8 + mm::kPageSize - 1) >> mm::kPageShift));
    if (!owned) {
      con::printf("MEMTOUCH FAILED: no memory for the bitmap\n");
      balloon::run();
    }
    const uint64_t n = grab();
    touched = true;
    con::printf("MEMTOUCH done pages=%lu kib=%lu\n", n, n * 4);
  }
  balloon::run();
}
