/*
 * guestmem.c: guest RAM mapping and bounds-checked translation.
 */
#include <sys/mman.h>

#include <errno.h>
#include <string.h>

#include "guestmem.h"

int
guestmem_alloc(struct guestmem *gm, uint64_t mem_bytes)
{
	uint64_t	 low, high;
	void		*p;

	memset(gm, 0, sizeof(*gm));
	if (mem_bytes < (16ULL << 20) || mem_bytes > (64ULL << 30)) {
		errno = EINVAL;
		return -1;
	}
	low = mem_bytes < GUESTMEM_LOW_END ? mem_bytes : GUESTMEM_LOW_END;
	high = mem_bytes - low;
	p = mmap(NULL, low, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	/* never MADV_MERGEABLE: page sharing across guests is a side channel */
	gm->region[0] = (struct guestmem_region){ 0, low, p };
	gm->nregions = 1;
	if (high > 0) {
		p = mmap(NULL, high, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			guestmem_free(gm);
			return -1;
		}
		gm->region[1] = (struct guestmem_region){ GUESTMEM_HIGH_START,
		    high, p };
		gm->nregions = 2;
	}
	gm->total = mem_bytes;
	return 0;
}

void
guestmem_free(struct guestmem *gm)
{
	unsigned	 i;

	for (i = 0; i < gm->nregions; i++)
		munmap(gm->region[i].host, gm->region[i].size);
	memset(gm, 0, sizeof(*gm));
}

void
guestmem_init_flat(struct guestmem *gm, uint8_t *host, uint64_t gpa,
    uint64_t size)
{
	memset(gm, 0, sizeof(*gm));
	gm->region[0] = (struct guestmem_region){ gpa, size, host };
	gm->nregions = 1;
	gm->total = size;
}

void *
guestmem_ptr(const struct guestmem *gm, uint64_t gpa, uint64_t len)
{
	unsigned	 i;

	for (i = 0; i < gm->nregions; i++) {
		const struct guestmem_region *r = &gm->region[i];

		if (gpa < r->gpa)
			continue;
		if (gpa - r->gpa > r->size || len > r->size - (gpa - r->gpa))
			continue;
		return r->host + (gpa - r->gpa);
	}
	return NULL;
}

bool
guestmem_ok(const struct guestmem *gm, uint64_t gpa, uint64_t len)
{
	return guestmem_ptr(gm, gpa, len) != NULL;
}

int
guestmem_read(const struct guestmem *gm, uint64_t gpa, void *dst, size_t len)
{
	const void *p = guestmem_ptr(gm, gpa, len);

	if (p == NULL)
		return -1;
	memcpy(dst, p, len);
	return 0;
}

int
guestmem_write(const struct guestmem *gm, uint64_t gpa, const void *src,
    size_t len)
{
	void *p = guestmem_ptr(gm, gpa, len);

	if (p == NULL)
		return -1;
	memcpy(p, src, len);
	return 0;
}

uint64_t
guestmem_low_end(const struct guestmem *gm)
{
	return gm->nregions > 0 ? gm->region[0].gpa + gm->region[0].size : 0;
}
