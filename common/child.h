/*
 * child: what every child process does the same way.  A child's main file
 * fills a struct child_def (name, sandbox spec, its own parent-message
 * handlers, hooks) and calls child_run(); child_run() enters the sandbox
 * before reading anything, then serves the parent channel:
 *   MSG_HELLO -> (on_hello) -> MSG_READY{sandbox report}
 *   MSG_STATUS_REQUEST -> MSG_STATUS_RESPONSE (detail/counters from on_status)
 *   MSG_VERBOSE, MSG_SHUTDOWN (exit 0), MSG_PEER_CHANNEL (-> on_peer_channel)
 * plus the process's own parent handlers.  Losing the parent is fatal.
 */
#ifndef CAPSEM_CHILD_H
#define CAPSEM_CHILD_H

#include "imsg.h"
#include "msg.h"
#include "proc.h"
#include "sandbox.h"

struct child_def;

struct child {
	const struct child_def *def;
	enum proc_id	 id;
	int		 instance;
	struct event_loop *loop;
	struct imsgev	 parent;
	struct sandbox_report sandbox;
	char		 session_id[MSG_SESSION_MAX];
	void		*ctx;		/* the process's own main struct */
};

struct child_def {
	enum proc_id	 id;
	const struct sandbox_spec *sandbox;
	size_t		 parent_maxlen;	/* largest payload from the parent */
	/* extra parent message handlers (fn gets struct child * as ctx) */
	const struct imsg_handler *parent_handlers;
	size_t		 nparent_handlers;
	/* before the sandbox: things that need the filesystem (or nothing) */
	void		(*pre_sandbox)(struct child *);
	/* after HELLO, before READY is sent */
	void		(*on_hello)(struct child *);
	/* a channel to another process arrived: take ownership of fd */
	void		(*on_peer_channel)(struct child *, enum proc_id peer,
			    uint32_t instance, int fd);
	/* fill detail/counters of a status answer */
	void		(*on_status)(struct child *, struct msg_status *);
	/* SHUTDOWN or end: flush and release what needs it */
	void		(*on_shutdown)(struct child *);
};

/* Never returns. */
void	child_run(const struct child_def *, void *ctx, int argc, char *argv[])
	    __attribute__((noreturn));

/* Send to the parent. */
int	child_send_parent(struct child *, uint32_t type, uint32_t peerid, int fd,
	    const void *data, size_t len);

#endif
