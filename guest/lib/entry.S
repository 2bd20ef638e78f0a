/* Guest entry points: PVH (32-bit, paging off) and the Linux 64-bit boot
 * protocol (load address + 0x200); both end in long mode with our own
 * identity map of the first 4 GiB and call guest_start(kind, info). */

#define BOOT_KIND_PVH 1
#define BOOT_KIND_LINUX64 2

#ifndef NO_PVH_NOTE
    .section .note.Xen, "a"
    .balign 4
    .long 4            /* name size */
    .long 4            /* descriptor size */
    .long 18           /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long _start32
#endif

    .section .text.boot, "ax"
    .code32
    .globl _start32
_start32:
    cli
    movl %ebx, %esi                 /* hvm_start_info */
    movl $pml4, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $0x20, %eax                 /* PAE */
    movl %eax, %cr4
    movl $0xc0000080, %ecx          /* EFER */
    rdmsr
    orl $0x100, %eax                /* LME */
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax           /* PG | PE */
    movl %eax, %cr0
    lgdt gdt_desc
    ljmp $0x08, $pvh64

    .code64
pvh64:
    movl $BOOT_KIND_PVH, %edi
    movl %esi, %esi                 /* zero-extend the start_info address */
    jmp common64

    /* The 64-bit boot protocol enters at the load address + 0x200. */
    .org 0x200
    .globl _start64
_start64:
    cli
    lea pml4(%rip), %rax
    mov %rax, %cr3
    lgdt gdt_desc(%rip)
    movl $BOOT_KIND_LINUX64, %edi   /* rsi already holds the zero page */
    pushq $0x08
    lea common64(%rip), %rax
    pushq %rax
    lretq

common64:
    movl $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    lea stack_top(%rip), %rsp
    /* No bss clearing: ELF loaders zero it and bzImage RAM starts zeroed,
     * and guest kernel mode may be emulated instruction by instruction. */
    call guest_start
1:  hlt
    jmp 1b

    .section .rodata
    .balign 8
gdt:
    .quad 0
    .quad 0x00af9a000000ffff        /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: data */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .quad gdt

    /* Identity map of 0-4 GiB with 2 MiB pages; the top GiB (MMIO) uncached. */
    .section .data
    .balign 4096
    .globl pml4, pdpt
pml4:
    .quad pdpt + 3
    .fill 511, 8, 0
pdpt:
    .quad pd + 0x0003, pd + 0x1003, pd + 0x2003, pd + 0x3003
    .fill 508, 8, 0
pd:
    .set i, 0
    .rept 1536
    .quad (i << 21) | 0x83
    .set i, i + 1
    .endr
    .rept 512
    .quad (i << 21) | 0x9b
    .set i, i + 1
    .endr

    .section .bss
    .balign 16
stack:
    .skip 16384
stack_top:
