// Writes a running domain's save stream (docs/save-format.md) while its
// guest is held in SHUTDOWN_suspend: the configuration, each vCPU's KVM
// state, the populated memory, HVM params, where the Xen pages are, time
// and the console ring's indices.
#pragma once
#include <cstdint>

#include "domain_state.pb.h"
#include "save/domain_stream.h"

namespace pv {

class Domain;

// The stream's configuration record for `dom` now (pvd's `toolstack`
// fields copied in).
state::DomainConfig domain_config_record(Domain& dom, const state::DomainConfig& toolstack);

// Everything after the memory, then the End record: each vCPU (the held
// one's registers moved past its hypercall, see below), HVM params, the Xen
// pages, time, the console ring's indices. Every vCPU must be still.
void write_domain_rest(Domain& dom, save::DomainStreamWriter& out, uint32_t held_vcpu);

// `held_vcpu` is the vCPU in the suspend hypercall: its saved registers are
// the hypercall's return with 0 (resumed in a new pv-hv), past the
// hypercall instruction. The other vCPUs must not be running (the caller
// checks only one is up: they are not paused yet). Returns the bytes
// written; throws on a failed write or ioctl. `toolstack` is what pvd
// adds to the configuration record (its uuid and config_text are copied).
uint64_t write_domain_state(Domain& dom, int fd, uint32_t held_vcpu, const state::DomainConfig& toolstack = {});

}  // namespace pv
