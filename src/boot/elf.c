/* ELF vmlinux loader with PVH note (XEN_ELFNOTE_PHYS32_ENTRY) discovery. */
#include "arch/x86_64/layout.h"
#include "boot/loader.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define ELF_MAX_PHDRS 64
#define ELF_MAX_NOTES 4096

/* Walks one PT_NOTE segment looking for the PVH entry point. */
static int find_pvh_note(const uint8_t *img, size_t len, const Elf64_Phdr *ph, uint64_t *entry)
{
    if (ph->p_filesz > ELF_MAX_NOTES)
        return 0; /* a note segment this large carries nothing we need */
    if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
        return -1;
    const uint8_t *notes = img + ph->p_offset;
    size_t off = 0;
    while (off + sizeof(Elf64_Nhdr) <= ph->p_filesz) {
        Elf64_Nhdr n;
        memcpy(&n, notes + off, sizeof(n));
        size_t name_off = off + sizeof(n);
        size_t desc_off = name_off + ((n.n_namesz + 3u) & ~3u);
        size_t next = desc_off + ((n.n_descsz + 3u) & ~3u);
        if (n.n_namesz > ph->p_filesz || n.n_descsz > ph->p_filesz || next > ph->p_filesz)
            return -1;
        if (n.n_type == XEN_ELFNOTE_PHYS32_ENTRY && n.n_namesz == 4 &&
            memcmp(notes + name_off, "Xen", 4) == 0) {
            uint64_t v = 0;
            if (n.n_descsz == 4 || n.n_descsz == 8)
                memcpy(&v, notes + desc_off, n.n_descsz);
            else
                return -1;
            *entry = v;
            return 0;
        }
        off = next;
    }
    return 0;
}

int elf_load(struct guest_mem *mem, const uint8_t *img, size_t len, struct loaded_kernel *k,
             char *err, size_t errlen)
{
    Elf64_Ehdr eh;
    if (len < sizeof(eh)) {
        snprintf(err, errlen, "ELF header truncated");
        return -EINVAL;
    }
    memcpy(&eh, img, sizeof(eh));
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
        eh.e_machine != EM_X86_64) {
        snprintf(err, errlen, "not a 64-bit little-endian x86_64 ELF");
        return -EINVAL;
    }
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > ELF_MAX_PHDRS) {
        snprintf(err, errlen, "ELF program headers malformed (%u entries of %u bytes)", eh.e_phnum,
                 eh.e_phentsize);
        return -EINVAL;
    }
    Elf64_Phdr ph[ELF_MAX_PHDRS];
    size_t phsize = (size_t)eh.e_phnum * sizeof(Elf64_Phdr);
    if (eh.e_phoff > len || phsize > len - eh.e_phoff) {
        snprintf(err, errlen, "ELF program headers truncated");
        return -EINVAL;
    }
    memcpy(ph, img + eh.e_phoff, phsize);

    k->format = KERNEL_ELF;
    k->load_start = UINT64_MAX;
    k->load_end = 0;
    k->pvh_entry = 0;
    int nload = 0;
    for (int i = 0; i < eh.e_phnum; i++) {
        const Elf64_Phdr *p = &ph[i];
        if (p->p_type == PT_NOTE) {
            if (find_pvh_note(img, len, p, &k->pvh_entry)) {
                snprintf(err, errlen, "ELF note segment %d malformed or truncated", i);
                return -EINVAL;
            }
            continue;
        }
        if (p->p_type != PT_LOAD)
            continue;
        if (p->p_offset > len || p->p_filesz > len - p->p_offset) {
            snprintf(err, errlen, "ELF segment %d truncated (file has %zu bytes)", i, len);
            return -EINVAL;
        }
        if (p->p_filesz > p->p_memsz) {
            snprintf(err, errlen, "ELF segment %d: file size exceeds memory size", i);
            return -EINVAL;
        }
        if (p->p_paddr < LAYOUT_HIMEM_START) {
            snprintf(err, errlen, "ELF segment %d at 0x%llx overlaps reserved memory below 0x%llx",
                     i, (unsigned long long)p->p_paddr, LAYOUT_HIMEM_START);
            return -EINVAL;
        }
        uint8_t *dst = p->p_memsz ? gpa_to_hva(mem, p->p_paddr, p->p_memsz) : NULL;
        if (p->p_memsz && !dst) {
            snprintf(err, errlen, "ELF segment %d [0x%llx, +0x%llx) does not fit in guest RAM", i,
                     (unsigned long long)p->p_paddr, (unsigned long long)p->p_memsz);
            return -EINVAL;
        }
        if (p->p_filesz)
            memcpy(dst, img + p->p_offset, p->p_filesz);
        memset(dst + p->p_filesz, 0, p->p_memsz - p->p_filesz);
        if (p->p_paddr < k->load_start)
            k->load_start = p->p_paddr;
        if (p->p_paddr + p->p_memsz > k->load_end)
            k->load_end = p->p_paddr + p->p_memsz;
        nload++;
    }
    if (nload == 0) {
        snprintf(err, errlen, "ELF has no loadable segment");
        return -EINVAL;
    }
    k->entry64 = eh.e_entry;
    uint64_t entry = k->pvh_entry ? k->pvh_entry : k->entry64;
    if (entry < k->load_start || entry >= k->load_end) {
        snprintf(err, errlen, "ELF %s entry point 0x%llx is outside the loaded image",
                 k->pvh_entry ? "PVH" : "64-bit", (unsigned long long)entry);
        return -EINVAL;
    }
    k->initrd_addr_max = UINT32_MAX;
    return 0;
}
