/*
 * child.c: the life every child shares: arguments, sandbox, the parent
 * channel with HELLO/READY, STATUS, VERBOSE, PEER_CHANNEL and SHUTDOWN.
 */
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "log.h"

static void
child_hello(void *ctx, struct imsg *imsg)
{
	struct child	*c = ctx;
	struct msg_hello hello;
	struct msg_ready ready;

	memcpy(&hello, imsg->data, sizeof(hello));
	if (!imsg_str_ok(hello.session_id, sizeof(hello.session_id)))
		fatalx("HELLO: bad session id");
	log_setverbose(hello.verbose);
	memcpy(c->session_id, hello.session_id, sizeof(c->session_id));
	if (c->def->on_hello != NULL)
		c->def->on_hello(c);
	memset(&ready, 0, sizeof(ready));
	ready.sandbox = c->sandbox;
	child_send_parent(c, MSG_READY, 0, -1, &ready, sizeof(ready));
	log_debug("ready in session %s", c->session_id);
}

static void
child_status(void *ctx, struct imsg *imsg)
{
	struct child	*c = ctx;
	struct msg_status st;

	(void)imsg;
	memset(&st, 0, sizeof(st));
	st.proc = c->id;
	st.instance = (uint32_t)c->instance;
	st.pid = getpid();
	st.sandbox = c->sandbox;
	if (c->def->on_status != NULL)
		c->def->on_status(c, &st);
	st.detail[sizeof(st.detail) - 1] = '\0';
	child_send_parent(c, MSG_STATUS_RESPONSE, imsg->hdr.peerid, -1, &st,
	    sizeof(st));
}

static void
child_verbose(void *ctx, struct imsg *imsg)
{
	struct msg_verbose v;

	(void)ctx;
	memcpy(&v, imsg->data, sizeof(v));
	log_setverbose(v.verbose);
}

static void
child_shutdown(void *ctx, struct imsg *imsg)
{
	struct child	*c = ctx;

	(void)imsg;
	log_debug("shutdown");
	if (c->def->on_shutdown != NULL)
		c->def->on_shutdown(c);
	imsgbuf_flush(&c->parent.ibuf);
	exit(0);
}

static void
child_peer_channel(void *ctx, struct imsg *imsg)
{
	struct child	*c = ctx;
	struct msg_peer_channel pc;
	int		 fd = imsg->fd;

	memcpy(&pc, imsg->data, sizeof(pc));
	if (pc.proc == PROC_PARENT || pc.proc >= PROC_MAX ||
	    pc.proc == (uint32_t)c->id)
		fatalx("PEER_CHANNEL: bad process %u", pc.proc);
	if (c->def->on_peer_channel == NULL)
		fatalx("PEER_CHANNEL: %s takes no peers", proc_name(c->id));
	imsg->fd = -1;		/* ownership passes to the process */
	c->def->on_peer_channel(c, (enum proc_id)pc.proc, pc.instance, fd);
}

static const struct imsg_handler child_common_handlers[] = {
	{ MSG_HELLO, sizeof(struct msg_hello), sizeof(struct msg_hello),
	    IMSG_FD_NONE, child_hello },
	{ MSG_STATUS_REQUEST, 0, 0, IMSG_FD_NONE, child_status },
	{ MSG_VERBOSE, sizeof(struct msg_verbose), sizeof(struct msg_verbose),
	    IMSG_FD_NONE, child_verbose },
	{ MSG_SHUTDOWN, 0, 0, IMSG_FD_NONE, child_shutdown },
	{ MSG_PEER_CHANNEL, sizeof(struct msg_peer_channel),
	    sizeof(struct msg_peer_channel), IMSG_FD_REQUIRED,
	    child_peer_channel },
};
#define NCOMMON (sizeof(child_common_handlers) / sizeof(child_common_handlers[0]))

int
child_send_parent(struct child *c, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	if (imsgev_compose(&c->parent, type, peerid, fd, data, len) == -1)
		fatal("send to parent");
	return 0;
}

void
child_run(const struct child_def *def, void *ctx, int argc, char *argv[])
{
	struct child	 c;
	struct imsg_handler *table;
	struct sigaction sa;
	struct stat	 sb;
	size_t		 n;

	log_init(1, 0);
	log_procinit(proc_short_name(def->id));
	memset(&c, 0, sizeof(c));
	c.def = def;
	c.id = def->id;
	c.ctx = ctx;
	c.instance = proc_child_args(argc, argv, def->id);

	if (fstat(PROC_PARENT_FD, &sb) == -1 || !S_ISSOCK(sb.st_mode))
		fatalx("%s is started by capsemctl, not by hand",
		    proc_name(def->id));

	/* The parent decides when the session ends; the terminal does not. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGHUP, &sa, NULL) == -1 ||
	    sigaction(SIGQUIT, &sa, NULL) == -1)
		fatal("sigaction");

	n = NCOMMON + def->nparent_handlers;
	if ((table = calloc(n, sizeof(*table))) == NULL)
		fatal("calloc");
	memcpy(table, child_common_handlers, sizeof(child_common_handlers));
	if (def->nparent_handlers > 0)
		memcpy(table + NCOMMON, def->parent_handlers,
		    def->nparent_handlers * sizeof(*table));

	if ((c.loop = event_loop_new()) == NULL)
		fatal("event_loop_new");
	if (def->pre_sandbox != NULL)
		def->pre_sandbox(&c);

	sandbox_enter(def->sandbox, &c.sandbox);

	imsgev_init(&c.parent, c.loop, PROC_PARENT_FD,
	    def->parent_maxlen ? def->parent_maxlen : IMSG_MAXLEN_DEFAULT,
	    "parent", table, n, &c);
	if (event_loop_run(c.loop) == -1)
		fatal("event loop");
	exit(0);
}
