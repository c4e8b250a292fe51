// pvctl disk: disk images on this host, made and described by pvctl itself
// (no pvd needed), with the same code pv-backd serves them with
// (pvdrivers/disk), as qemu-img does for QEMU.
//
//   pvctl disk create PATH [SIZE] [--format qcow2|raw] [--backing BASE]
//                         [--backing-format qcow2|raw] [--cluster-size BYTES]
//   pvctl disk info PATH [--json]
//   pvctl disk resize PATH SIZE | DOMAIN VDEV SIZE
//   pvctl disk-limit DOMAIN VDEV key=value...
#pragma once
#include "verbs.h"

namespace pv::pvctl {

// The sub-verbs of `pvctl disk` (0 done, 1 refused with a message, 2 usage).
extern const VerbSet kDiskVerbs;

// pvctl template create NAME --from DOMAIN | list | delete NAME.
extern const VerbSet kTemplateVerbs;

// pvctl disk-limit DOMAIN VDEV key=value...: a running disk's I/O limits.
int disk_limit_verb(const std::vector<std::string>& args, const Context& ctx);

}  // namespace pv::pvctl
