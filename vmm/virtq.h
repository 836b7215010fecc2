/*
 * virtq: split virtqueues (virtio 1.x) with strict validation of every
 * descriptor chain the guest offers: indices in range, chain length
 * bounded (so no loops), every buffer inside guest RAM, device-readable
 * buffers before device-writable ones, no indirect descriptors (not
 * negotiated).  A violation is reported with a reason; the device then
 * marks itself NEEDS_RESET.  Descriptors are copied once before use.
 */
#ifndef CAPSEM_VMM_VIRTQ_H
#define CAPSEM_VMM_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guestmem.h"

#define VIRTQ_MAX_SIZE		256	/* QueueNumMax we offer */
#define VIRTQ_MAX_CHAIN		130	/* descriptors in one chain */

#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4

struct virtq {
	uint16_t	 num;		/* 0 until the driver sets it */
	bool		 ready;
	uint64_t	 desc_gpa;
	uint64_t	 avail_gpa;
	uint64_t	 used_gpa;
	uint16_t	 last_avail;	/* next avail entry we consume */
	uint16_t	 used_idx;	/* next used entry we fill */
};

struct virtq_buf {
	uint64_t	 gpa;
	uint32_t	 len;
	bool		 writable;
};

struct virtq_chain {
	uint16_t	 head;
	unsigned	 n;
	unsigned	 nreadable;	/* buf[0..nreadable) readable, rest writable */
	uint64_t	 readable_bytes;
	uint64_t	 writable_bytes;
	struct virtq_buf buf[VIRTQ_MAX_CHAIN];
};

void	virtq_reset(struct virtq *);

/* Check the rings of a queue the driver made ready: 0 or -1 with *why. */
int	virtq_check_layout(const struct virtq *, const struct guestmem *,
	    const char **why);

/*
 * Take the next available chain.  Returns 1 (chain filled), 0 (nothing
 * available), -1 (violation; *why says what).
 */
int	virtq_pop(struct virtq *, const struct guestmem *, struct virtq_chain *,
	    const char **why);

/* Give back the chain just popped, unused (it is taken again next). */
void	virtq_unpop(struct virtq *);

/* Return a chain to the driver with written bytes. 0 or -1 (bad rings). */
int	virtq_push(struct virtq *, const struct guestmem *, uint16_t head,
	    uint32_t written);

/* Is at least one chain available? */
bool	virtq_has_avail(const struct virtq *, const struct guestmem *);

/*
 * Copy between a chain's readable part (read) or writable part (write)
 * at a byte offset into that part.  Returns bytes copied (may be short at
 * the end of the part).
 */
size_t	virtq_chain_read(const struct guestmem *, const struct virtq_chain *,
	    uint64_t off, void *dst, size_t len);
size_t	virtq_chain_write(const struct guestmem *, const struct virtq_chain *,
	    uint64_t off, const void *src, size_t len);

#endif
