/*
 * netproxy_peers: the channels a serving child (certd, policyd) gets from
 * netproxy instances through MSG_PEER_CHANNEL, in a table of fixed size.
 * Each channel is one imsgev whose handlers get the struct netproxy_peer
 * as ctx.  A channel netproxy closes leaves the table: the parent sees
 * netproxy die and ends the session, so the server just lets go.
 */
#ifndef CAPSEM_NETPROXY_PEERS_H
#define CAPSEM_NETPROXY_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "imsg.h"
#include "proc.h"

#define NETPROXY_PEERS_MAX	16	/* netproxy channels at once */

struct netproxy_peers;

struct netproxy_peer {
	struct imsgev	 iev;
	struct netproxy_peers *table;
	void		*ctx;		/* the serving process's main struct */
	uint32_t	 instance;	/* netproxy instance number */
	size_t		 slot;
};

struct netproxy_peers {
	struct netproxy_peer *slots[NETPROXY_PEERS_MAX];
};

/*
 * The channel fd from process peer_id, instance, arrived at server:
 * take it into a free slot with handlers and messages up to maxlen.
 * Fatal if peer_id is not netproxy or every slot is taken.
 */
struct netproxy_peer *netproxy_peers_add(struct netproxy_peers *,
	    struct event_loop *, enum proc_id server, enum proc_id peer_id,
	    uint32_t instance, int fd, size_t maxlen,
	    const struct imsg_handler *, size_t nhandlers, void *ctx);

/* How many channels are open. */
size_t	netproxy_peers_count(const struct netproxy_peers *);

/* Flush, close and free every channel (at shutdown). */
void	netproxy_peers_close_all(struct netproxy_peers *);

#endif
