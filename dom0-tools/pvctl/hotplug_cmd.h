// Hot-plug verbs, as xl's (docs/toolstack.md):
//
//   pvctl block-attach DOMAIN DISKSPEC       a disk spec as in disk = [...];
//                                            a relative target is taken
//                                            from pvctl's working directory
//   pvctl block-detach [--force] [--timeout S] DOMAIN VDEV
//   pvctl block-list DOMAIN                  Vdev BE handle state evt-ch ring-ref BE-path
//   pvctl network-attach DOMAIN VIFSPEC
//   pvctl network-detach [--force] [--timeout S] DOMAIN DEVID|MAC
//   pvctl network-list DOMAIN                Idx BE Mac Addr. handle state evt-ch tx-/rx-ring-ref BE-path
#pragma once
#include <string>
#include <vector>

#include "admin.pb.h"
#include "verbs.h"

namespace pv::pvctl {

int block_attach_verb(const std::vector<std::string>& args, const Context& ctx);
int block_detach_verb(const std::vector<std::string>& args, const Context& ctx);
int block_list_verb(const std::vector<std::string>& args, const Context& ctx);
int network_attach_verb(const std::vector<std::string>& args, const Context& ctx);
int network_detach_verb(const std::vector<std::string>& args, const Context& ctx);
int network_list_verb(const std::vector<std::string>& args, const Context& ctx);

// The spec block-attach sends: a relative target made absolute against
// `cwd` (as xl takes it), in the canonical key=value form; a spec that
// does not parse is sent as it is (pvd says what is wrong with it).
std::string absolute_disk_spec(const std::string& spec, const std::string& cwd);

// The listings as xl prints them.
std::string block_list_text(const admin::DeviceList& l);
std::string network_list_text(const admin::DeviceList& l);

}  // namespace pv::pvctl
