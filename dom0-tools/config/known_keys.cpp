#include "config/known_keys.h"

#include <algorithm>
#include <iterator>
#include <vector>

namespace pv::config {

namespace {

constexpr std::string_view kSupported[] = {
    "name",    "type",        "memory",    "maxmem",   "vcpus",       "maxvcpus",      "kernel",
    "ramdisk", "cmdline",     "extra",     "root",     "on_poweroff", "on_reboot",     "on_crash",
    "on_watchdog", "on_soft_reset", "uuid", "disk",    "vif",         "builder",     "cpu_weight",
    "cap",
};

// From tools/xl/xl_parse.c (every key xl looks up), minus the supported ones.
constexpr std::string_view kXlOnly[] = {
    "acpi", "acpi_firmware", "acpi_laptop_slate", "acpi_s3", "acpi_s4", "altp2m", "altp2m_count",
    "altp2mhvm", "apic", "arm_sci", "bios", "bios_path_override", "boot", "bootloader",
    "bootloader_args", "bootloader_restrict", "bootloader_user", "channel",
    "cpuid", "cpus", "cpus_soft", "device_model", "device_model_args", "device_model_override",
    "device_model_stubdomain_override", "device_model_stubdomain_seclabel", "device_model_user",
    "device_model_version", "device_tree", "display", "dm_restrict", "driver_domain", "dtdev",
    "e820_host", "extratime", "firmware", "firmware_override", "gfx_passthru", "gic_version", "hap",
    "hdtype", "hpet", "hvm_pirq", "init_seclabel", "iomem", "ioports", "irqs", "keymap", "latency",
    "llc_colors", "localtime", "max_event_channels", "max_grant_frames", "max_grant_version",
    "max_maptrack_frames", "mca_caps", "mmio_hole", "ms_vm_genid", "msr_relaxed", "nestedhvm",
    "nographic", "nomigrate", "nr_spis", "nx", "oos", "opengl", "p9", "pae", "passthrough", "pci",
    "pci_msitranslate", "pci_permissive", "pci_power_mgmt", "pci_seize", "period", "pool", "pvcalls",
    "pvshim", "pvshim_cmdline", "pvshim_extra", "pvshim_path", "rdm", "rdm_mem_boundary",
    "rtc_timeoffset", "sdl", "seclabel", "serial", "shadow_memory", "slice", "smbios",
    "smbios_firmware", "soundhw", "spice", "spice_clipboard_sharing", "spice_image_compression",
    "spice_streaming_video", "spiceagent_mouse", "spicedisable_ticketing", "spicehost",
    "spicepasswd", "spiceport", "spicetls_port", "spiceusbredirection", "spicevdagent", "stdvga",
    "stubdomain_cmdline", "stubdomain_kernel", "stubdomain_memory", "stubdomain_ramdisk", "sve",
    "tee", "timer_mode", "trap_unmapped_accesses", "tsc_mode", "usb", "usbctrl", "usbdev",
    "usbdevice", "usbversion", "vdispl", "vendor_device", "vfb", "vga", "videoram", "vif2",
    "viridian", "virtio", "vkb", "vkb_device", "vmtrace_buf_kb", "vnc", "vncdisplay", "vnclisten",
    "vncpasswd", "vncunused", "vncviewer", "vnuma", "vpmu", "vpt_align", "vsnd", "vtpm", "vuart",
    "xauthority", "xen_platform_pci", "xen_platform_pci_bar_uc", "xend_suspend_evtchn_compat",
    "xenstore_feature_mask", "xenstore_quota", "cpu_cap", "sched", "on_xend_start",
};

}  // namespace

std::span<const std::string_view> supported_keys() { return kSupported; }

bool is_xl_only_key(std::string_view key) {
  return std::find(std::begin(kXlOnly), std::end(kXlOnly), key) != std::end(kXlOnly);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; i++) d[i][0] = i;
  for (size_t j = 0; j <= m; j++) d[0][j] = j;
  for (size_t i = 1; i <= n; i++) {
    for (size_t j = 1; j <= m; j++) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

std::optional<std::string_view> suggest_key(std::string_view key) {
  std::optional<std::string_view> best;
  size_t best_d = 3;
  for (auto k : kSupported) {
    size_t limit = std::min(key.size(), k.size()) >= 5 ? 2 : 1;
    size_t d = edit_distance(key, k);
    if (d > 0 && d <= limit && d < best_d) {
      best = k;
      best_d = d;
    }
  }
  return best;
}

}  // namespace pv::config
