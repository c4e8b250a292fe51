// pvguest: the control/ directory as Linux's drivers/xen/manage.c serves it:
// control/shutdown requests and the feature-* flags that advertise them.
#pragma once

namespace control {
// Starts xenbus, watches control/shutdown, then writes control/feature-poweroff
// and control/feature-reboot and control/feature-suspend = "1"; with
// `vcpu_hotplug`, also watches cpu/ (vcpu_hotplug.h). Prints what failed;
// true if watching control/shutdown.
bool start(bool vcpu_hotplug = true);
}  // namespace control
