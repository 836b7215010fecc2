/*
 * boot.c: kernel image parsing (PVH ELF note, bzImage setup header) and
 * placement of kernel, initrds, command line, boot_params/hvm_start_info,
 * e820 map, GDT and identity page tables in guest memory.
 */
#include <sys/types.h>

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "x86/boot.h"
#include "le.h"

#define XEN_ELFNOTE_PHYS32_ENTRY	18
#define HVM_START_MAGIC			0x336ec578u

/* Setup header fields (offsets in the image and in boot_params). */
#define BZ_SETUP_SECTS		0x1f1
#define BZ_BOOT_FLAG		0x1fe
#define BZ_JUMP			0x200
#define BZ_HEADER		0x202
#define BZ_VERSION		0x206
#define BZ_TYPE_OF_LOADER	0x210
#define BZ_LOADFLAGS		0x211
#define BZ_RAMDISK_IMAGE	0x218
#define BZ_RAMDISK_SIZE		0x21c
#define BZ_CMD_LINE_PTR		0x228
#define BZ_INITRD_ADDR_MAX	0x22c
#define BZ_KERNEL_ALIGNMENT	0x230
#define BZ_RELOCATABLE		0x234
#define BZ_XLOADFLAGS		0x236
#define BZ_CMDLINE_SIZE		0x238
#define BZ_PREF_ADDRESS		0x258
#define BZ_INIT_SIZE		0x260
#define BZ_HDR_MIN_END		0x264	/* through init_size */
#define BP_EXT_RAMDISK_IMAGE	0x0c0
#define BP_EXT_RAMDISK_SIZE	0x0c4
#define BP_EXT_CMD_LINE_PTR	0x0c8
#define BP_E820_ENTRIES		0x1e8
#define BP_E820_TABLE		0x2d0
#define BP_E820_TABLE_MAX	128
#define BP_SIZE			4096

#define LOADED_HIGH		0x01
#define XLF_KERNEL_64		0x01
#define HDRS_MAGIC		0x53726448u	/* "HdrS" */

static void
seterr(char *err, size_t errlen, const char *what)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", what);
}
#define FAIL(msg)	do { seterr(err, errlen, msg); return -1; } while (0)

/* --- PVH (ELF64 vmlinux) ------------------------------------------------ */

/* Walk one PT_NOTE segment for the Xen PHYS32 entry note. */
static int
pvh_scan_notes(const uint8_t *p, uint64_t len, uint32_t *entry, bool *found)
{
	uint64_t	 off = 0;

	while (len - off >= 12) {
		uint32_t namesz = le_get32(p + off);
		uint32_t descsz = le_get32(p + off + 4);
		uint32_t type = le_get32(p + off + 8);
		uint64_t name_off = off + 12;
		uint64_t desc_off = name_off + (((uint64_t)namesz + 3) & ~3ULL);
		uint64_t next = desc_off + (((uint64_t)descsz + 3) & ~3ULL);

		if (desc_off > len || next > len)
			return -1;
		if (namesz == 4 && memcmp(p + name_off, "Xen", 4) == 0 &&
		    type == XEN_ELFNOTE_PHYS32_ENTRY) {
			if (descsz == 4)
				*entry = le_get32(p + desc_off);
			else if (descsz == 8) {
				uint64_t e = le_get64(p + desc_off);
				if (e > UINT32_MAX)
					return -1;
				*entry = (uint32_t)e;
			} else
				return -1;
			*found = true;
		}
		off = next;
	}
	return 0;
}

int
pvh_parse(const uint8_t *img, size_t len, struct pvh_info *info, char *err,
    size_t errlen)
{
	Elf64_Ehdr	 eh;
	uint64_t	 phend;
	bool		 found = false;
	unsigned	 i;

	memset(info, 0, sizeof(*info));
	if (len < sizeof(eh))
		FAIL("kernel: too short for an ELF header");
	memcpy(&eh, img, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		FAIL("kernel: not an ELF file");
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
		FAIL("kernel: not an x86_64 little-endian ELF64 file");
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum > 64)
		FAIL("kernel: bad ELF program header table");
	phend = eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
	if (eh.e_phoff > len || phend > len || phend < eh.e_phoff)
		FAIL("kernel: ELF program headers outside the file");

	for (i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, img + eh.e_phoff + (uint64_t)i * sizeof(ph),
		    sizeof(ph));
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			FAIL("kernel: ELF segment outside the file");
		if (ph.p_type == PT_NOTE) {
			if (pvh_scan_notes(img + ph.p_offset, ph.p_filesz,
			    &info->entry, &found) == -1)
				FAIL("kernel: malformed ELF note");
			continue;
		}
		if (ph.p_filesz > ph.p_memsz)
			FAIL("kernel: ELF segment file size over memory size");
		if (ph.p_paddr > (1ULL << 40) || ph.p_memsz > (1ULL << 32))
			FAIL("kernel: ELF segment address out of range");
		if (info->nsegments == PVH_MAX_SEGMENTS)
			FAIL("kernel: too many ELF load segments");
		info->seg[info->nsegments++] = (struct pvh_segment){
		    ph.p_paddr, ph.p_offset, ph.p_filesz, ph.p_memsz };
		if (ph.p_paddr + ph.p_memsz > info->kernel_end)
			info->kernel_end = ph.p_paddr + ph.p_memsz;
	}
	if (info->nsegments == 0)
		FAIL("kernel: no ELF load segments");
	if (!found)
		FAIL("kernel: ELF without a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	return 0;
}

/* --- bzImage ---------------------------------------------------------- */

bool
bzimage_detect(const uint8_t *img, size_t len)
{
	return len >= BZ_HDR_MIN_END && le_get16(img + BZ_BOOT_FLAG) == 0xaa55 &&
	    le_get32(img + BZ_HEADER) == HDRS_MAGIC;
}

int
bzimage_parse(const uint8_t *img, size_t len, struct bzimage_info *bz,
    char *err, size_t errlen)
{
	unsigned	 sects;

	memset(bz, 0, sizeof(*bz));
	if (!bzimage_detect(img, len))
		FAIL("kernel: neither an ELF vmlinux nor a bzImage");
	bz->version = le_get16(img + BZ_VERSION);
	if (bz->version < 0x020c)
		FAIL("kernel: boot protocol older than 2.12");
	bz->hdr_end = BZ_HEADER + img[BZ_JUMP + 1];
	if (bz->hdr_end < BZ_HDR_MIN_END || bz->hdr_end > 0x400)
		FAIL("kernel: bad setup header length");
	sects = img[BZ_SETUP_SECTS];
	if (sects == 0)
		sects = 4;
	bz->setup_size = (sects + 1) * 512;
	if (bz->setup_size < bz->hdr_end || bz->setup_size >= len)
		FAIL("kernel: setup sectors past the end of the image");
	bz->kernel_size = len - bz->setup_size;
	bz->loadflags = img[BZ_LOADFLAGS];
	bz->xloadflags = le_get16(img + BZ_XLOADFLAGS);
	if (!(bz->loadflags & LOADED_HIGH))
		FAIL("kernel: not a bzImage (zImage loads low)");
	if (!(bz->xloadflags & XLF_KERNEL_64))
		FAIL("kernel: bzImage without a 64-bit entry point");
	bz->initrd_addr_max = le_get32(img + BZ_INITRD_ADDR_MAX);
	bz->kernel_alignment = le_get32(img + BZ_KERNEL_ALIGNMENT);
	bz->relocatable = img[BZ_RELOCATABLE] != 0;
	bz->cmdline_size = le_get32(img + BZ_CMDLINE_SIZE);
	bz->pref_address = le_get64(img + BZ_PREF_ADDRESS);
	bz->init_size = le_get32(img + BZ_INIT_SIZE);
	if (bz->pref_address < BOOT_HIGH_START ||
	    bz->pref_address > 0x40000000ULL || (bz->pref_address & 0xfff))
		FAIL("kernel: bad preferred load address");
	if (bz->kernel_alignment != 0 &&
	    (bz->kernel_alignment & (bz->kernel_alignment - 1)) != 0)
		FAIL("kernel: kernel_alignment is not a power of two");
	if (bz->init_size < bz->kernel_size || bz->init_size > (1U << 30))
		FAIL("kernel: bad init_size");
	if (bz->cmdline_size == 0)
		FAIL("kernel: cmdline_size is zero");
	return 0;
}

/* --- layout ----------------------------------------------------------- */

unsigned
boot_e820(const struct guestmem *gm, struct e820_entry *e, unsigned max)
{
	unsigned	 n = 0, i;

	if (max < 2 + GUESTMEM_MAX_REGIONS)
		return 0;
	e[n++] = (struct e820_entry){ 0, BOOT_EBDA_START, E820_RAM };
	e[n++] = (struct e820_entry){ BOOT_EBDA_START,
	    BOOT_HIGH_START - BOOT_EBDA_START, E820_RESERVED };
	for (i = 0; i < gm->nregions; i++) {
		uint64_t start = gm->region[i].gpa, end = start +
		    gm->region[i].size;

		if (start < BOOT_HIGH_START)
			start = BOOT_HIGH_START;
		if (end > start)
			e[n++] = (struct e820_entry){ start, end - start,
			    E820_RAM };
	}
	return n;
}

static int
write_gdt(struct guestmem *gm)
{
	const uint64_t gdt[] = {
		0,				/* null */
		0x00cf9b000000ffffULL,		/* 0x08: code32 flat */
		0x00af9b000000ffffULL,		/* 0x10: code64 */
		0x00cf93000000ffffULL,		/* 0x18: data flat */
		0x00008b0000000067ULL,		/* 0x20: TSS (busy) */
	};

	return guestmem_write(gm, BOOT_GDT_ADDR, gdt, sizeof(gdt));
}

static int
write_page_tables(struct guestmem *gm)
{
	uint64_t	 e;
	unsigned	 i, j;

	e = BOOT_PDPT_ADDR | 0x3;
	if (guestmem_write(gm, BOOT_PML4_ADDR, &e, sizeof(e)) == -1)
		return -1;
	for (i = 0; i < 4; i++) {
		e = (BOOT_PD_ADDR + i * 0x1000ULL) | 0x3;
		if (guestmem_write(gm, BOOT_PDPT_ADDR + i * 8, &e, 8) == -1)
			return -1;
		for (j = 0; j < 512; j++) {
			e = (((uint64_t)i * 512 + j) << 21) | 0x83;
			if (guestmem_write(gm, BOOT_PD_ADDR + i * 0x1000ULL +
			    j * 8, &e, 8) == -1)
				return -1;
		}
	}
	return 0;
}

/* Read exactly len bytes from fd at offset 0 into dst. */
static int
read_full(int fd, uint8_t *dst, uint64_t len)
{
	uint64_t	 done = 0;

	while (done < len) {
		size_t	 chunk = len - done > (1U << 30) ? (1U << 30) :
		    (size_t)(len - done);
		ssize_t	 n = pread(fd, dst + done, chunk, (off_t)done);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (uint64_t)n;
	}
	return 0;
}

/*
 * Place the initrds, concatenated, as high as possible in low RAM below
 * limit and above floor.  Returns 0 and the address/size, or -1.
 */
static int
place_initrds(struct guestmem *gm, const struct boot_initrd *rd, unsigned n,
    uint64_t floor, uint64_t limit, uint64_t *addr, uint64_t *size,
    char *err, size_t errlen)
{
	uint64_t	 total = 0, top, start, off;
	unsigned	 i;

	*addr = *size = 0;
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		uint64_t aligned = (total + 3) & ~3ULL;

		if (rd[i].size > (1ULL << 32) || aligned < total)
			FAIL("initrd too large");
		total = aligned + rd[i].size;
	}
	top = guestmem_low_end(gm);
	if (limit < top)
		top = limit;
	if (total > top || ((top - total) & ~0xfffULL) < floor)
		FAIL("initrd does not fit in guest memory below its limit");
	start = (top - total) & ~0xfffULL;
	off = 0;
	for (i = 0; i < n; i++) {
		uint8_t *dst;

		off = (off + 3) & ~3ULL;
		if ((dst = guestmem_ptr(gm, start + off, rd[i].size)) == NULL)
			FAIL("initrd outside guest memory");
		if (read_full(rd[i].fd, dst, rd[i].size) == -1)
			FAIL("cannot read initrd");
		off += rd[i].size;
	}
	*addr = start;
	*size = total;
	return 0;
}

static int
load_cmdline(struct guestmem *gm, const char *cmdline, size_t max, char *err,
    size_t errlen)
{
	size_t	 len = strlen(cmdline);

	if (len + 1 > max || len + 1 > BOOT_CMDLINE_MAX)
		FAIL("kernel command line too long");
	if (guestmem_write(gm, BOOT_CMDLINE_ADDR, cmdline, len + 1) == -1)
		FAIL("command line outside guest memory");
	return 0;
}

static int
load_pvh(struct guestmem *gm, const uint8_t *kernel, size_t klen,
    const struct boot_initrd *rd, unsigned nrd, const char *cmdline,
    struct boot_entry *entry, char *err, size_t errlen)
{
	struct pvh_info	 info;
	struct e820_entry e820[BOOT_E820_MAX];
	uint8_t		 si[56], mod[32], mm[24];
	uint64_t	 rd_addr, rd_size;
	unsigned	 i, n;

	if (pvh_parse(kernel, klen, &info, err, errlen) == -1)
		return -1;
	for (i = 0; i < info.nsegments; i++) {
		const struct pvh_segment *s = &info.seg[i];
		uint8_t *dst;

		if (s->paddr < BOOT_HIGH_START ||
		    (dst = guestmem_ptr(gm, s->paddr, s->memsz)) == NULL)
			FAIL("kernel segment outside guest memory");
		memcpy(dst, kernel + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	if (load_cmdline(gm, cmdline, BOOT_CMDLINE_MAX, err, errlen) == -1)
		return -1;
	if (place_initrds(gm, rd, nrd, (info.kernel_end + 0xfff) & ~0xfffULL,
	    UINT64_MAX, &rd_addr, &rd_size, err, errlen) == -1)
		return -1;

	n = boot_e820(gm, e820, BOOT_E820_MAX);
	for (i = 0; i < n; i++) {
		memset(mm, 0, sizeof(mm));
		le_put64(mm, e820[i].addr);
		le_put64(mm + 8, e820[i].size);
		le_put32(mm + 16, e820[i].type);
		if (guestmem_write(gm, BOOT_MEMMAP_ADDR + i * sizeof(mm), mm,
		    sizeof(mm)) == -1)
			FAIL("memory map outside guest memory");
	}
	memset(mod, 0, sizeof(mod));
	le_put64(mod, rd_addr);
	le_put64(mod + 8, rd_size);
	if (guestmem_write(gm, BOOT_MODLIST_ADDR, mod, sizeof(mod)) == -1)
		FAIL("module list outside guest memory");

	memset(si, 0, sizeof(si));
	le_put32(si, HVM_START_MAGIC);
	le_put32(si + 4, 1);			/* version */
	le_put32(si + 12, rd_size ? 1 : 0);	/* nr_modules */
	le_put64(si + 16, BOOT_MODLIST_ADDR);
	le_put64(si + 24, BOOT_CMDLINE_ADDR);
	le_put64(si + 32, 0);			/* rsdp: none */
	le_put64(si + 40, BOOT_MEMMAP_ADDR);
	le_put32(si + 48, n);
	if (guestmem_write(gm, BOOT_START_INFO_ADDR, si, sizeof(si)) == -1)
		FAIL("start info outside guest memory");

	entry->kind = BOOT_PVH;
	entry->rip = info.entry;
	entry->rbx = BOOT_START_INFO_ADDR;
	entry->rsi = 0;
	return 0;
}

static int
load_bzimage(struct guestmem *gm, const uint8_t *kernel, size_t klen,
    const struct boot_initrd *rd, unsigned nrd, const char *cmdline,
    struct boot_entry *entry, char *err, size_t errlen)
{
	struct bzimage_info bz;
	struct e820_entry e820[BOOT_E820_MAX];
	uint8_t		*bp, *dst;
	uint64_t	 load, rd_addr, rd_size, limit, span;
	unsigned	 i, n;

	if (bzimage_parse(kernel, klen, &bz, err, errlen) == -1)
		return -1;
	load = bz.pref_address;
	span = bz.init_size > bz.kernel_size ? bz.init_size : bz.kernel_size;
	if ((dst = guestmem_ptr(gm, load, span)) == NULL)
		FAIL("kernel does not fit in guest memory");
	memcpy(dst, kernel + bz.setup_size, bz.kernel_size);

	if ((bp = guestmem_ptr(gm, BOOT_PARAMS_ADDR, BP_SIZE)) == NULL)
		FAIL("boot_params outside guest memory");
	memset(bp, 0, BP_SIZE);
	memcpy(bp + BZ_SETUP_SECTS, kernel + BZ_SETUP_SECTS,
	    bz.hdr_end - BZ_SETUP_SECTS);
	bp[BZ_TYPE_OF_LOADER] = 0xff;
	if (load_cmdline(gm, cmdline, bz.cmdline_size + 1, err, errlen) == -1)
		return -1;
	le_put32(bp + BZ_CMD_LINE_PTR, (uint32_t)BOOT_CMDLINE_ADDR);
	le_put32(bp + BP_EXT_CMD_LINE_PTR, 0);

	limit = bz.initrd_addr_max ? (uint64_t)bz.initrd_addr_max + 1 :
	    0x38000000ULL;
	if (place_initrds(gm, rd, nrd, (load + span + 0xfff) & ~0xfffULL,
	    limit, &rd_addr, &rd_size, err, errlen) == -1)
		return -1;
	le_put32(bp + BZ_RAMDISK_IMAGE, (uint32_t)rd_addr);
	le_put32(bp + BZ_RAMDISK_SIZE, (uint32_t)rd_size);
	le_put32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(rd_addr >> 32));
	le_put32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)(rd_size >> 32));

	n = boot_e820(gm, e820, BOOT_E820_MAX);
	if (n > BP_E820_TABLE_MAX)
		FAIL("too many e820 entries");
	bp[BP_E820_ENTRIES] = (uint8_t)n;
	for (i = 0; i < n; i++) {
		uint8_t *p = bp + BP_E820_TABLE + i * 20;

		le_put64(p, e820[i].addr);
		le_put64(p + 8, e820[i].size);
		le_put32(p + 16, e820[i].type);
	}
	if (write_page_tables(gm) == -1)
		FAIL("page tables outside guest memory");

	entry->kind = BOOT_BZIMAGE;
	entry->rip = load + 0x200;
	entry->rsi = BOOT_PARAMS_ADDR;
	entry->rbx = 0;
	return 0;
}

int
boot_load(struct guestmem *gm, const uint8_t *kernel, size_t klen,
    const struct boot_initrd *rd, unsigned nrd, const char *cmdline,
    struct boot_entry *entry, char *err, size_t errlen)
{
	memset(entry, 0, sizeof(*entry));
	if (guestmem_low_end(gm) < (16ULL << 20))
		FAIL("guest memory too small");
	if (write_gdt(gm) == -1)
		FAIL("GDT outside guest memory");
	if (klen >= SELFMAG && memcmp(kernel, ELFMAG, SELFMAG) == 0)
		return load_pvh(gm, kernel, klen, rd, nrd, cmdline, entry, err,
		    errlen);
	return load_bzimage(gm, kernel, klen, rd, nrd, cmdline, entry, err,
	    errlen);
}
