/*
 * prices.c: price lookup and cost.  See prices.h.
 */
#include <stdbool.h>
#include <string.h>

#include "prices.h"
#include "prices_table.h"

const struct price_row *
price_lookup(const char *model)
{
	const struct price_row *best = NULL;
	size_t	 i, n, bestlen = 0;

	if (strncmp(model, "models/", 7) == 0)
		model += 7;
	for (i = 0; i < sizeof(price_rows) / sizeof(price_rows[0]); i++) {
		n = strlen(price_rows[i].prefix);
		/* a prefix ends the name or is followed by a separator */
		if (strncmp(model, price_rows[i].prefix, n) != 0 ||
		    (model[n] != '\0' && model[n] != '-' && model[n] != '@' &&
		    model[n] != ':'))
			continue;
		if (n > bestlen) {
			best = &price_rows[i];
			bestlen = n;
		}
	}
	return best;
}

static bool
add_product(uint64_t *sum, uint64_t tokens, uint64_t rate)
{
	uint64_t p;

	return !__builtin_mul_overflow(tokens, rate, &p) &&
	    !__builtin_add_overflow(*sum, p, sum);
}

int64_t
price_cost(const struct msg_model_event *m, const char **source)
{
	const struct price_row *row;
	uint64_t sum = 0;

	*source = NULL;
	if (m->model[0] == '\0' || (row = price_lookup(m->model)) == NULL)
		return -1;
	if (!add_product(&sum, m->input_tokens, row->input) ||
	    !add_product(&sum, m->output_tokens, row->output) ||
	    !add_product(&sum, m->cache_read_tokens, row->cache_read) ||
	    !add_product(&sum, m->cache_write_tokens, row->cache_write) ||
	    sum > (uint64_t)INT64_MAX)
		return -1;
	*source = row->source;
	return (int64_t)sum;
}
