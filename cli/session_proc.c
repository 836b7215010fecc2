/*
 * session_proc.c: the session's processes, from one table.
 *
 * Each row names a child, what it may say to the parent, which other
 * children it gets a channel to, whether it is a backend (shut down once
 * its users are gone) and whether it shares the host's network.  Spawning,
 * the peer channels, the sandbox check at READY and the shutdown order are
 * all derived from the table.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "session_priv.h"

static struct session_child *
child_by_pid(struct session *s, pid_t pid)
{
	size_t i;

	for (i = 0; i < s->nchildren; i++)
		if (s->children[i].pid == pid)
			return &s->children[i];
	return NULL;
}

size_t
children_alive(const struct session *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->nchildren; i++)
		if (s->children[i].alive)
			n++;
	return n;
}

static void
child_channel_closed(struct imsgev *iev, void *ctx)
{
	struct session_child *c = ctx;

	/* The exit itself is reported by SIGCHLD; just stop listening. */
	imsgev_close(iev);
	c->chan_open = false;
	if (!c->s->stopping)
		log_debug("%s closed its channel", c->label);
}

int
send_child(struct session_child *c, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	if (!c->chan_open) {
		if (fd != -1)
			close(fd);
		errno = EPIPE;
		return -1;
	}
	if (imsgev_compose(&c->iev, type, peerid, fd, data, len) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	return 0;
}

static struct session_child *
spawn_child(struct session *s, const struct session_proc_spec *spec,
    int instance)
{
	struct session_child *c;
	int	 fd;

	if (s->nchildren >= SESSION_MAX_CHILDREN)
		fatalx("too many children");
	c = &s->children[s->nchildren];
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->spec = spec;
	c->id = spec->id;
	c->instance = instance;
	if (spec->spawn == SPAWN_PER_PROXY)
		snprintf(c->label, sizeof(c->label), "%s[%d]",
		    proc_name(spec->id), instance);
	else
		snprintf(c->label, sizeof(c->label), "%s", proc_name(spec->id));
	if ((c->pid = proc_spawn(spec->id, instance, s->log_pipe,
	    spec->db_dir ? s->db_dirfd : -1, NULL, &fd))
	    == -1)
		fatal("spawn %s/%s", proc_libexec_dir(), proc_name(spec->id));
	c->alive = true;
	s->nchildren++;
	imsgev_init(&c->iev, s->loop, fd, IMSG_MAXLEN_DEFAULT + MSG_CONFIG_MAX,
	    c->label, spec->handlers, spec->nhandlers, c);
	c->iev.on_close = child_channel_closed;
	c->chan_open = true;
	log_debug("spawned %s pid %d", c->label, (int)c->pid);
	return c;
}

/*
 * Every row of the table, in its order: one child, or one per proxy, or
 * (a VM session) the vmm.
 */
void
session_spawn_all(struct session *s, int nproxies, bool with_vm)
{
	const struct session_proc_spec *spec;
	struct session_child *c;
	size_t	 i;
	int	 k, n;

	for (i = 0; i < session_nprocs; i++) {
		spec = &session_procs[i];
		n = spec->spawn == SPAWN_PER_PROXY ? nproxies :
		    spec->spawn == SPAWN_WITH_VM ? with_vm :
		    spec->spawn == SPAWN_WITH_WORKSPACE ? s->ws.shared : 1;
		for (k = 0; k < n; k++) {
			c = spawn_child(s, spec, k);
			switch (spec->id) {
			case PROC_CERTD:
				s->certd = c;
				break;
			case PROC_POLICYD:
				s->policyd = c;
				break;
			case PROC_NETPROXY:
				s->proxies[s->nproxies++] = c;
				break;
			case PROC_VMM:
				s->vmm = c;
				break;
			case PROC_FSD:
				s->fsd = c;
				break;
			default:
				fatalx("process table: %s has no place",
				    c->label);
			}
		}
	}
}

/* Give a and b a socketpair to talk over. */
static void
connect_children(struct session_child *a, struct session_child *b)
{
	struct msg_peer_channel pc;
	int	 sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	memset(&pc, 0, sizeof(pc));
	pc.proc = b->id;
	pc.instance = (uint32_t)b->instance;
	if (send_child(a, MSG_PEER_CHANNEL, 0, sp[0], &pc, sizeof(pc)) == -1)
		fatal("send peer channel to %s", a->label);
	pc.proc = a->id;
	pc.instance = (uint32_t)a->instance;
	if (send_child(b, MSG_PEER_CHANNEL, 0, sp[1], &pc, sizeof(pc)) == -1)
		fatal("send peer channel to %s", b->label);
}

/*
 * Peer channels, as the table says: each child gets one to every instance
 * of each of its peers (or to the first only), in the table's order.
 */
void
session_wire_peers(struct session *s)
{
	size_t	 i, j, p;

	for (i = 0; i < s->nchildren; i++) {
		struct session_child *a = &s->children[i];

		for (p = 0; p < a->spec->npeers; p++) {
			const struct session_peer *peer = &a->spec->peers[p];

			for (j = 0; j < s->nchildren; j++) {
				struct session_child *b = &s->children[j];

				if (b->id != peer->id)
					continue;
				connect_children(a, b);
				if (peer->first_only)
					break;
			}
		}
	}
}

/*
 * What READY reports against what the table requires: no capabilities,
 * no_new_privs and the seccomp filter always; an empty network namespace
 * for every child without network wherever namespaces were made (an
 * unprivileged parent without user namespaces makes none: the child says
 * so in its note, and `capsemctl doctor` warns).
 */
bool
child_sandbox_ok(const struct session_child *c, char *why, size_t len)
{
	const struct sandbox_report *r = &c->sandbox;

	if (!r->caps)
		snprintf(why, len, "it holds capabilities");
	else if (!r->nnp)
		snprintf(why, len, "no_new_privs is not set");
	else if (!r->seccomp)
		snprintf(why, len, "no seccomp filter");
	else if (!c->spec->network && r->rootfs && !r->netns)
		snprintf(why, len, "it shares the host's network");
	else
		return true;
	return false;
}

static void
describe_exit(const struct session_child *c, int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "%s (pid %d) exited with status %d",
		    c->label, (int)c->pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "%s (pid %d) killed by signal %d (%s)",
		    c->label, (int)c->pid, WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "%s (pid %d) ended (status 0x%x)",
		    c->label, (int)c->pid, (unsigned)status);
}

void
reap_children(struct session *s)
{
	struct session_child *c;
	char	 what[200];
	pid_t	 pid;
	int	 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((c = child_by_pid(s, pid)) == NULL)
			continue;
		c->alive = false;
		describe_exit(c, status, what, sizeof(what));
		if (c->chan_open) {
			imsgev_close(&c->iev);
			c->chan_open = false;
		}
		if (!s->stopping)
			session_stop(s, 1, "%s", what);
		else if (s->reason_provisional && c->id != PROC_VMM &&
		    WIFSIGNALED(status) && !c->killed_by_grace) {
			snprintf(s->reason, sizeof(s->reason), "%s", what);
			s->exit_code = 1;
			s->reason_provisional = false;
		} else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			log_debug("during shutdown: %s", what);
	}
	if (s->stopping)
		shutdown_children(s);	/* the backends, once alone */
	session_finish_if_done(s);
}

void
grace_expired(void *arg)
{
	struct session *s = arg;
	size_t	 i;

	s->grace_timer = 0;
	for (i = 0; i < s->nchildren; i++) {
		if (s->children[i].alive) {
			log_warnx("%s did not stop; killing it",
			    s->children[i].label);
			s->children[i].killed_by_grace = true;
			kill(s->children[i].pid, SIGKILL);
		}
	}
}

static bool
is_backend(const struct session_child *c)
{
	return c->spec->backend;
}

/*
 * Shut down in order: the vmm and the proxies first, certd and policyd
 * once none of their users is left (so that no proxy reports losing them
 * at a normal end).  The grace timer bounds it all.
 */
void
shutdown_children(struct session *s)
{
	size_t	 i;
	bool	 users = false;

	for (i = 0; i < s->nchildren; i++)
		if (s->children[i].alive && !is_backend(&s->children[i]))
			users = true;
	for (i = 0; i < s->nchildren; i++) {
		struct session_child *c = &s->children[i];

		if (!c->alive || !c->chan_open || c->shutdown_sent ||
		    (is_backend(c) && users))
			continue;
		c->shutdown_sent = true;
		if (send_child(c, MSG_SHUTDOWN, 0, -1, NULL, 0) == -1)
			kill(c->pid, SIGKILL);
	}
}
