/*
 * snapfile: the container of a snapshot's state file
 * (~/.capsem/snapshots/<name>/state; guest RAM is the file beside it,
 * ram, mapped on resume).  Issue #15; doc/DESIGN.md §5 has the plan.
 *
 * Layout, little-endian:
 *   header, SNAP_HEADER_SIZE bytes:
 *     0   magic "CAPSEMSS"
 *     8   u32 version (SNAP_VERSION)        12  u32 header size
 *     16  char build[SNAP_BUILD_MAX]: the vmm build that wrote it, NUL-padded
 *     64  char vendor[12]: CPUID 0 (EBX EDX ECX) of the host
 *     76  u32 cpuid_sum: CRC-32C of the CPUID table the guest was given
 *     80  u64 ram_bytes                     88  u32 ram_sum: CRC-32C of ram
 *     92  u32 nsections                     96  u64 bytes of sections
 *     104 zero                              124 u32 CRC-32C of bytes 0-123
 *   then nsections sections, each: u32 type, u32 instance (vCPU, device),
 *   u64 length, u32 CRC-32C of those 16 bytes and the payload, u32 zero;
 *   the payload; zero
 *   bytes to a multiple of 8.  Nothing after the last.
 *
 * The file is read back from the user's disk: untrusted.  snapfile_parse
 * checks everything before anything is used (fuzzed: tests/fuzz/vmm) and
 * refuses with one line: truncated, corrupt, another version, another
 * vmm build, another CPU vendor or CPUID table.
 */
#ifndef CAPSEM_SNAP_SNAPFILE_H
#define CAPSEM_SNAP_SNAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC		"CAPSEMSS"
#define SNAP_VERSION		1
#define SNAP_HEADER_SIZE	128
#define SNAP_SECTION_HEADER	24
#define SNAP_BUILD_MAX		48	/* NUL included */
#define SNAP_VENDOR_LEN		12
#define SNAP_SECTIONS_MAX	4096
#define SNAP_SECTION_MAX	(64u << 20)	/* RAM is not a section */
#define SNAP_WHY_MAX		160

enum snap_section_type {
	SNAP_SEC_VCPU = 1,	/* regs, sregs, FPU/XSAVE, XCRs, MSRs, LAPIC,
				 * events, MP state */
	SNAP_SEC_IRQCHIP,	/* PIC, IOAPIC */
	SNAP_SEC_PIT,
	SNAP_SEC_CLOCK,		/* kvmclock */
	SNAP_SEC_DEVICE,	/* one virtio device: features, queues, config */
	SNAP_SEC_CONTROL,	/* the control stream's state */
	SNAP_SEC_FSD,		/* capsem-fsd's inodes, by relative path */
	SNAP_SEC_TYPE_MAX = SNAP_SEC_FSD
};

/* What a state must have been written with to be resumed here. */
struct snap_identity {
	char		 build[SNAP_BUILD_MAX];	/* NUL-terminated */
	char		 vendor[SNAP_VENDOR_LEN];	/* not terminated */
	uint32_t	 cpuid_sum;
};

struct snap_section {
	uint32_t	 type;
	uint32_t	 instance;
	const uint8_t	*data;
	size_t		 len;
};

/* A parsed state: views into the caller's buffer, which must outlive it. */
struct snapfile {
	struct snap_identity id;
	uint64_t	 ram_bytes;
	uint32_t	 ram_sum;
	uint32_t	 nsections;
	const uint8_t	*sections;	/* after the header */
	size_t		 sections_len;
};

/*
 * Check buf[0..len) whole against here (the running vmm's identity):
 * 0 with *sf filled, or -1 with one line in why (no trailing newline).
 */
int	snapfile_parse(const void *buf, size_t len,
	    const struct snap_identity *here, struct snapfile *sf, char *why,
	    size_t whylen);

/*
 * The sections of a parsed state in file order: *cursor starts at 0.
 * 1 with *sec set, 0 after the last.
 */
int	snapfile_next(const struct snapfile *, size_t *cursor,
	    struct snap_section *sec);

/* The section of that type and instance: 1 found, 0 not there. */
int	snapfile_find(const struct snapfile *, uint32_t type,
	    uint32_t instance, struct snap_section *sec);

/* The RAM file against the header: 0, or -1 with why. */
int	snapfile_ram_check(const struct snapfile *, const void *ram,
	    size_t len, char *why, size_t whylen);

/* Writing: sections appended to a buffer, the header put last. */
struct snapfile_writer {
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
	uint32_t	 nsections;
	bool		 failed;	/* out of memory or over a bound */
};

void	snapw_init(struct snapfile_writer *);
void	snapw_section(struct snapfile_writer *, uint32_t type,
	    uint32_t instance, const void *data, size_t len);
/*
 * Put the header and hand the bytes over: 0 with *out (malloc'd, the
 * caller frees) and *outlen, or -1 (a section failed).  The writer is
 * empty after either.
 */
int	snapw_finish(struct snapfile_writer *, const struct snap_identity *,
	    uint64_t ram_bytes, uint32_t ram_sum, uint8_t **out,
	    size_t *outlen);
void	snapw_free(struct snapfile_writer *);

#endif
