/*
 * x86 boot: load a Linux kernel into guest memory and describe the vCPU
 * state it expects.  Two ways in:
 *  - PVH: an uncompressed vmlinux (ELF64) with the XEN_ELFNOTE_PHYS32_ENTRY
 *    note; 32-bit protected mode, EBX = hvm_start_info.
 *  - Linux boot protocol: a bzImage (setup header >= 2.12 with
 *    XLF_KERNEL_64); 64-bit entry at load address + 0x200, RSI = boot_params,
 *    identity-mapped page tables.
 * The parsers take untrusted bytes (the kernel image is a file the user
 * chose) and are fuzzed.
 */
#ifndef CAPSEM_VMM_X86_BOOT_H
#define CAPSEM_VMM_X86_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guestmem.h"

/* Guest-physical layout of the boot structures (all below 1 MiB). */
#define BOOT_GDT_ADDR		0x0500ULL
#define BOOT_START_INFO_ADDR	0x6000ULL	/* hvm_start_info */
#define BOOT_MODLIST_ADDR	0x6040ULL
#define BOOT_MEMMAP_ADDR	0x6100ULL
#define BOOT_PARAMS_ADDR	0x7000ULL	/* zero page */
#define BOOT_PML4_ADDR		0x9000ULL
#define BOOT_PDPT_ADDR		0xa000ULL
#define BOOT_PD_ADDR		0xb000ULL	/* 4 pages: identity 4 GiB */
#define BOOT_CMDLINE_ADDR	0x20000ULL
#define BOOT_CMDLINE_MAX	4096
#define BOOT_EBDA_START		0x9fc00ULL	/* reserved up to 1 MiB */
#define BOOT_MPTABLE_ADDR	BOOT_EBDA_START
#define BOOT_HIGH_START		0x100000ULL

#define BOOT_SEL_CODE32		0x08
#define BOOT_SEL_CODE64		0x10
#define BOOT_SEL_DATA		0x18
#define BOOT_SEL_TSS		0x20

#define E820_RAM		1
#define E820_RESERVED		2
#define BOOT_E820_MAX		8

struct e820_entry {
	uint64_t	 addr;
	uint64_t	 size;
	uint32_t	 type;
};

/* What a parsed vmlinux says (PVH). */
#define PVH_MAX_SEGMENTS	16
struct pvh_segment {
	uint64_t	 paddr;
	uint64_t	 offset;	/* in the file */
	uint64_t	 filesz;
	uint64_t	 memsz;
};
struct pvh_info {
	uint32_t	 entry;		/* 32-bit physical entry point */
	unsigned	 nsegments;
	struct pvh_segment seg[PVH_MAX_SEGMENTS];
	uint64_t	 kernel_end;	/* highest paddr + memsz */
};

/* What a parsed bzImage says. */
struct bzimage_info {
	uint16_t	 version;
	uint8_t		 loadflags;
	uint16_t	 xloadflags;
	uint32_t	 setup_size;	/* bytes before the protected-mode kernel */
	uint32_t	 hdr_end;	/* end offset of the setup header */
	uint64_t	 kernel_size;	/* protected-mode part */
	uint64_t	 pref_address;
	uint32_t	 init_size;
	uint32_t	 kernel_alignment;
	uint32_t	 initrd_addr_max;
	uint32_t	 cmdline_size;
	bool		 relocatable;
};

enum boot_kind { BOOT_PVH, BOOT_BZIMAGE };

/* vCPU 0's state at entry. */
struct boot_entry {
	enum boot_kind	 kind;
	uint64_t	 rip;
	uint64_t	 rsi;		/* boot_params (bzImage) */
	uint64_t	 rbx;		/* hvm_start_info (PVH) */
};

/* An initrd to place: bytes read from fd (size bytes). */
struct boot_initrd {
	int		 fd;
	uint64_t	 size;
};

/* Parsers: 0, or -1 with a one-line reason in err. */
int	pvh_parse(const uint8_t *img, size_t len, struct pvh_info *,
	    char *err, size_t errlen);
int	bzimage_parse(const uint8_t *img, size_t len, struct bzimage_info *,
	    char *err, size_t errlen);
bool	bzimage_detect(const uint8_t *img, size_t len);

/* Fill the e820 map for this memory; returns the number of entries. */
unsigned boot_e820(const struct guestmem *, struct e820_entry *, unsigned max);

/*
 * Load kernel image (PVH if it is an ELF, else bzImage), initrds
 * (concatenated, 4-byte aligned, in order), and the command line.
 * Fills *entry.  0, or -1 with a reason in err.
 */
int	boot_load(struct guestmem *, const uint8_t *kernel, size_t klen,
	    const struct boot_initrd *, unsigned ninitrd, const char *cmdline,
	    struct boot_entry *, char *err, size_t errlen);

/* MP table for ncpus and the IOAPIC (SMP and interrupts without ACPI). */
int	mptable_write(struct guestmem *, unsigned ncpus, char *err, size_t errlen);

#endif
