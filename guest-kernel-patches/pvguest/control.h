// pvguest: the control/ directory as Linux's drivers/xen/manage.c serves it:
// control/shutdown requests and the feature-* flags that advertise them.
#pragma once

namespace control {
// Starts xenbus, watches control/shutdown, then writes control/feature-poweroff
// control/feature-reboot and control/feature-suspend = "1". Prints what
// failed; true if watching.
bool start();
}  // namespace control
