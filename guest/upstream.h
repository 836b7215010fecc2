/*
 * upstream: where the guest relay and DNS forwarder send their streams.
 * Written as "vsock:CID:PORT" (in the guest: vsock:2:1443) or "unix:/path"
 * (host-side tests), and as listening addresses "A.B.C.D:PORT".
 */
#ifndef CAPSEM_GUEST_UPSTREAM_H
#define CAPSEM_GUEST_UPSTREAM_H

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vm_sockets.h>

struct upstream {
	union {
		struct sockaddr		sa;
		struct sockaddr_un	sun;
		struct sockaddr_vm	svm;
	} addr;
	socklen_t	 addrlen;
	char		 text[128];	/* as given, for log lines */
};

/* Parse "vsock:CID:PORT" or "unix:/path"; 0 on success, -1 (errmsg set). */
int	upstream_parse(struct upstream *, const char *text, const char **errmsg);

/*
 * Start a non-blocking connect. Returns the socket (connected, or connecting:
 * *inprogress set, wait for writability then check SO_ERROR), or -1.
 */
int	upstream_connect(const struct upstream *, int *inprogress);
/*
 * After upstream_connect() said *inprogress and fd became writable (or
 * hung up): 0 connected, 1 still in progress, -1 failed (errno set).
 */
int	upstream_connect_result(int fd);

/*
 * An event (EV_*) on fd for a session whose upstream socket may still be
 * connecting (*connecting): 1 while the connect is under way (nothing to
 * do yet), 0 once it is done (*connecting cleared; also when it was done
 * before), -1 if it failed (errno set).
 */
int	upstream_connect_event(int upstream, bool *connecting, int fd,
	    uint32_t events);

/* Parse "A.B.C.D:PORT" into an IPv4 socket address; 0 or -1. */
int	inet_addrport_parse(struct sockaddr_in *, const char *text);

/* Strict decimal in [min, max]; 0 or -1. */
int	parse_uint(const char *s, unsigned long min, unsigned long max,
	    unsigned long *out);

#endif
