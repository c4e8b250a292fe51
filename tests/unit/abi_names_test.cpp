// The Xen ABI under Xen's and Linux's own names: each spelling a reader of
// Xen's public headers (xen/include/public/) or Linux's
// include/xen/interface/ would grep for exists at xen:: scope with Xen's
// value, and the struct names are the project's structures. The numbers
// below are copied from Xen's headers, not from hv/abi, so a wrong alias or
// value fails to compile.
#include <gtest/gtest.h>

#include <type_traits>

#include <xen/console.h>
#include <xen/cpuid.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/hvm.h>
#include <xen/io/blkif.h>
#include <xen/io/netif.h>
#include <xen/io/ring.h>
#include <xen/io/xenbus.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/start_info.h>
#include <xen/vcpu.h>
#include <xen/version.h>
#include <xen/xen.h>
#include <xen/xenstore_ring.h>
#include <xen/xs_wire.h>

namespace {

using namespace xen;
using std::is_same_v;

// ---- xen.h: hypercall numbers ----
static_assert(__HYPERVISOR_set_trap_table == 0);
static_assert(__HYPERVISOR_mmu_update == 1);
static_assert(__HYPERVISOR_set_gdt == 2);
static_assert(__HYPERVISOR_sched_op_compat == 6);
static_assert(__HYPERVISOR_platform_op == 7);
static_assert(__HYPERVISOR_update_descriptor == 10);
static_assert(__HYPERVISOR_memory_op == 12);
static_assert(__HYPERVISOR_multicall == 13);
static_assert(__HYPERVISOR_update_va_mapping == 14);
static_assert(__HYPERVISOR_set_timer_op == 15);
static_assert(__HYPERVISOR_event_channel_op_compat == 16);
static_assert(__HYPERVISOR_xen_version == 17);
static_assert(__HYPERVISOR_console_io == 18);
static_assert(__HYPERVISOR_physdev_op_compat == 19);
static_assert(__HYPERVISOR_grant_table_op == 20);
static_assert(__HYPERVISOR_vm_assist == 21);
static_assert(__HYPERVISOR_update_va_mapping_otherdomain == 22);
static_assert(__HYPERVISOR_iret == 23);
static_assert(__HYPERVISOR_vcpu_op == 24);
static_assert(__HYPERVISOR_set_segment_base == 25);
static_assert(__HYPERVISOR_mmuext_op == 26);
static_assert(__HYPERVISOR_xsm_op == 27);
static_assert(__HYPERVISOR_nmi_op == 28);
static_assert(__HYPERVISOR_sched_op == 29);
static_assert(__HYPERVISOR_callback_op == 30);
static_assert(__HYPERVISOR_xenoprof_op == 31);
static_assert(__HYPERVISOR_event_channel_op == 32);
static_assert(__HYPERVISOR_physdev_op == 33);
static_assert(__HYPERVISOR_hvm_op == 34);
static_assert(__HYPERVISOR_sysctl == 35);
static_assert(__HYPERVISOR_domctl == 36);
static_assert(__HYPERVISOR_kexec_op == 37);
static_assert(__HYPERVISOR_tmem_op == 38);
static_assert(__HYPERVISOR_argo_op == 39);
static_assert(__HYPERVISOR_xenpmu_op == 40);
static_assert(__HYPERVISOR_dm_op == 41);
static_assert(__HYPERVISOR_hypfs_op == 42);
static_assert(__HYPERVISOR_arch_0 == 48 && __HYPERVISOR_arch_7 == 55);
static_assert(__HYPERVISOR_mca == 48);

// ---- xen.h: domain ids, VIRQs, shutdown reasons, errno ----
static_assert(DOMID_FIRST_RESERVED == 0x7ff0 && DOMID_SELF == 0x7ff0);
static_assert(DOMID_IO == 0x7ff1 && DOMID_XEN == 0x7ff2 && DOMID_COW == 0x7ff3);
static_assert(DOMID_INVALID == 0x7ff4 && DOMID_ANY == 0x7ff5);
static_assert(DOMID_IDLE == 0x7fff && DOMID_MASK == 0x7fff);
static_assert(VIRQ_TIMER == 0);
static_assert(VIRQ_DEBUG == 1);
static_assert(VIRQ_CONSOLE == 2);
static_assert(VIRQ_DOM_EXC == 3);
static_assert(VIRQ_TBUF == 4);
static_assert(VIRQ_DEBUGGER == 6);
static_assert(VIRQ_XENOPROF == 7);
static_assert(VIRQ_CON_RING == 8);
static_assert(VIRQ_PCPU_STATE == 9);
static_assert(VIRQ_MEM_EVENT == 10);
static_assert(VIRQ_ARGO == 11);
static_assert(VIRQ_ENOMEM == 12);
static_assert(VIRQ_XENPMU == 13);
static_assert(VIRQ_ARCH_0 == 16 && VIRQ_ARCH_7 == 23);
static_assert(NR_VIRQS == 24);
static_assert(XEN_LEGACY_MAX_VCPUS == 32);
static_assert(EVTCHN_2L_NR_CHANNELS == 4096);
static_assert(XEN_PVCLOCK_TSC_STABLE_BIT == 1 && XEN_PVCLOCK_GUEST_STOPPED == 2);
static_assert(SHUTDOWN_poweroff == 0);
static_assert(SHUTDOWN_reboot == 1);
static_assert(SHUTDOWN_suspend == 2);
static_assert(SHUTDOWN_crash == 3);
static_assert(SHUTDOWN_watchdog == 4);
static_assert(SHUTDOWN_soft_reset == 5);
static_assert(SHUTDOWN_MAX == 5);
static_assert(XEN_EPERM == 1 && XEN_ENOENT == 2 && XEN_EAGAIN == 11 && XEN_EWOULDBLOCK == 11);
static_assert(XEN_EINVAL == 22 && XEN_EROFS == 30 && XEN_EDEADLK == 35 && XEN_ENOSYS == 38);
static_assert(XEN_ENOTEMPTY == 39 && XEN_EISCONN == 106 && XEN_ETIMEDOUT == 110 && XEN_ECONNREFUSED == 111);
static_assert(is_same_v<decltype(shared_info::vcpu_info), xen::vcpu_info[32]>);
static_assert(sizeof(vcpu_info) == 64 && sizeof(vcpu_time_info) == 32);
static_assert(sizeof(shared_info) == 3136);

// ---- event_channel.h ----
static_assert(EVTCHNOP_bind_interdomain == 0);
static_assert(EVTCHNOP_bind_virq == 1);
static_assert(EVTCHNOP_bind_pirq == 2);
static_assert(EVTCHNOP_close == 3);
static_assert(EVTCHNOP_send == 4);
static_assert(EVTCHNOP_status == 5);
static_assert(EVTCHNOP_alloc_unbound == 6);
static_assert(EVTCHNOP_bind_ipi == 7);
static_assert(EVTCHNOP_bind_vcpu == 8);
static_assert(EVTCHNOP_unmask == 9);
static_assert(EVTCHNOP_reset == 10);
static_assert(EVTCHNOP_init_control == 11);
static_assert(EVTCHNOP_expand_array == 12);
static_assert(EVTCHNOP_set_priority == 13);
static_assert(EVTCHNSTAT_closed == 0 && EVTCHNSTAT_unbound == 1 && EVTCHNSTAT_interdomain == 2);
static_assert(EVTCHNSTAT_pirq == 3 && EVTCHNSTAT_virq == 4 && EVTCHNSTAT_ipi == 5);
static_assert(EVTCHN_FIFO_PRIORITY_DEFAULT == 7 && EVTCHN_FIFO_MAX_QUEUES == 16);
static_assert(EVTCHN_FIFO_PENDING == 31 && EVTCHN_FIFO_BUSY == 28);
static_assert(EVTCHN_FIFO_LINK_MASK == 0x1ffff && EVTCHN_FIFO_NR_CHANNELS == 131072);
static_assert(is_same_v<evtchn_send, evtchn::send> && sizeof(evtchn_send) == 4);
static_assert(is_same_v<evtchn_alloc_unbound, evtchn::alloc_unbound> && sizeof(evtchn_alloc_unbound) == 8);
static_assert(sizeof(evtchn_bind_interdomain) == 12 && sizeof(evtchn_bind_virq) == 12);
static_assert(sizeof(evtchn_bind_ipi) == 8 && sizeof(evtchn_close) == 4 && sizeof(evtchn_unmask) == 4);
static_assert(sizeof(evtchn_bind_vcpu) == 8 && sizeof(evtchn_reset) == 2 && sizeof(evtchn_status) == 24);

// ---- grant_table.h ----
static_assert(GNTTABOP_map_grant_ref == 0);
static_assert(GNTTABOP_unmap_grant_ref == 1);
static_assert(GNTTABOP_setup_table == 2);
static_assert(GNTTABOP_dump_table == 3);
static_assert(GNTTABOP_transfer == 4);
static_assert(GNTTABOP_copy == 5);
static_assert(GNTTABOP_query_size == 6);
static_assert(GNTTABOP_unmap_and_replace == 7);
static_assert(GNTTABOP_set_version == 8);
static_assert(GNTTABOP_get_status_frames == 9);
static_assert(GNTTABOP_get_version == 10);
static_assert(GNTTABOP_swap_grant_ref == 11);
static_assert(GNTTABOP_cache_flush == 12);
static_assert(GNTST_okay == 0);
static_assert(GNTST_general_error == -1);
static_assert(GNTST_bad_domain == -2);
static_assert(GNTST_bad_gntref == -3);
static_assert(GNTST_bad_handle == -4);
static_assert(GNTST_bad_virt_addr == -5);
static_assert(GNTST_bad_dev_addr == -6);
static_assert(GNTST_no_device_space == -7);
static_assert(GNTST_permission_denied == -8);
static_assert(GNTST_bad_page == -9);
static_assert(GNTST_bad_copy_arg == -10);
static_assert(GNTST_address_too_big == -11);
static_assert(GNTST_eagain == -12);
static_assert(GNTST_no_space == -13);
static_assert(GTF_invalid == 0 && GTF_permit_access == 1 && GTF_accept_transfer == 2);
static_assert(GTF_transitive == 3 && GTF_type_mask == 3);
static_assert(GTF_readonly == 4 && GTF_reading == 8 && GTF_writing == 16);
static_assert(GTF_PWT == 32 && GTF_PCD == 64 && GTF_PAT == 128 && GTF_sub_page == 256);
static_assert(GTF_transfer_committed == 4 && GTF_transfer_completed == 8);
static_assert(GNTTAB_NR_RESERVED_ENTRIES == 8 && GNTTAB_RESERVED_CONSOLE == 0 && GNTTAB_RESERVED_XENSTORE == 1);
static_assert(GNTMAP_device_map == 1 && GNTMAP_host_map == 2 && GNTMAP_readonly == 4);
static_assert(GNTMAP_application_map == 8 && GNTMAP_contains_pte == 16);
static_assert(GNTCOPY_source_gref == 1 && GNTCOPY_dest_gref == 2);
static_assert(is_same_v<grant_entry_v1, gnttab::grant_entry_v1> && sizeof(grant_entry_v1) == 8);
static_assert(is_same_v<gnttab_setup_table, gnttab::setup_table> && sizeof(gnttab_setup_table) == 24);
static_assert(sizeof(gnttab_query_size) == 16 && sizeof(gnttab_set_version) == 4 && sizeof(gnttab_get_version) == 8);

// ---- memory.h ----
static_assert(XENMEM_increase_reservation == 0);
static_assert(XENMEM_decrease_reservation == 1);
static_assert(XENMEM_maximum_ram_page == 2);
static_assert(XENMEM_current_reservation == 3);
static_assert(XENMEM_maximum_reservation == 4);
static_assert(XENMEM_machphys_mfn_list == 5);
static_assert(XENMEM_populate_physmap == 6);
static_assert(XENMEM_add_to_physmap == 7);
static_assert(XENMEM_memory_map == 9);
static_assert(XENMEM_machine_memory_map == 10);
static_assert(XENMEM_exchange == 11);
static_assert(XENMEM_machphys_mapping == 12);
static_assert(XENMEM_set_memory_map == 13);
static_assert(XENMEM_maximum_gpfn == 14);
static_assert(XENMEM_remove_from_physmap == 15);
static_assert(XENMEM_set_pod_target == 16 && XENMEM_get_pod_target == 17);
static_assert(XENMEM_paging_op == 20 && XENMEM_access_op == 21 && XENMEM_sharing_op == 22);
static_assert(XENMEM_add_to_physmap_batch == 23 && XENMEM_add_to_physmap_range == 23);
static_assert(XENMEM_claim_pages == 24 && XENMEM_machphys_compat_mfn_list == 25);
static_assert(XENMEM_get_vnumainfo == 26 && XENMEM_reserved_device_memory_map == 27);
static_assert(XENMEM_acquire_resource == 28);
static_assert(XENMAPSPACE_shared_info == 0 && XENMAPSPACE_grant_table == 1 && XENMAPSPACE_gmfn == 2);
static_assert(XENMAPSPACE_gmfn_range == 3 && XENMAPSPACE_gmfn_foreign == 4 && XENMAPSPACE_dev_mmio == 5);
static_assert(XENMAPIDX_grant_table_status == 0x80000000u);
static_assert(XENMEMF_populate_on_demand == 1u << 16 && XENMEMF_exact_node_request == 1u << 17);
static_assert(XENMEMF_vnode == 1u << 18);
static_assert(is_same_v<xen_add_to_physmap, mem::add_to_physmap> && sizeof(xen_add_to_physmap) == 24);
static_assert(sizeof(xen_memory_map) == 16 && sizeof(xen_memory_reservation) == 32);

// ---- sched.h ----
static_assert(SCHEDOP_yield == 0);
static_assert(SCHEDOP_block == 1);
static_assert(SCHEDOP_shutdown == 2);
static_assert(SCHEDOP_poll == 3);
static_assert(SCHEDOP_remote_shutdown == 4);
static_assert(SCHEDOP_shutdown_code == 5);
static_assert(SCHEDOP_watchdog == 6);
static_assert(SCHEDOP_pin_override == 7);
static_assert(sizeof(sched_shutdown) == 4 && sizeof(sched_poll) == 24 && sizeof(sched_watchdog) == 8);

// ---- vcpu.h ----
static_assert(VCPUOP_initialise == 0);
static_assert(VCPUOP_up == 1);
static_assert(VCPUOP_down == 2);
static_assert(VCPUOP_is_up == 3);
static_assert(VCPUOP_get_runstate_info == 4);
static_assert(VCPUOP_register_runstate_memory_area == 5);
static_assert(VCPUOP_set_periodic_timer == 6);
static_assert(VCPUOP_stop_periodic_timer == 7);
static_assert(VCPUOP_set_singleshot_timer == 8);
static_assert(VCPUOP_stop_singleshot_timer == 9);
static_assert(VCPUOP_register_vcpu_info == 10);
static_assert(VCPUOP_send_nmi == 11);
static_assert(VCPUOP_get_physid == 12);
static_assert(VCPUOP_register_vcpu_time_memory_area == 13);
static_assert(VCPUOP_register_runstate_phys_area == 14 && VCPUOP_register_vcpu_time_phys_area == 15);
static_assert(VCPU_SSHOTTMR_future == 1);
static_assert(RUNSTATE_running == 0 && RUNSTATE_runnable == 1 && RUNSTATE_blocked == 2 && RUNSTATE_offline == 3);
static_assert(sizeof(vcpu_register_vcpu_info) == 16 && sizeof(vcpu_set_singleshot_timer) == 16);
static_assert(sizeof(vcpu_set_periodic_timer) == 8);

// ---- hvm.h ----
static_assert(HVMOP_set_param == 0);
static_assert(HVMOP_get_param == 1);
static_assert(HVMOP_set_pci_intx_level == 2 && HVMOP_set_isa_irq_level == 3);
static_assert(HVMOP_set_pci_link_route == 4 && HVMOP_flush_tlbs == 5);
static_assert(HVMOP_pagetable_dying == 9);
static_assert(HVMOP_get_time == 10);
static_assert(HVMOP_xentrace == 11 && HVMOP_set_mem_access == 12 && HVMOP_get_mem_access == 13);
static_assert(HVMOP_get_mem_type == 15);
static_assert(HVMOP_set_evtchn_upcall_vector == 23);
static_assert(HVMOP_guest_request_vm_event == 24 && HVMOP_altp2m == 25);
static_assert(HVM_PARAM_CALLBACK_IRQ == 0);
static_assert(HVM_PARAM_STORE_PFN == 1);
static_assert(HVM_PARAM_STORE_EVTCHN == 2);
static_assert(HVM_PARAM_PAE_ENABLED == 4);
static_assert(HVM_PARAM_IOREQ_PFN == 5 && HVM_PARAM_BUFIOREQ_PFN == 6);
static_assert(HVM_PARAM_VIRIDIAN == 9 && HVM_PARAM_TIMER_MODE == 10 && HVM_PARAM_HPET_ENABLED == 11);
static_assert(HVM_PARAM_IDENT_PT == 12 && HVM_PARAM_DM_DOMAIN == 13 && HVM_PARAM_ACPI_S_STATE == 14);
static_assert(HVM_PARAM_VM86_TSS == 15 && HVM_PARAM_VPT_ALIGN == 16);
static_assert(HVM_PARAM_CONSOLE_PFN == 17);
static_assert(HVM_PARAM_CONSOLE_EVTCHN == 18);
static_assert(HVM_PARAM_ACPI_IOPORTS_LOCATION == 19 && HVM_PARAM_NESTEDHVM == 24);
static_assert(HVM_PARAM_BUFIOREQ_EVTCHN == 26 && HVM_PARAM_PAGING_RING_PFN == 27);
static_assert(HVM_PARAM_MONITOR_RING_PFN == 28 && HVM_PARAM_SHARING_RING_PFN == 29);
static_assert(HVM_PARAM_TRIPLE_FAULT_REASON == 31 && HVM_PARAM_IOREQ_SERVER_PFN == 32);
static_assert(HVM_PARAM_NR_IOREQ_SERVER_PAGES == 33 && HVM_PARAM_VM_GENERATION_ID_ADDR == 34);
static_assert(HVM_PARAM_ALTP2M == 35 && HVM_PARAM_X87_FIP_WIDTH == 36);
static_assert(HVM_PARAM_VM86_TSS_SIZED == 37 && HVM_PARAM_MCA_CAP == 38);
static_assert(HVM_NR_PARAMS == 39);
static_assert(HVM_PARAM_CALLBACK_IRQ_TYPE_MASK == 0xff00000000000000ull);
static_assert(HVM_PARAM_CALLBACK_TYPE_GSI == 0 && HVM_PARAM_CALLBACK_TYPE_PCI_INTX == 1);
static_assert(HVM_PARAM_CALLBACK_TYPE_VECTOR == 2);
static_assert(VCPU_HVM_MODE_32B == 0 && VCPU_HVM_MODE_64B == 1);
static_assert(sizeof(xen_hvm_param) == 16 && sizeof(xen_hvm_evtchn_upcall_vector) == 8);
static_assert(sizeof(vcpu_hvm_context) == 128);

// ---- version.h ----
static_assert(XENVER_version == 0);
static_assert(XENVER_extraversion == 1);
static_assert(XENVER_compile_info == 2);
static_assert(XENVER_capabilities == 3);
static_assert(XENVER_changeset == 4);
static_assert(XENVER_platform_parameters == 5);
static_assert(XENVER_get_features == 6);
static_assert(XENVER_pagesize == 7);
static_assert(XENVER_guest_handle == 8);
static_assert(XENVER_commandline == 9);
static_assert(XENVER_build_id == 10);
static_assert(XENVER_extraversion2 == 11 && XENVER_commandline2 == 14);
static_assert(XENFEAT_writable_page_tables == 0 && XENFEAT_auto_translated_physmap == 2);
static_assert(XENFEAT_supervisor_mode_kernel == 3 && XENFEAT_gnttab_map_avail_bits == 7);
static_assert(XENFEAT_hvm_callback_vector == 8 && XENFEAT_hvm_safe_pvclock == 9);
static_assert(XENFEAT_hvm_pirqs == 10 && XENFEAT_dom0 == 11 && XENFEAT_grant_map_identity == 12);
static_assert(XENFEAT_memory_op_vnode_supported == 13 && XENFEAT_ARM_SMCCC_supported == 14);
static_assert(XENFEAT_linux_rsdp_unrestricted == 15 && XENFEAT_not_direct_mapped == 16);
static_assert(XENFEAT_direct_mapped == 17 && XENFEAT_runstate_phys_area == 18);
static_assert(XENFEAT_vcpu_time_phys_area == 19 && XENFEAT_dm_msix_all_writes == 20);
static_assert(XENFEAT_NR_SUBMAPS == 1);
static_assert(sizeof(xen_compile_info) == 144 && sizeof(xen_feature_info) == 8);
static_assert(sizeof(xen_extraversion_t) == 16 && sizeof(xen_capabilities_info_t) == 1024);
static_assert(sizeof(xen_changeset_info_t) == 64 && sizeof(xen_commandline_t) == 1024);

// ---- console.h, cpuid.h, start_info.h ----
static_assert(CONSOLEIO_write == 0 && CONSOLEIO_read == 1);
static_assert(XENCONSOLE_CONNECTED == 0 && XENCONSOLE_DISCONNECTED == 1);
static_assert(offsetof(xencons_interface, in_cons) == 3072 && offsetof(xencons_interface, out_prod) == 3084);
static_assert(XEN_CPUID_FIRST_LEAF == 0x40000000);
static_assert(XEN_CPUID_SIGNATURE_EBX == 0x566e6558);
static_assert(XEN_CPUID_SIGNATURE_ECX == 0x65584d4d);
static_assert(XEN_CPUID_SIGNATURE_EDX == 0x4d4d566e);
static_assert(XEN_CPUID_MAX_NUM_LEAVES == 5);
static_assert(XEN_HVM_CPUID_APIC_ACCESS_VIRT == 1 && XEN_HVM_CPUID_X2APIC_VIRT == 2);
static_assert(XEN_HVM_CPUID_IOMMU_MAPPINGS == 4 && XEN_HVM_CPUID_VCPU_ID_PRESENT == 8);
static_assert(XEN_HVM_CPUID_DOMID_PRESENT == 16 && XEN_HVM_CPUID_EXT_DEST_ID == 32);
static_assert(XEN_HVM_CPUID_UPCALL_VECTOR == 64);
static_assert(XEN_HVM_START_MAGIC_VALUE == 0x336ec578);
static_assert(XEN_HVM_MEMMAP_TYPE_RAM == 1 && XEN_HVM_MEMMAP_TYPE_RESERVED == 2);
static_assert(XEN_HVM_MEMMAP_TYPE_ACPI == 3 && XEN_HVM_MEMMAP_TYPE_NVS == 4);
static_assert(XEN_HVM_MEMMAP_TYPE_UNUSABLE == 5 && XEN_HVM_MEMMAP_TYPE_DISABLED == 6);
static_assert(XEN_HVM_MEMMAP_TYPE_PMEM == 7);
static_assert(XEN_ELFNOTE_PHYS32_ENTRY == 18 && XEN_ELFNOTE_PHYS32_RELOC == 19);
static_assert(sizeof(hvm_start_info) == 56 && sizeof(hvm_modlist_entry) == 32);
static_assert(sizeof(hvm_memmap_table_entry) == 24);

// ---- io/blkif.h ----
static_assert(BLKIF_OP_READ == 0);
static_assert(BLKIF_OP_WRITE == 1);
static_assert(BLKIF_OP_WRITE_BARRIER == 2);
static_assert(BLKIF_OP_FLUSH_DISKCACHE == 3);
static_assert(BLKIF_OP_RESERVED_1 == 4);
static_assert(BLKIF_OP_DISCARD == 5);
static_assert(BLKIF_OP_INDIRECT == 6);
static_assert(BLKIF_MAX_SEGMENTS_PER_REQUEST == 11);
static_assert(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST == 8);
static_assert(BLKIF_RSP_EOPNOTSUPP == -2 && BLKIF_RSP_ERROR == -1 && BLKIF_RSP_OKAY == 0);
static_assert(BLKIF_DISCARD_SECURE == 1);
static_assert(VDISK_CDROM == 1 && VDISK_REMOVABLE == 2 && VDISK_READONLY == 4);
static_assert(is_same_v<blkif_request, blkif::blkif_request> && sizeof(blkif_request) == 112);
static_assert(sizeof(blkif_request_segment) == 8 && sizeof(blkif_response) == 16);
static_assert(sizeof(blkif_request_indirect) == 64 && sizeof(blkif_vdev_t) == 2 && sizeof(blkif_sector_t) == 8);

// ---- io/netif.h ----
static_assert(XEN_NETIF_NR_SLOTS_MIN == 18);
static_assert(XEN_NETIF_MAX_TX_SIZE == 0xffff);
static_assert(NETTXF_csum_blank == 1 && NETTXF_data_validated == 2);
static_assert(NETTXF_more_data == 4 && NETTXF_extra_info == 8);
static_assert(XEN_NETTXF_csum_blank == 1 && XEN_NETTXF_data_validated == 2);
static_assert(XEN_NETTXF_more_data == 4 && XEN_NETTXF_extra_info == 8);
static_assert(NETRXF_data_validated == 1 && NETRXF_csum_blank == 2 && NETRXF_more_data == 4);
static_assert(NETRXF_extra_info == 8 && NETRXF_gso_prefix == 16);
static_assert(XEN_NETRXF_data_validated == 1 && XEN_NETRXF_csum_blank == 2 && XEN_NETRXF_more_data == 4);
static_assert(XEN_NETRXF_extra_info == 8 && XEN_NETRXF_gso_prefix == 16);
static_assert(XEN_NETIF_EXTRA_TYPE_NONE == 0 && XEN_NETIF_EXTRA_TYPE_GSO == 1);
static_assert(XEN_NETIF_EXTRA_TYPE_MCAST_ADD == 2 && XEN_NETIF_EXTRA_TYPE_MCAST_DEL == 3);
static_assert(XEN_NETIF_EXTRA_TYPE_HASH == 4);
static_assert(XEN_NETIF_EXTRA_TYPE_XDP == 5 && XEN_NETIF_EXTRA_TYPE_MAX == 6);  // Linux's values
static_assert(XEN_NETIF_EXTRA_FLAG_MORE == 1);
static_assert(XEN_NETIF_GSO_TYPE_NONE == 0 && XEN_NETIF_GSO_TYPE_TCPV4 == 1 && XEN_NETIF_GSO_TYPE_TCPV6 == 2);
static_assert(XEN_NETIF_RSP_DROPPED == -2 && XEN_NETIF_RSP_ERROR == -1);
static_assert(XEN_NETIF_RSP_OKAY == 0 && XEN_NETIF_RSP_NULL == 1);
static_assert(NETIF_RSP_DROPPED == -2 && NETIF_RSP_ERROR == -1 && NETIF_RSP_OKAY == 0 && NETIF_RSP_NULL == 1);
static_assert(is_same_v<netif_tx_request, netif::netif_tx_request> && sizeof(netif_tx_request) == 12);
static_assert(is_same_v<xen_netif_tx_request, netif_tx_request>);
static_assert(sizeof(netif_extra_info) == 8 && sizeof(netif_tx_response) == 4);
static_assert(sizeof(xen_netif_rx_request) == 8 && sizeof(xen_netif_rx_response) == 8);

// ---- io/ring.h, io/xenbus.h ----
static_assert(is_same_v<RING_IDX, uint32_t>);
static_assert(is_same_v<XenbusState, xenbus::State>);
static_assert(XenbusStateUnknown == 0);
static_assert(XenbusStateInitialising == 1);
static_assert(XenbusStateInitWait == 2);
static_assert(XenbusStateInitialised == 3);
static_assert(XenbusStateConnected == 4);
static_assert(XenbusStateClosing == 5);
static_assert(XenbusStateClosed == 6);
static_assert(XenbusStateReconfiguring == 7);
static_assert(XenbusStateReconfigured == 8);

// ---- xs_wire.h, xenstore_ring.h ----
static_assert(XS_CONTROL == 0 && XS_DEBUG == 0);
static_assert(XS_DIRECTORY == 1);
static_assert(XS_READ == 2);
static_assert(XS_GET_PERMS == 3);
static_assert(XS_WATCH == 4);
static_assert(XS_UNWATCH == 5);
static_assert(XS_TRANSACTION_START == 6);
static_assert(XS_TRANSACTION_END == 7);
static_assert(XS_INTRODUCE == 8);
static_assert(XS_RELEASE == 9);
static_assert(XS_GET_DOMAIN_PATH == 10);
static_assert(XS_WRITE == 11);
static_assert(XS_MKDIR == 12);
static_assert(XS_RM == 13);
static_assert(XS_SET_PERMS == 14);
static_assert(XS_WATCH_EVENT == 15);
static_assert(XS_ERROR == 16);
static_assert(XS_IS_DOMAIN_INTRODUCED == 17);
static_assert(XS_RESUME == 18);
static_assert(XS_SET_TARGET == 19);
static_assert(XS_RESTRICT == 20);
static_assert(XS_RESET_WATCHES == 21);
static_assert(XS_DIRECTORY_PART == 22);
static_assert(XS_GET_FEATURE == 23 && XS_SET_FEATURE == 24 && XS_GET_QUOTA == 25 && XS_SET_QUOTA == 26);
static_assert(XS_TYPE_COUNT == 27);
static_assert(XS_INVALID == 0xffff);
static_assert(XS_WATCH_PATH == 0 && XS_WATCH_TOKEN == 1);
static_assert(XENSTORE_RING_SIZE == 1024);
static_assert(XENSTORE_PAYLOAD_MAX == 4096);
static_assert(XENSTORE_ABS_PATH_MAX == 3072 && XENSTORE_REL_PATH_MAX == 2048);
static_assert(XENSTORE_SERVER_FEATURE_RECONNECTION == 1 && XENSTORE_SERVER_FEATURE_ERROR == 2);
static_assert(XENSTORE_SERVER_FEATURE_WATCHDEPTH == 4 && XENSTORE_SERVER_FEATURE_DOMID_ANY == 8);
static_assert(XENSTORE_CONNECTED == 0 && XENSTORE_RECONNECT == 1);
static_assert(XENSTORE_ERROR_NONE == 0 && XENSTORE_ERROR_COMM == 1);
static_assert(XENSTORE_ERROR_RINGIDX == 2 && XENSTORE_ERROR_PROTO == 3);
static_assert(MASK_XENSTORE_IDX(1025) == 1);
static_assert(is_same_v<XENSTORE_RING_IDX, uint32_t> && is_same_v<XENCONS_RING_IDX, uint32_t>);
static_assert(is_same_v<xenstore_domain_interface, xenstore::domain_interface>);
static_assert(offsetof(xenstore_domain_interface, req_cons) == 2048);
static_assert(offsetof(xenstore_domain_interface, error) == 2072);
static_assert(sizeof(xsd_sockmsg) == 16);

// Names already Xen's inside a sub-namespace are re-declared at xen:: scope
// (using-declarations: the same objects), so code that also says `using
// namespace xen::blkif` still sees one name, not an ambiguous pair.
namespace both_scopes {
using namespace xen::blkif;
using namespace xen::gnttab;
using namespace xen::netif;
static_assert(BLKIF_OP_INDIRECT == 6 && VDISK_READONLY == 4);
static_assert(GTF_reading == 8);
static_assert(NETTXF_more_data == 4 && XEN_NETIF_RSP_NULL == 1);
static_assert(sizeof(blkif_request) == 112 && sizeof(netif_rx_response) == 8);
}  // namespace both_scopes

TEST(AbiNames, XenSpellingsHaveXensValues) {
  // The checks are the static_asserts above; this makes them a test.
  EXPECT_EQ(EVTCHNOP_send, evtchn::op::send);
  EXPECT_STREQ(xsd_errors[0].errstring, "EINVAL");
}

}  // namespace
