/*
 * cache: a hash table of minted leaves with an LRU list through it.
 */
#include <stdlib.h>
#include <string.h>

#include "cache.h"

struct leaf_cache {
	struct leaf_cache_entry **buckets;
	size_t		 nbuckets;	/* a power of two */
	size_t		 count;
	size_t		 max_entries;
	uint64_t	 seed;
	struct leaf_cache_entry *newest, *oldest;
};

static uint64_t
name_hash(uint64_t seed, const uint8_t *name, size_t len)
{
	uint64_t h = seed ^ 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= name[i];
		h *= 0x100000001b3ULL;
	}
	/* final avalanche (splitmix64 finaliser) */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

struct leaf_cache *
leaf_cache_new(size_t max_entries, uint64_t seed)
{
	struct leaf_cache *cache;
	size_t nbuckets = 16;

	if (max_entries == 0 || max_entries > (1u << 24))
		return NULL;
	while (nbuckets < max_entries * 2)
		nbuckets *= 2;
	if ((cache = calloc(1, sizeof(*cache))) == NULL)
		return NULL;
	if ((cache->buckets = calloc(nbuckets, sizeof(*cache->buckets))) == NULL) {
		free(cache);
		return NULL;
	}
	cache->nbuckets = nbuckets;
	cache->max_entries = max_entries;
	cache->seed = seed;
	return cache;
}

void
leaf_cache_free(struct leaf_cache *cache)
{
	struct leaf_cache_entry *e, *next;

	if (cache == NULL)
		return;
	for (e = cache->newest; e != NULL; e = next) {
		next = e->next;
		free(e->der);
		free(e);
	}
	free(cache->buckets);
	free(cache);
}

static void
lru_unlink(struct leaf_cache *cache, struct leaf_cache_entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		cache->newest = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		cache->oldest = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push_newest(struct leaf_cache *cache, struct leaf_cache_entry *e)
{
	e->prev = NULL;
	e->next = cache->newest;
	if (cache->newest != NULL)
		cache->newest->prev = e;
	cache->newest = e;
	if (cache->oldest == NULL)
		cache->oldest = e;
}

static void
hash_unlink(struct leaf_cache *cache, struct leaf_cache_entry *e)
{
	struct leaf_cache_entry **pp;

	pp = &cache->buckets[e->hash & (cache->nbuckets - 1)];
	while (*pp != NULL && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp == e)
		*pp = e->hnext;
	e->hnext = NULL;
}

static void
entry_remove(struct leaf_cache *cache, struct leaf_cache_entry *e)
{
	hash_unlink(cache, e);
	lru_unlink(cache, e);
	free(e->der);
	free(e);
	cache->count--;
}

struct leaf_cache_entry *
leaf_cache_get(struct leaf_cache *cache, const uint8_t *name, size_t len)
{
	struct leaf_cache_entry *e;
	uint64_t h;

	if (len > CA_NAME_MAX)
		return NULL;
	h = name_hash(cache->seed, name, len);
	for (e = cache->buckets[h & (cache->nbuckets - 1)]; e != NULL;
	    e = e->hnext) {
		if (e->hash == h && e->name_len == len &&
		    memcmp(e->name, name, len) == 0) {
			lru_unlink(cache, e);
			lru_push_newest(cache, e);
			return e;
		}
	}
	return NULL;
}

struct leaf_cache_entry *
leaf_cache_put(struct leaf_cache *cache, const uint8_t *name, size_t len,
    const uint8_t *der, size_t der_len, int64_t not_after)
{
	struct leaf_cache_entry *e, **bucket;
	uint8_t *copy;

	if (len > CA_NAME_MAX || der_len == 0)
		return NULL;
	if ((copy = malloc(der_len)) == NULL)
		return NULL;
	memcpy(copy, der, der_len);

	if ((e = leaf_cache_get(cache, name, len)) != NULL) {
		free(e->der);
		e->der = copy;
		e->der_len = der_len;
		e->not_after = not_after;
		return e;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		free(copy);
		return NULL;
	}
	if (cache->count >= cache->max_entries && cache->oldest != NULL)
		entry_remove(cache, cache->oldest);

	e->hash = name_hash(cache->seed, name, len);
	memcpy(e->name, name, len);
	e->name_len = len;
	e->der = copy;
	e->der_len = der_len;
	e->not_after = not_after;
	bucket = &cache->buckets[e->hash & (cache->nbuckets - 1)];
	e->hnext = *bucket;
	*bucket = e;
	lru_push_newest(cache, e);
	cache->count++;
	return e;
}

size_t
leaf_cache_count(const struct leaf_cache *cache)
{
	return cache->count;
}
