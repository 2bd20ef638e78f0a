/* The x86_64 guest-physical layout, the same as Firecracker's so guests that
 * boot there boot here. */
#ifndef HEARTH_LAYOUT_H
#define HEARTH_LAYOUT_H

/* Boot structures in low memory. */
#define LAYOUT_GDT_START 0x500ULL
#define LAYOUT_IDT_START 0x520ULL
#define LAYOUT_PVH_INFO_START 0x6000ULL
#define LAYOUT_PVH_MODLIST 0x6040ULL
#define LAYOUT_PVH_MEMMAP 0x7000ULL /* PVH boots use this instead of a zero page */
#define LAYOUT_ZERO_PAGE 0x7000ULL
#define LAYOUT_BOOT_STACK 0x8ff0ULL
#define LAYOUT_PML4 0x9000ULL
#define LAYOUT_PDPT 0xa000ULL
#define LAYOUT_PD 0xb000ULL
#define LAYOUT_CMDLINE 0x20000ULL
#define LAYOUT_CMDLINE_MAX 2048ULL

/* The reserved BIOS area: EBDA (MP table) up to 1 MiB; RSDP and the other
 * ACPI tables at 0xE0000. */
#define LAYOUT_EBDA_START 0x9fc00ULL
#define LAYOUT_MPTABLE_START LAYOUT_EBDA_START
#define LAYOUT_RSDP 0xe0000ULL
#define LAYOUT_ACPI_END 0xf0000ULL
#define LAYOUT_TPM_LOG 0xf0000ULL /* measured boot's TCG event log */
#define LAYOUT_TPM_LOG_SIZE 0x10000ULL
#define LAYOUT_HIMEM_START 0x100000ULL /* kernels load here */

/* The 32-bit MMIO gap and what lives in it. */
#define LAYOUT_MMIO_GAP_START 0xc0000000ULL
#define LAYOUT_MMIO_GAP_END 0x100000000ULL
#define LAYOUT_BOOT_TIMER 0xc0000000ULL
#define LAYOUT_BOOT_TIMER_SIZE 0x1000ULL
#define LAYOUT_VIRTIO_MMIO_BASE 0xc0001000ULL
#define LAYOUT_VIRTIO_MMIO_SIZE 0x1000ULL
#define LAYOUT_TPM_BASE 0xfed40000ULL
#define LAYOUT_TPM_SIZE 0x5000ULL
#define LAYOUT_IOAPIC 0xfec00000ULL
#define LAYOUT_LAPIC 0xfee00000ULL
#define LAYOUT_KVM_TSS 0xfffbd000ULL

#define LAYOUT_MAX_RAM (1ULL << 40) /* 1 TiB, far past any microVM */

/* IRQs (GSIs) of the legacy devices. */
#define IRQ_I8042 1
#define IRQ_COM1 4
#define IRQ_VIRTIO_BASE 5 /* virtio-mmio slot i uses GSI 5 + i */

#endif
