/*
 * prices: the cost of a model call, from the price table (prices.tsv, data
 * compiled in by prices_gen.py).  Money is counted in picodollars
 * (1e-12 USD), integers: a token costs a whole number of them at every
 * listed price.
 */
#ifndef CAPSEM_PRICES_H
#define CAPSEM_PRICES_H

#include <stdint.h>

#include "msg.h"

struct price_row {
	const char	*prefix;	/* model name prefix; longest match wins */
	uint64_t	 input;		/* picodollars per token */
	uint64_t	 output;
	uint64_t	 cache_read;
	uint64_t	 cache_write;
	const char	*source;	/* where and when the prices were taken */
};

#define PUSD_PER_USD	1000000000000ULL

/* The row for a model ("models/" prefix ignored), or NULL. */
const struct price_row *price_lookup(const char *model);

/*
 * The cost of a call in picodollars, or -1 when its model has no price
 * (or the sum does not fit in int64: 9.2 million dollars).
 */
int64_t	price_cost(const struct msg_model_event *, const char **source);

#endif
