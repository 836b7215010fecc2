/*
 * cache: minted leaves by name, bounded, least recently used out first.
 */
#ifndef CAPSEM_CERTD_CACHE_H
#define CAPSEM_CERTD_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "ca.h"

struct leaf_cache_entry {
	struct leaf_cache_entry *hnext;		/* hash chain */
	struct leaf_cache_entry *prev, *next;	/* LRU list, head = newest */
	uint64_t	 hash;
	uint8_t		*der;
	size_t		 der_len;
	int64_t		 not_after;
	size_t		 name_len;
	uint8_t		 name[CA_NAME_MAX];
};

struct leaf_cache;

/* seed keys the hash, so a peer cannot pick colliding names. */
struct leaf_cache *leaf_cache_new(size_t max_entries, uint64_t seed);
void	leaf_cache_free(struct leaf_cache *);

/* The entry for name, made the most recently used; NULL if absent. */
struct leaf_cache_entry *leaf_cache_get(struct leaf_cache *,
	    const uint8_t *name, size_t len);

/*
 * Store a copy of der for name (replacing an entry of the same name,
 * evicting the least recently used one when full).  Returns the entry or
 * NULL when out of memory (the cache is unchanged then).
 */
struct leaf_cache_entry *leaf_cache_put(struct leaf_cache *,
	    const uint8_t *name, size_t len, const uint8_t *der, size_t der_len,
	    int64_t not_after);

size_t	leaf_cache_count(const struct leaf_cache *);

#endif
