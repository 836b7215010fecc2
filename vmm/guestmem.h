/*
 * guestmem: the guest's physical memory as the vmm sees it, and the only
 * way to turn a guest-physical address into a host pointer: every access
 * is bounds-checked against the regions (a range never spans two).
 */
#ifndef CAPSEM_VMM_GUESTMEM_H
#define CAPSEM_VMM_GUESTMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUESTMEM_MAX_REGIONS	2
#define GUESTMEM_LOW_END	0xc0000000ULL	/* RAM below the MMIO hole */
#define GUESTMEM_HIGH_START	0x100000000ULL	/* RAM above 4 GiB */

struct guestmem_region {
	uint64_t	 gpa;		/* guest-physical start */
	uint64_t	 size;
	uint8_t		*host;		/* host mapping */
};

struct guestmem {
	struct guestmem_region region[GUESTMEM_MAX_REGIONS];
	unsigned	 nregions;
	uint64_t	 total;		/* bytes of RAM */
};

/* Map (anonymous, MAP_NORESERVE) mem_bytes of RAM split around the hole. */
int	guestmem_alloc(struct guestmem *, uint64_t mem_bytes);
void	guestmem_free(struct guestmem *);

/* Describe host memory the caller owns (tests, fuzzers): one region at gpa. */
void	guestmem_init_flat(struct guestmem *, uint8_t *host, uint64_t gpa,
	    uint64_t size);

/* Host pointer for [gpa, gpa+len) or NULL if any byte is outside RAM. */
void	*guestmem_ptr(const struct guestmem *, uint64_t gpa, uint64_t len);
bool	 guestmem_ok(const struct guestmem *, uint64_t gpa, uint64_t len);

/* Copy helpers: -1 when out of bounds. */
int	guestmem_read(const struct guestmem *, uint64_t gpa, void *dst, size_t len);
int	guestmem_write(const struct guestmem *, uint64_t gpa, const void *src,
	    size_t len);

/* Last guest-physical byte + 1 of the low region. */
uint64_t guestmem_low_end(const struct guestmem *);

#endif
