#include "save/domain_restore.h"

#include <unistd.h>

#include <algorithm>
#include <string>

#include <xen/hvm.h>
#include <xen/sched.h>

#include "boot/layout.h"
#include "cpu/vcpu.h"
#include "domain.h"
#include "pv/error.h"
#include "pv/log.h"
#include "save/memory_capture.h"
#include "save/vcpu_capture.h"

namespace pv {

namespace {
// IA32_TSC: not written back. Guest TSC is host TSC here (time/pvclock.h);
// guest system time goes on through the restored clock instead.
constexpr uint32_t kMsrTsc = 0x10;
}  // namespace

SavedDomain read_saved_domain(save::DomainStreamReader& in, const GuestMemory& mem) {
  SavedDomain out;
  out.state = in.read_rest([&](uint64_t first_gfn, std::string_view data) {
    copy_run_into(mem, first_gfn, data);
    if (in.passes_read()) return;  // a live stream: its populated record says which frames hold memory
    const uint64_t n = data.size() / save::kFrameBytes;
    if (!out.runs.empty() && out.runs.back().first + out.runs.back().second == first_gfn) out.runs.back().second += n;
    else out.runs.emplace_back(first_gfn, n);
  });
  if (out.state.passes) out.runs = out.state.populated;
  return out;
}

void apply_saved_domain(Domain& dom, const SavedDomain& saved) {
  const save::DomainState& st = saved.state;
  const state::DomainConfig& c = st.config;
  // pv-hv built the domain from the stream's first record; the whole
  // stream, read again, must still be that domain.
  if (c.vcpus() != dom.nr_vcpus() || c.maxmem_bytes() != dom.memory().size())
    throw UserError("the save stream changed while it was read (its configuration is not the one it started with)");

  if (std::none_of(st.vcpus.begin(), st.vcpus.end(), [](const auto& v) { return v.up(); }))
    throw UserError("no vCPU of the saved domain is up: nothing would run");

  const uint64_t ram = dom.memory().size();
  dom.reservation().restore(saved.runs, boot::boot_ballooned_first_gfn(c.memory_bytes()), boot::special_base_gfn(ram),
                            c.max_pages());
  dom.set_hypercall_page_gfn(c.hypercall_page_gfn());

  // Xen pages: shared_info first (vcpu_info still inside it moves with it).
  if (st.xen_pages.shared_info_gfn() != save::kNoFrame) dom.restore_shared_info(st.xen_pages.shared_info_gfn());
  else dom.restore_shared_info_content(st.xen_pages.shared_info());
  for (int i = 0; i < st.xen_pages.grant_frame_gfns_size(); i++)
    if (st.xen_pages.grant_frame_gfns(i) != save::kNoFrame)
      dom.restore_grant_frame(static_cast<uint32_t>(i), st.xen_pages.grant_frame_gfns(i));

  // The guest's one HVM parameter; the others (console and xenstore pages
  // and ports) are this pv-hv's, which the guest reads again on resume.
  for (const auto& p : st.hvm_params.params())
    if (p.index() == xen::hvm::param::CALLBACK_IRQ)
      if (const int64_t rc = dom.set_param(p.index(), p.value()); rc != 0)
        throw UserError("the saved callback (HVM_PARAM_CALLBACK_IRQ " + std::to_string(p.value()) + ") is refused");

  for (const auto& rec : st.vcpus) {
    Vcpu* v = dom.vcpu(rec.id());
    if (rec.up() || rec.initialised()) {
      KvmVcpuState k = from_record(rec);
      std::erase_if(k.msrs, [](const auto& m) { return m.first == kMsrTsc; });
      apply_vcpu(v->fd(), k);
    }
    if (rec.vcpu_info_gfn() != save::kNoFrame) dom.restore_vcpu_info(rec.id(), rec.vcpu_info_gfn(), rec.vcpu_info_offset());
    if (rec.upcall_vector() >= 0x20 && rec.upcall_vector() <= 0xff)
      v->set_upcall_vector(static_cast<uint8_t>(rec.upcall_vector()));
    v->restore_run_state(rec.initialised(), rec.up());
  }

  for (int i = 0; i < st.time.watchdog_timeouts_s_size(); i++)
    dom.restore_watchdog(static_cast<uint32_t>(i), st.time.watchdog_timeouts_s(i));

  uint64_t frames = 0;
  for (const auto& r : saved.runs) frames += r.second;
  log::info("domain " + c.name() + ": restored " + std::to_string(frames) + " frames, " +
            std::to_string(st.vcpus.size()) + " vCPU(s); guest time goes on from " +
            std::to_string(st.time.system_time_ns() / 1000000) + " ms");
}

}  // namespace pv
