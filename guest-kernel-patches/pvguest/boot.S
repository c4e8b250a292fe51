/* pvguest boot: PVH ELF note, 32-bit PVH entry -> long mode, AP entry,
 * exception/interrupt stubs. Everything is identity mapped (first 4 GiB,
 * 2 MiB pages). Constants mirror xen/start_info.h (note type 18). */

#define KSTACK_SIZE 16384
#define MAX_CPUS    32

/* Every data segment register <- the flat data selector (GDT entry 2). */
.macro LOAD_DATA_SEGMENTS
    movl $0x10, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
.endm

/* ---- Xen ELF note: XEN_ELFNOTE_PHYS32_ENTRY (18), 4-byte desc ---- */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4                 /* namesz ("Xen\0") */
    .long 4                 /* descsz */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .long pvh_start32
    /* An empty note follows so the word after the desc is zero: QEMU's PVH
     * loader reads the desc of a 64-bit ELF as 8 bytes. */
    .long 0, 0, 0

/* ---- page tables: PML4, PDPT, 4 page directories (4 GiB of 2 MiB pages) ---- */
    .section .bss.pagetables, "aw", @nobits
    .balign 4096
    .globl pml4
pml4:   .skip 4096
pdpt:   .skip 4096
pd:     .skip 4096 * 4
pt_end:

    .section .bss, "aw", @nobits
    .balign 4096
    .globl cpu_stacks
cpu_stacks:
    .skip KSTACK_SIZE * MAX_CPUS

/* ---- 32-bit PVH entry: %ebx = hvm_start_info physical address ---- */
    .section .text.boot, "ax"
    .code32
    .globl pvh_start32
pvh_start32:
    cli
    cld
    movl %ebx, %esi
    lgdt gdt_ptr
    LOAD_DATA_SEGMENTS
    movl $(cpu_stacks + KSTACK_SIZE), %esp

    /* zero the page tables (do not rely on the loader zeroing .bss) */
    movl $pml4, %edi
    movl $((pt_end - pml4) / 4), %ecx
    xorl %eax, %eax
    rep stosl

    /* PML4[0] -> PDPT */
    movl $pdpt, %eax
    orl $3, %eax
    movl %eax, pml4
    /* PDPT[0..3] -> PD[0..3] */
    movl $pd, %eax
    orl $3, %eax
    movl $pdpt, %edi
    movl $4, %ecx
1:  movl %eax, (%edi)
    addl $4096, %eax
    addl $8, %edi
    decl %ecx
    jnz 1b
    /* PD entries: 2048 x 2 MiB, present | writable | PS */
    movl $pd, %edi
    movl $0x83, %eax
    movl $2048, %ecx
2:  movl %eax, (%edi)
    addl $0x200000, %eax
    addl $8, %edi
    decl %ecx
    jnz 2b

    /* CR4.PAE */
    movl %cr4, %eax
    orl $0x20, %eax
    movl %eax, %cr4
    movl $pml4, %eax
    movl %eax, %cr3
    /* EFER.LME */
    movl $0xC0000080, %ecx
    rdmsr
    orl $0x100, %eax
    wrmsr
    /* CR0.PG | CR0.PE */
    movl %cr0, %eax
    orl $0x80000001, %eax
    movl %eax, %cr0
    ljmp $0x08, $long_entry

    .code64
long_entry:
    LOAD_DATA_SEGMENTS
    movq $(cpu_stacks + KSTACK_SIZE), %rsp
    xorl %ebp, %ebp
    movl %esi, %edi          /* zero-extends: start_info paddr */
    call kmain
3:  cli
    hlt
    jmp 3b

/* ---- AP entry (VCPUOP_initialise, 64-bit mode): rdi = cpu, rsp = stack.
 * CS/DS/SS are cached flat descriptors but GDTR/IDTR are empty: load our GDT
 * before touching any segment register. ---- */
    .globl ap_entry64
ap_entry64:
    lgdt gdt_ptr(%rip)
    LOAD_DATA_SEGMENTS
    xorl %ebp, %ebp
    andq $-16, %rsp
    call ap_main
4:  cli
    hlt
    jmp 4b

/* ---- interrupt stubs: 256 x 16 bytes at isr_stubs + 16*vector ---- */
    .balign 16
    .globl isr_stubs
isr_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp isr_common
    .set vec, vec + 1
    .endr

isr_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    cld
    movq %rsp, %rdi
    call trap_dispatch
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp
    iretq

/* ---- GDT: 0x08 64-bit code, 0x10 flat data, 0x18 32-bit code ---- */
    .section .data
    .balign 16
gdt:
    .quad 0
    .quad 0x00af9b000000ffff
    .quad 0x00cf93000000ffff
    .quad 0x00cf9b000000ffff
gdt_end:
    .balign 8
    .globl gdt_ptr
gdt_ptr:
    .word gdt_end - gdt - 1
    .quad gdt

    .section .note.GNU-stack, "", @progbits
