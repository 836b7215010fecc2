/*
 * netproxy_peers.c: the table of netproxy channels a serving child keeps.
 * See netproxy_peers.h.
 */
#include <stdlib.h>

#include "log.h"
#include "netproxy_peers.h"

static void
netproxy_peer_closed(struct imsgev *iev, void *ctx)
{
	struct netproxy_peer *peer = ctx;

	/* The parent sees netproxy die and ends the session; just let go. */
	log_info("netproxy %u closed its channel", peer->instance);
	peer->table->slots[peer->slot] = NULL;
	imsgev_close(iev);
	free(peer);
}

struct netproxy_peer *
netproxy_peers_add(struct netproxy_peers *table, struct event_loop *loop,
    enum proc_id server, enum proc_id peer_id, uint32_t instance, int fd,
    size_t maxlen, const struct imsg_handler *handlers, size_t nhandlers,
    void *ctx)
{
	struct netproxy_peer *peer;
	size_t		 slot;

	if (peer_id != PROC_NETPROXY)
		fatalx("channel to %s: %s serves netproxy only",
		    proc_name(peer_id), proc_short_name(server));
	for (slot = 0; slot < NETPROXY_PEERS_MAX; slot++)
		if (table->slots[slot] == NULL)
			break;
	if (slot == NETPROXY_PEERS_MAX)
		fatalx("more than %d netproxy channels", NETPROXY_PEERS_MAX);
	if ((peer = calloc(1, sizeof(*peer))) == NULL)
		fatal("calloc");
	peer->table = table;
	peer->ctx = ctx;
	peer->instance = instance;
	peer->slot = slot;
	imsgev_init(&peer->iev, loop, fd, maxlen, "netproxy", handlers,
	    nhandlers, peer);
	peer->iev.on_close = netproxy_peer_closed;
	table->slots[slot] = peer;
	return peer;
}

size_t
netproxy_peers_count(const struct netproxy_peers *table)
{
	size_t	 i, n = 0;

	for (i = 0; i < NETPROXY_PEERS_MAX; i++)
		if (table->slots[i] != NULL)
			n++;
	return n;
}

void
netproxy_peers_close_all(struct netproxy_peers *table)
{
	size_t	 i;

	for (i = 0; i < NETPROXY_PEERS_MAX; i++) {
		if (table->slots[i] == NULL)
			continue;
		imsgbuf_flush(&table->slots[i]->iev.ibuf);
		imsgev_close(&table->slots[i]->iev);
		free(table->slots[i]);
		table->slots[i] = NULL;
	}
}
