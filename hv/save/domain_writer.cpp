#include "save/domain_writer.h"

#include <time.h>

#include <xen/console.h>
#include <xen/hvm.h>
#include <xen/sched.h>

#include "boot/layout.h"
#include "cpu/vcpu.h"
#include "domain.h"
#include "hypercall/transport.h"
#include "save/domain_stream.h"
#include "save/memory_capture.h"
#include "save/vcpu_capture.h"

namespace pv {
namespace S = pv::state;

namespace {

// Where the held vCPU stopped inside its hypercall stub (slot offset) and
// how long the instruction is: port-io stubs are `out %eax,$0x7e; ret`,
// KVM's kvm-xen stubs `mov $nr,%eax; vmcall; ret`. KVM completes the
// instruction on the next KVM_RUN, so a saved state at it is moved past it.
void return_from_hypercall(kvm_regs& r, Transport t) {
  const uint64_t in_slot = r.rip % xen::hc::kStubSize;
  if (t == Transport::kPortIo && in_slot == 0) r.rip += 2;
  if (t == Transport::kKvmXen && in_slot == 5) r.rip += 3;
  r.rax = 0;  // resumed in a new domain
}

}  // namespace

S::DomainConfig domain_config_record(Domain& dom, const S::DomainConfig& toolstack) {
  const DomainOptions& o = dom.options();
  S::DomainConfig c;
  c.set_name(o.name);
  save::take_toolstack_fields(toolstack, c);
  c.set_domid(o.domid);
  c.set_memory_bytes(o.memory_bytes);
  c.set_maxmem_bytes(dom.memory().size());
  c.set_vcpus(o.vcpus);
  c.set_cmdline(o.boot.cmdline);
  c.set_kernel(o.boot.kernel_path);
  if (o.boot.initrd_path) c.set_ramdisk(*o.boot.initrd_path);
  c.set_max_pages(dom.reservation().maximum());
  c.set_transport(transport_name(dom.transport()));
  c.set_hypercall_page_gfn(dom.hypercall_page_gfn());
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  c.set_saved_unix_ns(static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec));
  return c;
}

void write_domain_rest(Domain& dom, save::DomainStreamWriter& out, uint32_t held_vcpu) {
  const DomainOptions& o = dom.options();
  for (uint32_t v = 0; v < o.vcpus; v++) {
    Vcpu* vc = dom.vcpu(v);
    KvmVcpuState k = capture_vcpu(vc->fd());
    if (v == held_vcpu) return_from_hypercall(k.regs, dom.transport());
    S::VcpuState rec;
    rec.set_id(v);
    rec.set_up(vc->is_up());
    rec.set_initialised(vc->is_up());
    to_record(k, rec);
    rec.set_vcpu_info_gfn(dom.vcpu_info_gfn(v));
    rec.set_vcpu_info_offset(dom.vcpu_info_offset(v));
    rec.set_execution_mode(transport_name(dom.transport()));
    out.vcpu(rec);
  }

  S::HvmParams p;
  for (uint32_t i = 0; i < xen::hvm::param::NR; i++) {
    uint64_t value = 0;
    if (dom.get_param(i, value) == 0 && value) {
      auto* e = p.add_params();
      e->set_index(i);
      e->set_value(value);
    }
  }
  p.set_callback_vector(dom.callback_vector());
  out.hvm_params(p);

  S::XenPages x;
  x.set_shared_info_gfn(dom.shared_info_gfn());
  for (uint32_t i = 0; i < dom.gnttab().nr_frames(); i++) x.add_grant_frame_gfns(dom.gnttab().frame_gfn(i));
  out.xen_pages(x);

  S::TimeState t;
  t.set_system_time_ns(dom.clock().now_ns());
  t.set_tsc_khz(dom.vcpu(0)->fd().tsc_khz());
  const uint64_t wall = dom.clock().wallclock_at_boot_ns();
  t.set_wallclock_sec(wall / 1000000000ull);
  t.set_wallclock_nsec(static_cast<uint32_t>(wall % 1000000000ull));
  for (uint32_t i = 0; i < xen::sched::kMaxWatchdogs; i++) t.add_watchdog_timeouts_s(dom.watchdog_timeout(i));
  out.time(t);

  S::ConsoleState cs;
  const auto* ring = dom.memory().object<xen::console::interface>(
      boot::special_gfn(dom.memory().size(), boot::kConsolePage) << 12);
  if (ring) {
    cs.set_in_cons(__atomic_load_n(&ring->in_cons, __ATOMIC_ACQUIRE));
    cs.set_in_prod(__atomic_load_n(&ring->in_prod, __ATOMIC_ACQUIRE));
    cs.set_out_cons(__atomic_load_n(&ring->out_cons, __ATOMIC_ACQUIRE));
    cs.set_out_prod(__atomic_load_n(&ring->out_prod, __ATOMIC_ACQUIRE));
  }
  out.console(cs);
  out.end();
}

uint64_t write_domain_state(Domain& dom, int fd, uint32_t held_vcpu, const S::DomainConfig& toolstack) {
  save::DomainStreamWriter out(fd, domain_config_record(dom, toolstack));
  write_populated_memory(out, dom.memory(), [&](uint64_t gfn) { return dom.reservation().populated(gfn); });
  write_domain_rest(dom, out, held_vcpu);
  return out.bytes_written();
}

}  // namespace pv
