/*
 * proc: the process tree of a session.  The parent spawns each child with
 * fork + exec of its own binary (fresh ASLR); the child finds its parent
 * channel on fd PROC_PARENT_FD and nothing else open but 0, 1, 2.
 * Channels between children arrive later as MSG_PEER_CHANNEL with an fd.
 */
#ifndef CAPSEM_PROC_H
#define CAPSEM_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "event.h"
#include "imsg.h"

#define PROC_PARENT_FD	3
#define PROC_DIR_FD	4	/* the one directory a child may reach (policyd's) */
#define PROC_DIR_FD_PATH "/proc/self/fd/4"

enum proc_id {
	PROC_PARENT = 0,
	PROC_CERTD,
	PROC_POLICYD,
	PROC_NETPROXY,
	PROC_VMM,
	PROC_FSD,
	PROC_MAX
};

const char	*proc_name(enum proc_id);	/* "capsem-certd", ... */
const char	*proc_short_name(enum proc_id);	/* "certd", ... */

/*
 * The libexec directory children are run from: $CAPSEM_LIBEXEC_DIR if set
 * (tests run from the build tree), else the compiled-in path.
 */
const char	*proc_libexec_dir(void);

/*
 * Spawn a child: socketpair, fork, in the child dup the channel to fd 3,
 * stdin from /dev/null, stderr_fd (or the parent's stderr if -1) on 1 and
 * 2, dir_fd (unless -1) on PROC_DIR_FD, close everything else,
 * PR_SET_PDEATHSIG(SIGKILL), exec
 * <libexec>/<proc_name(id)> with argv { name, "-I", instance, extra... }.
 * Returns the pid and the parent's end of the channel in *chan_fd.
 */
pid_t	proc_spawn(enum proc_id id, int instance, int stderr_fd, int dir_fd,
	    const char *const extra_argv[], int *chan_fd);

/*
 * A channel bound to an event loop: reads and dispatches messages as they
 * arrive, writes queued messages when the socket is writable.  A closed or
 * failed channel calls on_close (default: fatalx "lost <peer>").
 */
struct imsgev {
	struct imsgbuf	 ibuf;
	struct event_loop *loop;
	const char	*peername;
	const struct imsg_handler *handlers;
	size_t		 nhandlers;
	void		*ctx;
	void		(*on_close)(struct imsgev *, void *ctx);
	uint32_t	 events;
	bool		 closed;
};

void	imsgev_init(struct imsgev *, struct event_loop *, int fd, size_t maxlen,
	    const char *peername, const struct imsg_handler *, size_t nhandlers,
	    void *ctx);
int	imsgev_compose(struct imsgev *, uint32_t type, uint32_t peerid, int fd,
	    const void *data, size_t len);
int	imsgev_compose2(struct imsgev *, uint32_t type, uint32_t peerid, int fd,
	    const void *d1, size_t l1, const void *d2, size_t l2);
void	imsgev_close(struct imsgev *);	/* unregister, close fd, free */

/* Child side: parse "-I instance" etc. Returns the instance number. */
int	proc_child_args(int argc, char *argv[], enum proc_id);

#endif
