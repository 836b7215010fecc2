/*
 * services.c: what every layer of netproxy may call on the process as a
 * whole: messages to certd and policyd, the clock, and the timeouts from
 * the [proxy] settings.  Nothing here calls into another netproxy file.
 */
#include <time.h>

#include "netproxy.h"

uint64_t
np_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint32_t
np_idle_ms(const struct netproxy *np)
{
	return np->settings.idle_timeout_ms ? np->settings.idle_timeout_ms :
	    NP_IDLE_MS;
}

uint32_t
np_connect_ms(const struct netproxy *np)
{
	return np->settings.connect_timeout_ms ?
	    np->settings.connect_timeout_ms : NP_CONNECT_MS;
}

uint32_t
np_handshake_ms(const struct netproxy *np)
{
	return np->settings.handshake_timeout_ms ?
	    np->settings.handshake_timeout_ms : NP_HANDSHAKE_MS;
}

uint32_t
np_head_ms(const struct netproxy *np)
{
	return np->settings.head_timeout_ms ? np->settings.head_timeout_ms :
	    NP_HEAD_MS;
}

int
np_send_certd(struct netproxy *np, uint32_t type, uint32_t peerid,
    const void *data, size_t len)
{
	if (np->certd == NULL)
		return -1;
	return imsgev_compose(np->certd, type, peerid, -1, data, len);
}

int
np_send_policyd(struct netproxy *np, uint32_t type, uint32_t peerid,
    const void *d1, size_t l1, const void *d2, size_t l2)
{
	if (np->policyd == NULL)
		return -1;
	return imsgev_compose2(np->policyd, type, peerid, -1, d1, l1, d2, l2);
}
