/*
 * session.c: the session parent.
 *
 * Life: make the session id and directories, spawn certd, policyd, N
 * netproxy and the vmm (each sandboxes itself before reading a byte), wire
 * the peer channels, HELLO every child and wait for READY, then serve:
 * the children's channels, the control socket, signals.  Any child that
 * dies ends the session: the others get SHUTDOWN, then SIGKILL after a
 * grace period, all are reaped, the control socket is removed, and one
 * line names the child and how it ended.
 */
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "capsem_config.h"
#include "cmd_ca.h"
#include "config.h"
#include "home.h"
#include "hostprobe.h"
#include "log.h"
#include "msg.h"
#include "policy.h"
#include "proc.h"
#include "session.h"
#include "session_record.h"

#define SESSION_MAX_CHILDREN	16
#define SESSION_MAX_CLIENTS	16
#define SESSION_READY_MS	15000	/* children must be READY by then */
#define SESSION_GRACE_MS	3000	/* SHUTDOWN -> SIGKILL */
#define SESSION_MAX_CREDENTIALS	32

struct session;

struct session_child {
	struct session	*s;
	enum proc_id	 id;
	int		 instance;
	pid_t		 pid;
	bool		 alive;		/* not reaped yet */
	bool		 ready;
	bool		 killed_by_grace;
	bool		 shutdown_sent;
	struct imsgev	 iev;
	bool		 chan_open;
	struct sandbox_report sandbox;
	char		 label[48];	/* "capsem-netproxy[1]" */
};

struct ctl_client {
	struct session	*s;
	struct imsgev	 iev;
	bool		 used;
	uint32_t	 status_serial;	/* outstanding status request, or 0 */
	int		 status_pending;
	bool		 close_after_write;
	int		 attach_in;	/* MSG_CTL_ATTACH_IN's fd, or -1 */
};

/* Who holds the guest's console (hvc0). */
enum term_owner {
	TERM_NONE,	/* nobody: output is dropped, the guest runs on */
	TERM_SELF,	/* our stdin/stdout, not a terminal (pipes, tests) */
	TERM_FRONT,	/* our stdin/stdout, a terminal; the front waits */
	TERM_CLIENT,	/* a `capsemctl attach` client's fds */
};

struct session {
	struct session_opts opts;
	char		 id[MSG_SESSION_MAX];
	char		 ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int		 ctl_fd;
	int		 sig_fd;
	int		 log_pipe;	/* detached: children's stderr */
	struct event_loop *loop;
	struct session_child children[SESSION_MAX_CHILDREN];
	size_t		 nchildren;
	struct ctl_client clients[SESSION_MAX_CLIENTS];
	uint32_t	 next_serial;
	time_t		 started;
	bool		 all_ready;
	int		 setup_pending;	/* answers to setup messages still due */
	bool		 policy_loaded;	/* the first policy was accepted */
	bool		 reload_busy;
	int		 reload_client;	/* index in clients[], or -1 */
	struct session_child *policyd;
	struct session_child *proxies[SESSION_MAX_CHILDREN];
	int		 nproxies;
	int		 next_proxy;	/* round robin */
	struct listener {
		struct session	*s;
		int		 fd;
		uint32_t	 port_tag;
	}		 listeners[SESSION_MAX_LISTENERS];
	int		 nlisteners;
	/* SESSION_VM */
	struct vm_files	 vmf;
	struct session_child *vmm;
	bool		 vm_started;
	int		 serial_fd;	/* console.log */
	struct termios	 saved_tio;
	bool		 tio_saved;
	enum term_owner	 term_owner;
	int		 term_in, term_out;
	bool		 term_in_watched;
	bool		 term_in_eof;	/* TERM_SELF: stdin ended, or a file */
	/*
	 * Input goes to the guest only once its console is open (the guest's
	 * READY): Linux's virtio-console frees receive buffers that fill
	 * before its port is listed, and input sent then would be lost, and
	 * with it every later keystroke.  What the console socket has no room
	 * for waits in cin; the terminal is not read meanwhile.
	 */
	bool		 console_open;
	char		 cin[4096];
	size_t		 cin_len;
	/*
	 * Output to the terminal never blocks us (we supervise the session):
	 * a tty or pipe is written through our own non-blocking open of it
	 * (term_wfd; not term_out's description, which the user's shell
	 * shares).  What it cannot take waits in tout and the console is not
	 * read meanwhile, so the guest's writes wait: nothing is lost.
	 */
	int		 term_wfd;	/* term_out or our own open; -1 */
	bool		 term_wfd_own;
	bool		 term_wfd_watched;
	bool		 console_watched;
	bool		 console_gone;	/* read EOF or error */
	char		 tout[16384];
	size_t		 tout_len;
	int		 term_client;	/* TERM_CLIENT: index in clients[] */
	int		 front_fd;	/* to the front process, or -1 */
	bool		 log_to_syslog;	/* children's stderr lines */
	bool		 announced;
	/*
	 * The vmm's EXIT may arrive just before the SIGCHLD of the child whose
	 * death caused it (e.g. "lost the netproxy channel"); a child killed
	 * then is the better reason.
	 */
	bool		 reason_provisional;
	bool		 stopping;
	int		 exit_code;
	char		 reason[384];
	bool		 recorded;	/* session.json written */
	uint64_t	 ready_timer;
	uint64_t	 grace_timer;
};

static void	session_stop(struct session *, int code, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
static void	session_reload(struct session *, int client);
static void	shutdown_children(struct session *);
static void	term_winsize(struct session *);
static void	session_record(struct session *, bool);
static void	term_attach(struct session *, enum term_owner, int in, int out,
		    int client);
/* Why a terminal is let go. */
enum term_why {
	TERM_USER,	/* Ctrl-]: tell its owner */
	TERM_GONE,	/* its owner or the terminal went away */
	TERM_END,	/* the session ends: the terminal stays ours to the end */
};
static void	term_detach(struct session *, enum term_why);
static void	term_input_update(struct session *);
static void	ctl_send(struct ctl_client *, uint32_t type, const void *,
		    size_t);
static int	send_policy(struct session *, char *err, size_t errlen);
static int	send_child(struct session_child *, uint32_t type,
		    uint32_t peerid, int fd, const void *data, size_t len);

static int
mkdir_private(const char *path)
{
	struct stat sb;

	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	if (lstat(path, &sb) == -1)
		return -1;
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid()) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int
session_runtime_dir(char *buf, size_t len, bool create)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char	 home[PATH_MAX];
	int	 n;

	if (xdg != NULL && xdg[0] == '/' && access(xdg, W_OK) == 0)
		n = snprintf(buf, len, "%s/capsem", xdg);
	else {
		if (capsem_home(home, sizeof(home)) == -1)
			return -1;
		if (create && mkdir_private(home) == -1)
			return -1;
		n = snprintf(buf, len, "%s/sessions", home);
	}
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (create && mkdir_private(buf) == -1)
		return -1;
	return 0;
}

/* Does a live session answer on the control socket of id? */
static bool
session_name_live(const char *id)
{
	struct sockaddr_un sun;
	char	 dir[PATH_MAX];
	int	 fd, n;
	bool	 live;

	if (session_runtime_dir(dir, sizeof(dir), false) == -1)
		return false;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", dir, id);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path))
		return false;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return false;
	live = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return live;
}

static struct session_child *
child_by_pid(struct session *s, pid_t pid)
{
	size_t i;

	for (i = 0; i < s->nchildren; i++)
		if (s->children[i].pid == pid)
			return &s->children[i];
	return NULL;
}

static size_t
children_alive(const struct session *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->nchildren; i++)
		if (s->children[i].alive)
			n++;
	return n;
}

/* Parent <-> child dispatch */

/* Announce the session once every child is READY and set up. */
static void
session_check_ready(struct session *s)
{
	if (s->announced || !s->all_ready || s->setup_pending > 0 ||
	    s->stopping)
		return;
	s->announced = true;
	timer_cancel(s->loop, s->ready_timer);
	s->ready_timer = 0;
	/* The guest starts only once policy, CA and proxies are in place. */
	if (s->opts.mode == SESSION_VM && !s->vm_started) {
		if (send_child(s->vmm, MSG_VM_START, 0, -1, NULL, 0) == -1)
			fatal("start the VM");
		s->vm_started = true;
	}
	if (s->opts.on_ready != NULL)
		s->opts.on_ready(s->id, s->opts.on_ready_arg);
	else {
		printf("%s\n", s->id);
		fflush(stdout);
	}
	log_info("session %s: %zu processes ready", s->id, s->nchildren + 1);
}

static void ctl_reload_done(struct session *, bool ok, const char *text);

static void
parent_on_policy_result(void *ctx, struct imsg *imsg)
{
	struct session_child *c = ctx;
	struct session	*s = c->s;
	struct msg_policy_result res;

	memcpy(&res, imsg->data, sizeof(res));
	if (!imsg_str_ok(res.error, sizeof(res.error)))
		fatalx("POLICY_RESULT from %s: bad text", c->label);
	if (!s->policy_loaded) {
		if (!res.ok) {
			/* A config error: exit 2, the message says file:line. */
			session_stop(s, 2, "%s", res.error);
			return;
		}
		s->policy_loaded = true;
		s->setup_pending--;
		session_check_ready(s);
		return;
	}
	if (res.ok)
		log_info("policy reloaded");
	else
		log_warnx("policy not reloaded, the old one stays: %s",
		    res.error);
	ctl_reload_done(s, res.ok, res.ok ? "policy reloaded" : res.error);
}

/*
 * KVM itself failed the guest: say how this host looks to the probe that
 * let the session start, so the next unknown host explains itself.
 */
static void
log_kvm_host_view(void)
{
	struct host_probe hp;
	char	 found[256], verdict[512];

	host_probe(NULL, &hp);
	host_probe_found(&hp, found, sizeof(found));
	host_probe_verdict(&hp, verdict, sizeof(verdict));
	log_warnx("KVM failed the guest; the host as probed: %s; %s "
	    "(`capsemctl doctor` checks the rest)", found, verdict);
}

static void
parent_on_vm_event(void *ctx, struct imsg *imsg)
{
	struct session_child *c = ctx;
	struct msg_vm_event ev;

	memcpy(&ev, imsg->data, sizeof(ev));
	if (!imsg_str_ok(ev.reason, sizeof(ev.reason)))
		fatalx("VM_EVENT from %s: bad text", c->label);
	switch (ev.kind) {
	case VM_EVENT_READY:
		log_debug("guest ready");
		c->s->console_open = true;
		term_input_update(c->s);
		term_winsize(c->s);	/* again, now that hvc0 is open */
		break;
	case VM_EVENT_EXIT:
		if (ev.kvm_error)
			log_kvm_host_view();
		/* The session's status is the guest command's. */
		if (!c->s->stopping)
			c->s->reason_provisional = true;
		session_stop(c->s, ev.status < 0 || ev.status > 255 ? 1 :
		    ev.status, "guest ended: %s", ev.reason[0] ? ev.reason :
		    "no reason given");
		break;
	default:
		fatalx("VM_EVENT from %s: unknown kind %u", c->label, ev.kind);
	}
}

static void
parent_on_ca_loaded(void *ctx, struct imsg *imsg)
{
	struct session_child *c = ctx;
	char	 err[512];

	if (imsg->len > 0) {
		if (!imsg_bytes_are_text(imsg->data, imsg->len))
			fatalx("CA_LOADED from %s: bad text", c->label);
		snprintf(err, sizeof(err), "%.*s", (int)imsg->len,
		    (const char *)imsg->data);
		session_stop(c->s, 1, "certd could not load the CA: %s", err);
		return;
	}
	c->s->setup_pending--;
	session_check_ready(c->s);
}

static void
parent_on_ready(void *ctx, struct imsg *imsg)
{
	struct session_child *c = ctx;
	struct session	*s = c->s;
	struct msg_ready ready;
	char		 sb[256];
	size_t		 i;

	memcpy(&ready, imsg->data, sizeof(ready));
	if (!imsg_str_ok(ready.sandbox.note, sizeof(ready.sandbox.note)))
		fatalx("READY from %s: bad note", c->label);
	if (c->ready)
		fatalx("second READY from %s", c->label);
	c->sandbox = ready.sandbox;
	c->ready = true;
	sandbox_report_string(&c->sandbox, sb, sizeof(sb));
	log_debug("%s (pid %d) ready: %s", c->label, (int)c->pid, sb);

	for (i = 0; i < s->nchildren; i++)
		if (!s->children[i].ready)
			return;
	s->all_ready = true;
	session_check_ready(s);
}

static void ctl_on_child_status(struct session *, struct session_child *,
    struct imsg *);

static void
parent_on_status(void *ctx, struct imsg *imsg)
{
	struct session_child *c = ctx;

	ctl_on_child_status(c->s, c, imsg);
}

#define PARENT_COMMON_HANDLERS						\
	{ MSG_READY, sizeof(struct msg_ready), sizeof(struct msg_ready),	\
	    IMSG_FD_NONE, parent_on_ready },					\
	{ MSG_STATUS_RESPONSE, sizeof(struct msg_status),			\
	    sizeof(struct msg_status), IMSG_FD_NONE, parent_on_status }

/* One table per kind of child: what each may say to the parent. */
static const struct imsg_handler parent_certd_handlers[] = {
	PARENT_COMMON_HANDLERS,
	{ MSG_CA_LOADED, 0, 512, IMSG_FD_NONE, parent_on_ca_loaded },
};
static const struct imsg_handler parent_policyd_handlers[] = {
	PARENT_COMMON_HANDLERS,
	{ MSG_POLICY_RESULT, sizeof(struct msg_policy_result),
	    sizeof(struct msg_policy_result), IMSG_FD_NONE,
	    parent_on_policy_result },
};
static const struct imsg_handler parent_netproxy_handlers[] = {
	PARENT_COMMON_HANDLERS,
};
static const struct imsg_handler parent_vmm_handlers[] = {
	PARENT_COMMON_HANDLERS,
	{ MSG_VM_EVENT, sizeof(struct msg_vm_event),
	    sizeof(struct msg_vm_event), IMSG_FD_NONE, parent_on_vm_event },
};
#define TABLE(t) t, sizeof(t) / sizeof(t[0])

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

static int
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
spawn_child(struct session *s, enum proc_id id, int instance)
{
	struct session_child *c;
	int	 fd, errfd = s->log_pipe;

	if (s->nchildren >= SESSION_MAX_CHILDREN)
		fatalx("too many children");
	c = &s->children[s->nchildren];
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->id = id;
	c->instance = instance;
	if (id == PROC_NETPROXY)
		snprintf(c->label, sizeof(c->label), "%s[%d]", proc_name(id),
		    instance);
	else
		snprintf(c->label, sizeof(c->label), "%s", proc_name(id));
	if ((c->pid = proc_spawn(id, instance, errfd, NULL, &fd)) == -1)
		fatal("spawn %s/%s", proc_libexec_dir(), proc_name(id));
	c->alive = true;
	s->nchildren++;
	switch (id) {
	case PROC_CERTD:
		imsgev_init(&c->iev, s->loop, fd, IMSG_MAXLEN_DEFAULT +
		    MSG_CONFIG_MAX, c->label, TABLE(parent_certd_handlers), c);
		break;
	case PROC_POLICYD:
		imsgev_init(&c->iev, s->loop, fd, IMSG_MAXLEN_DEFAULT +
		    MSG_CONFIG_MAX, c->label, TABLE(parent_policyd_handlers), c);
		break;
	case PROC_NETPROXY:
		imsgev_init(&c->iev, s->loop, fd, IMSG_MAXLEN_DEFAULT +
		    MSG_CONFIG_MAX, c->label, TABLE(parent_netproxy_handlers), c);
		break;
	default:
		imsgev_init(&c->iev, s->loop, fd, IMSG_MAXLEN_DEFAULT +
		    MSG_CONFIG_MAX, c->label, TABLE(parent_vmm_handlers), c);
		break;
	}
	c->iev.on_close = child_channel_closed;
	c->chan_open = true;
	log_debug("spawned %s pid %d", c->label, (int)c->pid);
	return c;
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

static void
session_finish_if_done(struct session *s)
{
	if (s->stopping && children_alive(s) == 0)
		event_loop_exit(s->loop);
}

static void
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

static void
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

static void
ready_expired(void *arg)
{
	struct session *s = arg;
	size_t	 i;

	s->ready_timer = 0;
	for (i = 0; i < s->nchildren; i++)
		if (!s->children[i].ready)
			break;
	session_stop(s, 1, "%s did not become ready",
	    i < s->nchildren ? s->children[i].label : "a child");
}

static bool
is_backend(const struct session_child *c)
{
	return c->id == PROC_CERTD || c->id == PROC_POLICYD;
}

/*
 * Shut down in order: the vmm and the proxies first, certd and policyd
 * once none of their users is left (so that no proxy reports losing them
 * at a normal end).  The grace timer bounds it all.
 */
static void
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

static void
session_stop(struct session *s, int code, const char *fmt, ...)
{
	va_list	 ap;

	if (s->stopping)
		return;
	s->stopping = true;
	s->exit_code = code;
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
	if (s->recorded)
		session_record(s, true);	/* again, final, at the end */
	if (s->ctl_fd != -1) {
		event_del(s->loop, s->ctl_fd);
		close(s->ctl_fd);
		s->ctl_fd = -1;
		unlink(s->ctl_path);
	}
	shutdown_children(s);
	s->grace_timer = timer_add(s->loop, SESSION_GRACE_MS, grace_expired, s);
	session_finish_if_done(s);
}

static void
on_signal(int fd, uint32_t events, void *arg)
{
	struct session *s = arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap_children(s);
			break;
		case SIGINT:
		case SIGTERM:
			session_stop(s, 0, "stopped by signal %s",
			    strsignal((int)si.ssi_signo));
			break;
		case SIGHUP:
			session_reload(s, -1);
			break;
		default:
			break;
		}
	}
}

/*
 * Children's stderr when we are not simply in the foreground: to our
 * stderr while a terminal is ours (a front waits), to syslog once detached.
 */
static void
on_log_pipe(int fd, uint32_t events, void *arg)
{
	struct session *s = arg;
	char	 buf[4096];
	ssize_t	 n;

	(void)events;
	if ((n = read(fd, buf, sizeof(buf) - 1)) <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			event_del(s->loop, fd);
			close(fd);
		}
		return;
	}
	buf[n] = '\0';
	for (char *line = strtok(buf, "\n"); line != NULL;
	    line = strtok(NULL, "\n")) {
		if (s->log_to_syslog)
			syslog(LOG_INFO, "%s", line);
		else
			dprintf(STDERR_FILENO, "%s\n", line);
	}
}

/* Control socket (capsemctl status/stop/list) */

static void
ctl_client_closed(struct imsgev *iev, void *ctx)
{
	struct ctl_client *cl = ctx;
	struct session	*s = cl->s;

	imsgev_close(iev);
	cl->used = false;
	if (cl->attach_in != -1) {
		close(cl->attach_in);
		cl->attach_in = -1;
	}
	if (s->term_owner == TERM_CLIENT &&
	    &s->clients[s->term_client] == cl)
		term_detach(s, TERM_GONE);
}

static void
ctl_send(struct ctl_client *cl, uint32_t type, const void *data, size_t len)
{
	if (imsgev_compose(&cl->iev, type, 0, -1, data, len) == -1) {
		log_warn("control client");
		imsgev_close(&cl->iev);
		cl->used = false;
	}
}

/* What list shows of a session: agent, "shell", the command, the mode. */
static void
session_what(const struct session *s, char *buf, size_t len)
{
	size_t	 off = 0;
	int	 i, n;

	buf[0] = '\0';
	if (s->opts.what != NULL) {
		snprintf(buf, len, "%s", s->opts.what);
		return;
	}
	if (s->opts.mode != SESSION_VM || s->opts.vm.argc == 0) {
		snprintf(buf, len, "%s", s->opts.mode == SESSION_PROXY ?
		    "proxy" : s->opts.agent != NULL ? s->opts.agent :
		    s->opts.mode == SESSION_VM ? "vm" : "host-only");
		return;
	}
	for (i = 0; i < s->opts.vm.argc && off + 1 < len; i++) {
		n = snprintf(buf + off, len - off, "%s%s", i ? " " : "",
		    s->opts.vm.argv[i]);
		if (n < 0)
			break;
		off += (size_t)n < len - off ? (size_t)n : len - off - 1;
	}
	for (off = 0; buf[off] != '\0'; off++)
		if ((unsigned char)buf[off] < 0x20)
			buf[off] = ' ';
}

static const char *
session_state(const struct session *s)
{
	if (s->stopping)
		return "ending";
	if (s->opts.mode != SESSION_VM)
		return "running";
	if (!s->console_open)
		return "booting";
	return s->term_owner == TERM_NONE ? "detached" : "attached";
}

/* $CAPSEM_HOME/sessions/<id>/session.json, at the start and at the end. */
static void
session_record(struct session *s, bool ended)
{
	struct session_record r;
	char	 home[PATH_MAX], dir[PATH_MAX];

	memset(&r, 0, sizeof(r));
	if (capsem_home(home, sizeof(home)) == -1 ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/sessions/%s", home, s->id) >=
	    sizeof(dir))
		return;
	snprintf(r.id, sizeof(r.id), "%s", s->id);
	snprintf(r.name, sizeof(r.name), "%s", s->opts.name != NULL ?
	    s->opts.name : "");
	snprintf(r.mode, sizeof(r.mode), "%s", s->opts.mode == SESSION_VM ?
	    "vm" : s->opts.mode == SESSION_PROXY ? "proxy" : "host-only");
	session_what(s, r.what, sizeof(r.what));
	r.pid = getpid();
	r.started = s->started;
	if (ended) {
		r.ended = true;
		r.ended_at = time(NULL);
		r.status = s->exit_code;
		snprintf(r.reason, sizeof(r.reason), "%s", s->reason);
	}
	if (session_record_write(dir, &r) == -1)
		log_warn("%s/%s", dir, SESSION_RECORD_FILE);
}

static void
ctl_info(struct session *s, struct ctl_client *cl)
{
	struct msg_ctl_info info;

	memset(&info, 0, sizeof(info));
	info.parent_pid = getpid();
	info.nchildren = (uint32_t)children_alive(s);
	info.started = s->started;
	snprintf(info.session_id, sizeof(info.session_id), "%s", s->id);
	snprintf(info.mode, sizeof(info.mode), "%s",
	    s->opts.mode == SESSION_VM ? "vm" :
	    s->opts.mode == SESSION_PROXY ? "proxy" : "host-only");
	snprintf(info.name, sizeof(info.name), "%s", s->opts.name != NULL ?
	    s->opts.name : "");
	session_what(s, info.what, sizeof(info.what));
	snprintf(info.state, sizeof(info.state), "%s", session_state(s));
	ctl_send(cl, MSG_CTL_INFO, &info, sizeof(info));
}

static void
ctl_info_req(void *ctx, struct imsg *imsg)
{
	struct ctl_client *cl = ctx;

	(void)imsg;
	ctl_info(cl->s, cl);
}

static void
ctl_status(void *ctx, struct imsg *imsg)
{
	struct ctl_client *cl = ctx;
	struct session	*s = cl->s;
	struct msg_status st;
	size_t		 i;

	(void)imsg;
	if (cl->status_pending > 0)
		return;		/* one at a time */
	ctl_info(s, cl);
	if (!cl->used)
		return;
	memset(&st, 0, sizeof(st));
	st.proc = PROC_PARENT;
	st.pid = getpid();
	snprintf(st.detail, sizeof(st.detail), "session parent, not sandboxed");
	ctl_send(cl, MSG_CTL_STATUS_ENTRY, &st, sizeof(st));
	if (!cl->used)
		return;
	cl->status_serial = ++s->next_serial;
	cl->status_pending = 0;
	for (i = 0; i < s->nchildren; i++) {
		struct session_child *c = &s->children[i];

		if (!c->alive || !c->chan_open || !c->ready)
			continue;
		if (send_child(c, MSG_STATUS_REQUEST, cl->status_serial, -1,
		    NULL, 0) == 0)
			cl->status_pending++;
	}
	if (cl->status_pending == 0)
		ctl_send(cl, MSG_CTL_END, NULL, 0);
}

static void
ctl_on_child_status(struct session *s, struct session_child *c,
    struct imsg *imsg)
{
	struct msg_status st;
	size_t	 i;

	memcpy(&st, imsg->data, sizeof(st));
	if (!imsg_str_ok(st.detail, sizeof(st.detail)) ||
	    !imsg_str_ok(st.sandbox.note, sizeof(st.sandbox.note)))
		fatalx("STATUS from %s: bad strings", c->label);
	/* The host's view of the pid is ours, not the child's claim. */
	st.pid = c->pid;
	st.proc = c->id;
	st.instance = (uint32_t)c->instance;
	for (i = 0; i < SESSION_MAX_CLIENTS; i++) {
		struct ctl_client *cl = &s->clients[i];

		if (!cl->used || cl->status_pending == 0 ||
		    cl->status_serial != imsg->hdr.peerid)
			continue;
		ctl_send(cl, MSG_CTL_STATUS_ENTRY, &st, sizeof(st));
		if (cl->used && --cl->status_pending == 0)
			ctl_send(cl, MSG_CTL_END, NULL, 0);
	}
}

static void
ctl_stop(void *ctx, struct imsg *imsg)
{
	struct ctl_client *cl = ctx;
	struct msg_ctl_result res;

	(void)imsg;
	memset(&res, 0, sizeof(res));
	res.ok = 1;
	snprintf(res.text, sizeof(res.text), "stopping session %s", cl->s->id);
	ctl_send(cl, MSG_CTL_RESULT, &res, sizeof(res));
	if (cl->used)
		imsgbuf_flush(&cl->iev.ibuf);
	session_stop(cl->s, 0, "stopped by capsemctl stop");
}

static void
session_reload(struct session *s, int client)
{
	char	 err[512];

	if (s->reload_busy || !s->policy_loaded) {
		if (client >= 0) {
			s->reload_client = client;
			ctl_reload_done(s, false, s->reload_busy ?
			    "a reload is already running" :
			    "the session is still starting");
		}
		return;
	}
	if (send_policy(s, err, sizeof(err)) == -1) {
		log_warnx("policy not reloaded, the old one stays: %s", err);
		if (client >= 0) {
			s->reload_client = client;
			ctl_reload_done(s, false, err);
		}
		return;
	}
	s->reload_busy = true;
	s->reload_client = client;
}

static void
ctl_reload_done(struct session *s, bool ok, const char *text)
{
	struct msg_ctl_result res;
	struct ctl_client *cl;

	s->reload_busy = false;
	if (s->reload_client < 0)
		return;
	cl = &s->clients[s->reload_client];
	s->reload_client = -1;
	if (!cl->used)
		return;
	memset(&res, 0, sizeof(res));
	res.ok = ok;
	snprintf(res.text, sizeof(res.text), "%s", text);
	ctl_send(cl, MSG_CTL_RESULT, &res, sizeof(res));
}

static void
ctl_reload(void *ctx, struct imsg *imsg)
{
	struct ctl_client *cl = ctx;

	(void)imsg;
	session_reload(cl->s, (int)(cl - cl->s->clients));
}

/* `capsemctl attach`: its terminal's input fd, then its output fd. */
static void
ctl_attach_in(void *ctx, struct imsg *imsg)
{
	struct ctl_client *cl = ctx;

	if (cl->attach_in != -1)
		close(cl->attach_in);
	cl->attach_in = imsg->fd;
	imsg->fd = -1;
}

static void
ctl_attach_out(void *ctx, struct imsg *imsg)
{
	struct ctl_client *cl = ctx;
	struct session	*s = cl->s;
	struct msg_ctl_result res;
	int		 in = cl->attach_in, out = imsg->fd;

	imsg->fd = -1;
	cl->attach_in = -1;
	memset(&res, 0, sizeof(res));
	if (in == -1)
		snprintf(res.text, sizeof(res.text), "attach: no input "
		    "terminal was passed");
	else if (s->opts.mode != SESSION_VM)
		snprintf(res.text, sizeof(res.text), "session %s has no VM "
		    "console to attach to", s->id);
	else if (s->stopping)
		snprintf(res.text, sizeof(res.text), "session %s is ending",
		    s->id);
	else if (s->term_owner != TERM_NONE)
		snprintf(res.text, sizeof(res.text), "session %s is attached "
		    "to another terminal; detach there first (Ctrl-])", s->id);
	else {
		res.ok = 1;
		snprintf(res.text, sizeof(res.text), "attached to session %s; "
		    "Ctrl-] detaches", s->id);
	}
	ctl_send(cl, MSG_CTL_RESULT, &res, sizeof(res));
	if (!res.ok || !cl->used) {
		if (in != -1)
			close(in);
		close(out);
		return;
	}
	term_attach(s, TERM_CLIENT, in, out, (int)(cl - s->clients));
}

static void
ctl_winsize(void *ctx, struct imsg *imsg)
{
	struct ctl_client *cl = ctx;
	struct session	*s = cl->s;

	(void)imsg;
	if (s->term_owner == TERM_CLIENT && &s->clients[s->term_client] == cl)
		term_winsize(s);
}

static const struct imsg_handler ctl_handlers[] = {
	{ MSG_CTL_STATUS, 0, 0, IMSG_FD_NONE, ctl_status },
	{ MSG_CTL_INFO_REQ, 0, 0, IMSG_FD_NONE, ctl_info_req },
	{ MSG_CTL_STOP, 0, 0, IMSG_FD_NONE, ctl_stop },
	{ MSG_CTL_RELOAD, 0, 0, IMSG_FD_NONE, ctl_reload },
	{ MSG_CTL_ATTACH_IN, 0, 0, IMSG_FD_REQUIRED, ctl_attach_in },
	{ MSG_CTL_ATTACH_OUT, 0, 0, IMSG_FD_REQUIRED, ctl_attach_out },
	{ MSG_CTL_WINSIZE, 0, 0, IMSG_FD_NONE, ctl_winsize },
};

static void
on_ctl_accept(int fd, uint32_t events, void *arg)
{
	struct session	*s = arg;
	struct ctl_client *cl = NULL;
	struct ucred	 cred;
	socklen_t	 credlen = sizeof(cred);
	size_t		 i;
	int		 cfd;

	(void)events;
	if ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) == -1 ||
	    cred.uid != geteuid()) {
		log_warnx("control: refused a client of uid %d",
		    (int)cred.uid);
		close(cfd);
		return;
	}
	for (i = 0; i < SESSION_MAX_CLIENTS; i++)
		if (!s->clients[i].used) {
			cl = &s->clients[i];
			break;
		}
	if (cl == NULL) {
		close(cfd);
		return;
	}
	memset(cl, 0, sizeof(*cl));
	cl->s = s;
	cl->used = true;
	cl->attach_in = -1;
	imsgev_init(&cl->iev, s->loop, cfd, 4096, "control client",
	    ctl_handlers, sizeof(ctl_handlers) / sizeof(ctl_handlers[0]), cl);
	cl->iev.on_close = ctl_client_closed;
}

static void
ctl_listen(struct session *s)
{
	struct sockaddr_un sun;
	struct stat sb;
	char	 dir[PATH_MAX];
	mode_t	 old;
	int	 n;

	if (session_runtime_dir(dir, sizeof(dir), true) == -1)
		fatal("runtime directory");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", dir,
	    s->id);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path))
		fatalx("control socket path too long: %s/%s.sock", dir, s->id);
	memcpy(s->ctl_path, sun.sun_path, sizeof(s->ctl_path));
	if ((s->ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	/* A named session's socket left by one that died (it is not live:
	 * session_run checked). */
	if (s->opts.name != NULL && lstat(s->ctl_path, &sb) == 0 &&
	    S_ISSOCK(sb.st_mode))
		(void)unlink(s->ctl_path);
	old = umask(0177);
	if (bind(s->ctl_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", s->ctl_path);
	umask(old);
	if (chmod(s->ctl_path, 0600) == -1)
		fatal("chmod %s", s->ctl_path);
	if (listen(s->ctl_fd, 8) == -1)
		fatal("listen %s", s->ctl_path);
	if (event_add(s->loop, s->ctl_fd, EV_READ, on_ctl_accept, s) == -1)
		fatal("event_add");
}

static const char *
agent_api_host(const char *agent)
{
	const struct agent *a = agent_find(agent != NULL ? agent : "claude");

	return a != NULL ? a->api_host : NULL;
}

/* Read a config file whole; *present = false if it does not exist. */
static char *
read_config(const char *path, size_t *len, bool *present, char *err,
    size_t errlen)
{
	char	*buf;
	FILE	*f;

	*present = false;
	*len = 0;
	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			return NULL;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(MSG_CONFIG_MAX + 1)) == NULL)
		fatal("malloc");
	*len = fread(buf, 1, MSG_CONFIG_MAX + 1, f);
	if (ferror(f) || *len > MSG_CONFIG_MAX) {
		snprintf(err, errlen, "%s: %s", path, ferror(f) ?
		    "read error" : "larger than 4 MiB");
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	*present = true;
	return buf;
}

static void
config_paths(char *user, size_t ulen, char *corp, size_t clen)
{
	if (capsem_config_paths(user, ulen, corp, clen) == -1)
		fatal("policy file paths");
}

/*
 * Both policy files, as bytes, then COMMIT: policyd parses them in its
 * sandbox and answers POLICY_RESULT.  No user file: a built-in default
 * that denies everything but the agent's API host.
 */
static int
send_policy(struct session *s, char *err, size_t errlen)
{
	struct msg_policy_file pf;
	char	 user[PATH_MAX], corp[PATH_MAX], dflt[256];
	char	*ubuf, *cbuf;
	size_t	 ulen, clen;
	bool	 upresent, cpresent;
	const char *api;

	err[0] = '\0';
	config_paths(user, sizeof(user), corp, sizeof(corp));
	ubuf = read_config(user, &ulen, &upresent, err, errlen);
	if (err[0] != '\0')
		return -1;
	cbuf = read_config(corp, &clen, &cpresent, err, errlen);
	if (err[0] != '\0') {
		free(ubuf);
		return -1;
	}
	memset(&pf, 0, sizeof(pf));
	pf.origin = POLICY_ORIGIN_USER;
	if (upresent) {
		pf.present = 1;
		strlcpy(pf.name, user, sizeof(pf.name));
	} else {
		api = agent_api_host(s->opts.agent);
		snprintf(dflt, sizeof(dflt),
		    "[network]\ndefault = \"deny\"\nallow = [%s%s%s]\n",
		    api ? "\"" : "", api ? api : "", api ? "\"" : "");
		ubuf = strdup(dflt);
		ulen = strlen(dflt);
		pf.present = 1;
		snprintf(pf.name, sizeof(pf.name), "(built-in default for %s)",
		    s->opts.agent ? s->opts.agent : "claude");
	}
	if (!s->policyd->chan_open ||
	    imsgev_compose2(&s->policyd->iev, MSG_POLICY_FILE, 0, -1, &pf,
	    sizeof(pf), ubuf, ulen) == -1)
		fatal("send %s to policyd", pf.name);
	memset(&pf, 0, sizeof(pf));
	pf.origin = POLICY_ORIGIN_CORP;
	pf.present = cpresent;
	strlcpy(pf.name, corp, sizeof(pf.name));
	if (imsgev_compose2(&s->policyd->iev, MSG_POLICY_FILE, 0, -1, &pf,
	    sizeof(pf), cbuf, cpresent ? clen : 0) == -1 ||
	    imsgev_compose(&s->policyd->iev, MSG_POLICY_COMMIT, 0, -1, NULL,
	    0) == -1)
		fatal("send %s to policyd", pf.name);
	free(ubuf);
	free(cbuf);
	return 0;
}

/* The audit log: $CAPSEM_HOME/sessions/<id>/audit.jsonl, opened here. */
static void
send_audit_fd(struct session *s)
{
	char	 home[PATH_MAX], dir[PATH_MAX], path[PATH_MAX];
	int	 fd;

	if (capsem_home(home, sizeof(home)) == -1 ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/sessions", home) >=
	    sizeof(dir))
		fatalx("sessions directory path too long");
	if (mkdir_private(home) == -1 || mkdir_private(dir) == -1)
		fatal("%s", dir);
	if ((size_t)snprintf(dir, sizeof(dir), "%s/sessions/%s", home, s->id) >=
	    sizeof(dir) || (size_t)snprintf(path, sizeof(path),
	    "%s/audit.jsonl", dir) >= sizeof(path))
		fatalx("session directory path too long");
	if (mkdir_private(dir) == -1)
		fatal("%s", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		fatal("%s", path);
	if (send_child(s->policyd, MSG_AUDIT_FD, 0, fd, NULL, 0) == -1)
		fatal("send the audit log to policyd");
}

/*
 * The CA: certificate bytes, then the key as an fd that certd reads once
 * and closes.  The parent never reads the key.
 */
static void
send_ca(struct session *s, struct session_child *certd)
{
	char	 pem[PATH_MAX], key[PATH_MAX];
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f;
	int	 corp, keyfd;

	if (ca_paths(pem, sizeof(pem), key, sizeof(key), &corp) == -1)
		fatalx("cannot locate the CA");
	if ((f = fopen(pem, "re")) == NULL)
		fatal("%s", pem);
	buf = malloc(MSG_CONFIG_MAX);
	if (buf == NULL)
		fatal("malloc");
	len = fread(buf, 1, MSG_CONFIG_MAX, f);
	if (ferror(f) || len == 0 || len == MSG_CONFIG_MAX)
		fatalx("%s: unreadable, empty or too large", pem);
	fclose(f);
	if ((keyfd = open(key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		fatal("%s", key);
	if (send_child(certd, MSG_CA_CERT, 0, -1, buf, len) == -1 ||
	    send_child(certd, MSG_CA_KEY, 0, keyfd, NULL, 0) == -1)
		fatal("send the CA to certd");
	free(buf);
	s->setup_pending++;
	log_debug("CA %s%s passed to certd", pem, corp ? " (company)" : "");
}

/* Build the merged policy here too, for the settings netproxy needs. */
static struct policy *
load_policy_locally(struct session *s, char *err, size_t errlen)
{
	char	 user[PATH_MAX], corp[PATH_MAX];
	struct config ucfg, ccfg;
	struct policy *pol = NULL;
	char	*ubuf, *cbuf;
	size_t	 ulen, clen;
	bool	 up, cp;

	err[0] = '\0';
	config_paths(user, sizeof(user), corp, sizeof(corp));
	config_init(&ucfg);
	config_init(&ccfg);
	ubuf = read_config(user, &ulen, &up, err, errlen);
	if (err[0] != '\0')
		return NULL;
	cbuf = read_config(corp, &clen, &cp, err, errlen);
	if (err[0] != '\0')
		goto out;
	if (up) {
		if (config_parse_buf(&ucfg, user, ubuf, ulen, err, errlen) == -1)
			goto out;
	} else if (policy_builtin_default(s->opts.agent ? s->opts.agent :
	    "claude", &ucfg) == -1) {
		snprintf(err, errlen, "no built-in policy for %s", s->opts.agent);
		goto out;
	}
	if (cp && config_parse_buf(&ccfg, corp, cbuf, clen, err, errlen) == -1)
		goto out;
	pol = policy_build(&ucfg, cp ? &ccfg : NULL, err, errlen);
out:
	config_free(&ucfg);
	config_free(&ccfg);
	free(ubuf);
	free(cbuf);
	return pol;
}

/*
 * The keys the proxy adds to requests: each [credentials] entry, and for
 * an agent session the agent's own key (agent.c) when no entry names its
 * host.  Only those whose variable is set in our environment; warn (once,
 * if warn) about entries whose variable is not.
 */
struct planned_credential {
	char		 host[MSG_HOST_MAX];
	char		 header[PROXY_HEADER_NAME_MAX];
	char		 env[128];
	const char	*prefix;
	const char	*value;		/* getenv(env) */
};

static size_t
plan_credentials(const struct session *s, const struct policy *pol,
    struct planned_credential *out, size_t max, bool warn)
{
	const struct agent *a = agent_find(s->opts.agent);
	size_t	 i, n = 0;
	bool	 agent_host_named = false;

	for (i = 0; i < policy_ncredentials(pol) && n < max; i++) {
		const struct policy_credential *pc = policy_credential(pol, i);
		const char *value = getenv(pc->env);

		if (a != NULL && strcasecmp(pc->host, a->api_host) == 0)
			agent_host_named = true;
		if (value == NULL || value[0] == '\0') {
			if (warn)
				log_warnx("%s:%u: credential for %s: $%s is not "
				    "set; requests go without it", pc->file,
				    pc->line, pc->host, pc->env);
			continue;
		}
		if (strlen(value) > PROXY_CREDENTIAL_MAX - 16) {
			if (warn)
				log_warnx("credential for %s: $%s is too long",
				    pc->host, pc->env);
			continue;
		}
		strlcpy(out[n].host, pc->host, sizeof(out[n].host));
		strlcpy(out[n].header, pc->header, sizeof(out[n].header));
		strlcpy(out[n].env, pc->env, sizeof(out[n].env));
		out[n].prefix = "";
		out[n].value = value;
		n++;
	}
	if (a != NULL && !agent_host_named && n < max) {
		const char *value = getenv(a->key_env);

		if (value != NULL && value[0] != '\0' &&
		    strlen(value) <= PROXY_CREDENTIAL_MAX - 16) {
			strlcpy(out[n].host, a->api_host, sizeof(out[n].host));
			strlcpy(out[n].header, a->key_header,
			    sizeof(out[n].header));
			strlcpy(out[n].env, a->key_env, sizeof(out[n].env));
			out[n].prefix = a->key_prefix;
			out[n].value = value;
			n++;
		}
	}
	return n;
}

/*
 * netproxy's settings: [network] http and private_addresses, [upstream]
 * resolve pins and ca_file (read here, sent as bytes), and credentials
 * taken from capsemctl's environment (they never reach the guest).
 */
static int
send_proxy_settings(struct session *s, char *err, size_t errlen)
{
	struct msg_proxy_settings ps;
	struct msg_credential cr;
	struct planned_credential cred[SESSION_MAX_CREDENTIALS];
	size_t		 ncred;
	struct policy	*pol;
	char		*ca = NULL;
	size_t		 ca_len = 0, i, n;
	int		 k;

	if ((pol = load_policy_locally(s, err, errlen)) == NULL)
		return -1;
	memset(&ps, 0, sizeof(ps));
	ps.http_enabled = policy_http_enabled(pol);
	ps.private_addresses = policy_private_addresses(pol);
	n = policy_nresolve(pol);
	if (n > PROXY_RESOLVE_MAX) {
		snprintf(err, errlen, "[upstream] resolve: at most %d entries",
		    PROXY_RESOLVE_MAX);
		policy_free(pol);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const struct config_resolve *r = policy_resolve(pol, i);

		strlcpy(ps.resolve[i].host, r->host, sizeof(ps.resolve[i].host));
		strlcpy(ps.resolve[i].addr, r->addr, sizeof(ps.resolve[i].addr));
		ps.resolve[i].port = r->port;
		ps.resolve[i].target_port = r->addr_port;
	}
	ps.nresolve = (uint32_t)n;
	if (policy_ca_file(pol) != NULL) {
		bool present;

		ca = read_config(policy_ca_file(pol), &ca_len, &present, err,
		    errlen);
		if (err[0] == '\0' && !present)
			snprintf(err, errlen, "[upstream] ca_file %s: no such "
			    "file", policy_ca_file(pol));
		if (err[0] != '\0' || ca_len > PROXY_CA_MAX) {
			if (err[0] == '\0')
				snprintf(err, errlen, "%s: too large",
				    policy_ca_file(pol));
			free(ca);
			policy_free(pol);
			return -1;
		}
	}
	ps.ca_len = (uint32_t)ca_len;
	for (k = 0; k < s->nproxies; k++)
		if (!s->proxies[k]->chan_open ||
		    imsgev_compose2(&s->proxies[k]->iev, MSG_PROXY_SETTINGS, 0,
		    -1, &ps, sizeof(ps), ca, ca_len) == -1)
			fatal("send settings to %s", s->proxies[k]->label);
	free(ca);
	ncred = plan_credentials(s, pol, cred, SESSION_MAX_CREDENTIALS, true);
	for (i = 0; i < ncred; i++) {
		char	*value;
		size_t	 plen = strlen(cred[i].prefix);

		memset(&cr, 0, sizeof(cr));
		strlcpy(cr.host, cred[i].host, sizeof(cr.host));
		strlcpy(cr.header, cred[i].header, sizeof(cr.header));
		cr.value_len = (uint32_t)(plen + strlen(cred[i].value));
		if ((value = malloc(cr.value_len + 1)) == NULL)
			fatal("malloc");
		memcpy(value, cred[i].prefix, plen);
		memcpy(value + plen, cred[i].value, cr.value_len - plen);
		for (k = 0; k < s->nproxies; k++)
			if (imsgev_compose2(&s->proxies[k]->iev, MSG_CREDENTIAL,
			    0, -1, &cr, sizeof(cr), value, cr.value_len) == -1)
				fatal("send credential to %s",
				    s->proxies[k]->label);
		explicit_bzero(value, cr.value_len);
		free(value);
	}
	policy_free(pol);
	return 0;
}

/*
 * What the guest gets besides the command line: [vm] cpus and memory_mb
 * where no option gave them, agent.env, then the --env options again (they
 * win), then a placeholder in the variable of each key the proxy adds.
 */
static int
vm_settings(struct session *s, char *err, size_t errlen)
{
	struct vm_opts	*o = &s->opts.vm;
	struct planned_credential cred[SESSION_MAX_CREDENTIALS];
	const char	*given[VM_ENV_MAX], *path;
	struct policy	*pol;
	size_t		 ncred, i;
	int		 ngiven = o->nenv, k;
	char		*a;

	if ((pol = load_policy_locally(s, err, errlen)) == NULL)
		return -1;
	if (o->cpus == 0)
		o->cpus = (unsigned)policy_vm_cpus(pol);
	if (o->mem_mb == 0)
		o->mem_mb = (unsigned)policy_vm_memory_mb(pol);
	memcpy(given, o->env, sizeof(given));
	o->nenv = 0;
	if ((path = getenv("CAPSEM_AGENT_ENV")) == NULL || path[0] == '\0')
		path = CAPSEM_SYSCONFDIR "/agent.env";
	if (agent_env_load(path, o, err, errlen) == -1)
		goto fail;
	for (k = 0; k < ngiven; k++)
		if (vm_env_set(o, given[k]) == -1)
			goto full;
	ncred = plan_credentials(s, pol, cred, SESSION_MAX_CREDENTIALS, false);
	for (i = 0; i < ncred; i++) {
		if (asprintf(&a, "%s=%s", cred[i].env,
		    agent_placeholder(cred[i].env)) == -1)
			fatal("asprintf");
		if (!env_assignment_ok(a)) {
			free(a);	/* not a variable name: nothing to set */
			continue;
		}
		if (vm_env_set(o, a) == -1)
			goto full;
	}
	policy_free(pol);
	return 0;
full:
	snprintf(err, errlen, "more than %d guest environment variables",
	    VM_ENV_MAX);
fail:
	policy_free(pol);
	return -1;
}

/* Host-side listeners (proxy mode): each accepted socket goes to netproxy. */
static void
on_listener_accept(int fd, uint32_t events, void *arg)
{
	struct listener *l = arg;
	struct session	*s = l->s;
	struct session_child *np;
	struct msg_stream_new sn;
	int		 cfd, tries;

	(void)events;
	while ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) !=
	    -1) {
		if (s->stopping || !s->announced) {
			close(cfd);
			continue;
		}
		np = NULL;
		for (tries = 0; tries < s->nproxies; tries++) {
			struct session_child *c =
			    s->proxies[s->next_proxy++ % s->nproxies];

			if (c->chan_open) {
				np = c;
				break;
			}
		}
		if (np == NULL) {
			close(cfd);	/* fail closed */
			continue;
		}
		memset(&sn, 0, sizeof(sn));
		sn.port = l->port_tag;
		sn.guest_cid = 0;
		sn.has_header = 0;
		if (send_child(np, MSG_STREAM_NEW, 0, cfd, &sn, sizeof(sn)) == -1)
			log_warn("pass a connection to %s", np->label);
	}
}

static int
parse_listen_addr(const char *spec, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	char	 host[64];
	const char *colon, *errstr;
	long long port;
	size_t	 hlen;

	if ((colon = strrchr(spec, ':')) == NULL)
		return -1;
	hlen = (size_t)(colon - spec);
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	port = strtonum(colon + 1, 1, 65535, &errstr);
	if (errstr != NULL)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[hlen - 1] == ']') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*sin);
	}
	return 0;
}

static int
open_listeners(struct session *s, char *err, size_t errlen)
{
	int	 i, one = 1;

	for (i = 0; i < s->opts.nlisten; i++) {
		const struct session_listen *sl = &s->opts.listen[i];
		struct listener *l = &s->listeners[s->nlisteners];
		struct sockaddr_storage ss;
		socklen_t sslen;

		if (parse_listen_addr(sl->addr, &ss, &sslen) == -1) {
			snprintf(err, errlen, "bad listen address \"%s\": use "
			    "ADDR:PORT with a numeric address", sl->addr);
			return -1;
		}
		if ((l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1)
			fatal("socket");
		setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(l->fd, (struct sockaddr *)&ss, sslen) == -1 ||
		    listen(l->fd, 128) == -1) {
			snprintf(err, errlen, "listen on %s: %s", sl->addr,
			    strerror(errno));
			close(l->fd);
			return -1;
		}
		l->s = s;
		l->port_tag = sl->port_tag;
		if (event_add(s->loop, l->fd, EV_READ, on_listener_accept, l) == -1)
			fatal("event_add");
		s->nlisteners++;
	}
	return 0;
}

static void
send_vm_fd(struct session *s, uint32_t kind, int *fd)
{
	struct msg_vm_fd vf;

	memset(&vf, 0, sizeof(vf));
	vf.kind = kind;
	if (send_child(s->vmm, MSG_VM_FD, 0, *fd, &vf, sizeof(vf)) == -1)
		fatal("pass a file to the vmm");
	*fd = -1;	/* sent and closed by the channel */
}

/* SETUP, then the fds; MSG_VM_START follows once the session is ready. */
static void
send_vm_setup(struct session *s)
{
	static const char cmdline[] = "console=ttyS0 loglevel=4";
	struct msg_vm_setup vs;
	int	 i;

	memset(&vs, 0, sizeof(vs));
	vs.mem_mb = s->opts.vm.mem_mb ? s->opts.vm.mem_mb : 1024;
	vs.ncpus = s->opts.vm.cpus ? s->opts.vm.cpus : 2;
	vs.cmdline_len = sizeof(cmdline) - 1;
	if (imsgev_compose2(&s->vmm->iev, MSG_VM_SETUP, 0, -1, &vs, sizeof(vs),
	    cmdline, vs.cmdline_len) == -1)
		fatal("VM setup");
	send_vm_fd(s, VM_FD_KVM, &s->vmf.kvm);
	send_vm_fd(s, VM_FD_KERNEL, &s->vmf.kernel);
	for (i = 0; i < s->vmf.ninitrd; i++)
		send_vm_fd(s, VM_FD_INITRD, &s->vmf.initrd[i]);
	if (s->vmf.disk != -1)
		send_vm_fd(s, VM_FD_DISK_RO, &s->vmf.disk);
	send_vm_fd(s, VM_FD_CONSOLE, &s->vmf.console_vmm);
	if (s->serial_fd != -1)
		send_vm_fd(s, VM_FD_SERIAL, &s->serial_fd);
}

/*
 * The guest's hvc0 <-> the attached terminal, raw bytes both ways.  Ctrl-]
 * from a terminal that can come back (the front's, an attach client's)
 * detaches it; the guest runs on and its output is dropped until the next
 * `capsemctl attach`.
 */
#define TERM_ESCAPE	0x1d	/* Ctrl-] */

/* The attached terminal's size to the guest's console. */
static void
term_winsize(struct session *s)
{
	struct msg_winsize mw;
	struct winsize	 ws;

	if (s->term_out == -1 || s->vmm == NULL || !s->vmm->chan_open ||
	    ioctl(s->term_out, TIOCGWINSZ, &ws) == -1 || ws.ws_row == 0 ||
	    ws.ws_col == 0)
		return;
	memset(&mw, 0, sizeof(mw));
	mw.rows = ws.ws_row > 4096 ? 4096 : ws.ws_row;
	mw.cols = ws.ws_col > 4096 ? 4096 : ws.ws_col;
	if (send_child(s->vmm, MSG_VM_WINSIZE, 0, -1, &mw, sizeof(mw)) == -1)
		log_warn("console size");
}

/*
 * Read the terminal when the guest can take its input: the console is
 * open and nothing waits in cin.  Unwatched otherwise (not merely masked:
 * a pipe whose writer is gone would report HUP in a loop).
 */
static void	on_term_input(int, uint32_t, void *);

static void
term_input_update(struct session *s)
{
	bool	 want = s->term_owner != TERM_NONE && !s->term_in_eof &&
	    s->console_open && s->cin_len == 0;

	if (want && !s->term_in_watched) {
		if (event_add(s->loop, s->term_in, EV_READ, on_term_input, s)
		    == 0)
			s->term_in_watched = true;
		else {
			/* A file or /dev/null: nothing to forward (EPERM). */
			if (errno != EPERM)
				log_warn("console input");
			s->term_in_eof = true;
		}
	} else if (!want && s->term_in_watched) {
		event_del(s->loop, s->term_in);
		s->term_in_watched = false;
	}
}

/*
 * The console socket: read while no output waits for the terminal, write
 * while input waits in cin; unwatched when neither (not merely masked: a
 * closed socket would report HUP in a loop).
 */
static void	on_console(int, uint32_t, void *);
static void	on_term_output(int, uint32_t, void *);

static void
console_watch(struct session *s)
{
	uint32_t ev = 0;
	int	 fd = s->vmf.console_parent;

	if (fd == -1)
		return;		/* not a VM session */
	if (!s->console_gone) {
		ev |= s->tout_len == 0 ? EV_READ : 0;
		ev |= s->cin_len > 0 ? EV_WRITE : 0;
	}
	if (ev == 0 && s->console_watched) {
		event_del(s->loop, fd);
		s->console_watched = false;
	} else if (ev != 0 && s->console_watched) {
		if (event_mod(s->loop, fd, ev) == -1)
			fatal("console");
	} else if (ev != 0) {
		if (event_add(s->loop, fd, ev, on_console, s) == -1)
			fatal("console");
		s->console_watched = true;
	}
}

/*
 * Write buf[0..*len) to fd, keeping in buf what it did not take: 1 when all
 * is written, 0 when fd would block, -1 on an error (errno).
 */
static int
buf_write(int fd, char *buf, size_t *len)
{
	ssize_t	 w;

	while (*len > 0) {
		if ((w = write(fd, buf, *len)) > 0) {
			memmove(buf, buf + w, *len - (size_t)w);
			*len -= (size_t)w;
		} else if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		else if (w == -1 && errno == EINTR)
			continue;
		else
			return -1;
	}
	return 1;
}

/*
 * Write what waits in cin; when the socket is full console_watch waits for
 * room.  A console that is gone (the vmm ended) drops it.
 */
static void
console_input_flush(struct session *s)
{
	if (buf_write(s->vmf.console_parent, s->cin, &s->cin_len) == -1) {
		log_warn("console input");
		s->cin_len = 0;
	}
	console_watch(s);
	term_input_update(s);
}

/*
 * Write what waits in tout.  On EAGAIN wait for the terminal (the console
 * is not read meanwhile); a terminal that is gone drops it, and an attach
 * client's is detached.
 */
static void
term_output_flush(struct session *s)
{
	switch (buf_write(s->term_wfd, s->tout, &s->tout_len)) {
	case 0:
		if (!s->term_wfd_watched && event_add(s->loop, s->term_wfd,
		    EV_WRITE, on_term_output, s) == 0)
			s->term_wfd_watched = true;
		if (s->term_wfd_watched) {
			console_watch(s);
			return;
		}
		log_warn("terminal output");
		s->tout_len = 0;
		break;
	case -1:
		s->tout_len = 0;
		if (s->term_owner == TERM_CLIENT) {
			term_detach(s, TERM_GONE);	/* its terminal is gone */
			return;
		}
		break;
	default:
		break;
	}
	if (s->term_wfd_watched) {
		event_del(s->loop, s->term_wfd);
		s->term_wfd_watched = false;
	}
	console_watch(s);
}

static void
on_term_output(int fd, uint32_t events, void *arg)
{
	(void)fd;
	(void)events;
	term_output_flush(arg);
}

static void
on_console(int fd, uint32_t events, void *arg)
{
	struct session *s = arg;
	ssize_t	 n;

	if ((events & EV_WRITE) && s->cin_len > 0)
		console_input_flush(s);
	if (!(events & (EV_READ | EV_HUP)) || s->tout_len > 0 ||
	    !s->console_watched)
		return;
	if ((n = read(fd, s->tout, sizeof(s->tout))) <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			s->console_gone = true;
			s->cin_len = 0;
			console_watch(s);
		}
		return;
	}
	if (s->term_wfd == -1)
		return;		/* nobody attached: dropped */
	s->tout_len = (size_t)n;
	term_output_flush(s);
}

static void
on_term_input(int fd, uint32_t events, void *arg)
{
	struct session *s = arg;
	char	*esc;
	ssize_t	 n;
	size_t	 len;
	bool	 detach = false;

	(void)events;
	if (s->cin_len > 0)
		return;		/* not watched then; an old event */
	if ((n = read(fd, s->cin, sizeof(s->cin))) <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (s->term_owner == TERM_SELF) {
			s->term_in_eof = true;	/* end of input: run on */
			term_input_update(s);
		} else
			term_detach(s, TERM_GONE);
		return;
	}
	len = (size_t)n;
	if (s->term_owner != TERM_SELF &&
	    (esc = memchr(s->cin, TERM_ESCAPE, len)) != NULL) {
		len = (size_t)(esc - s->cin);
		detach = true;
	}
	s->cin_len = len;
	console_input_flush(s);
	if (detach)
		term_detach(s, TERM_USER);
}

/*
 * Our own non-blocking open of term_out when it is a tty or a pipe (a
 * file cannot block, and a new open of it would have its own offset);
 * term_out itself otherwise.
 */
static void
term_output_open(struct session *s)
{
	struct stat st;
	char	 path[64];
	int	 fd = -1;

	if (fstat(s->term_out, &st) == 0 && (S_ISFIFO(st.st_mode) ||
	    (S_ISCHR(st.st_mode) && isatty(s->term_out)))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", s->term_out);
		fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	}
	s->term_wfd_own = fd != -1;
	s->term_wfd = fd != -1 ? fd : s->term_out;
	s->tout_len = 0;
}

static void
term_attach(struct session *s, enum term_owner owner, int in, int out,
    int client)
{
	struct termios raw;

	s->term_owner = owner;
	s->term_in = in;
	s->term_out = out;
	s->term_client = client;
	term_output_open(s);
	if (owner != TERM_CLIENT && isatty(in) &&
	    tcgetattr(in, &s->saved_tio) == 0) {
		raw = s->saved_tio;
		cfmakeraw(&raw);
		raw.c_oflag |= OPOST | ONLCR;	/* keep our log lines readable */
		if (tcsetattr(in, TCSANOW, &raw) == 0)
			s->tio_saved = true;
	}
	s->term_in_eof = false;
	term_input_update(s);
	term_winsize(s);
}

/* From now on our messages go to syslog; stdio is /dev/null. */
static void
go_quiet(struct session *s)
{
	int	 fd;

	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	log_init(0, s->opts.verbose);
	s->log_to_syslog = true;
}

static void
term_detach(struct session *s, enum term_why why)
{
	struct ctl_client *cl;
	struct msg_ctl_result res;

	if (s->term_owner == TERM_NONE)
		return;
	if (s->term_in_watched)
		event_del(s->loop, s->term_in);
	s->term_in_watched = false;
	s->term_in_eof = false;
	if (s->term_wfd_watched)
		event_del(s->loop, s->term_wfd);
	s->term_wfd_watched = false;
	if (s->term_wfd_own)
		close(s->term_wfd);
	s->term_wfd_own = false;
	s->term_wfd = -1;
	s->tout_len = 0;	/* output with nobody to see it is dropped */
	if (why != TERM_END)
		console_watch(s);
	if (s->tio_saved) {
		tcsetattr(s->term_in, TCSANOW, &s->saved_tio);
		s->tio_saved = false;
	}
	switch (s->term_owner) {
	case TERM_FRONT:
		if (why == TERM_END)
			break;	/* our last words go to the terminal */
		if (why == TERM_USER && write(s->front_fd, "D", 1) != 1)
			log_warn("front");
		event_del(s->loop, s->front_fd);
		close(s->front_fd);
		s->front_fd = -1;
		go_quiet(s);
		log_info("session %s detached from its terminal", s->id);
		break;
	case TERM_CLIENT:
		close(s->term_in);
		close(s->term_out);
		cl = &s->clients[s->term_client];
		if (why == TERM_USER && cl->used) {
			memset(&res, 0, sizeof(res));
			res.ok = 1;
			snprintf(res.text, sizeof(res.text), "detached from "
			    "session %s", s->id);
			ctl_send(cl, MSG_CTL_DETACHED, &res, sizeof(res));
		}
		break;
	default:
		break;
	}
	s->term_owner = TERM_NONE;
	s->term_in = s->term_out = -1;
}

/* The front process: 'W' its terminal was resized; EOF it is gone. */
static void
on_front(int fd, uint32_t events, void *arg)
{
	struct session *s = arg;
	char	 buf[64];
	ssize_t	 n;

	(void)events;
	if ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (memchr(buf, 'W', (size_t)n) != NULL)
			term_winsize(s);
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (s->term_owner == TERM_FRONT)
		term_detach(s, TERM_GONE);
	else if (s->front_fd != -1) {
		event_del(s->loop, s->front_fd);
		close(s->front_fd);
		s->front_fd = -1;
	}
}

static void
console_attach(struct session *s)
{
	int	 flags;

	if ((flags = fcntl(s->vmf.console_parent, F_GETFL)) == -1 ||
	    fcntl(s->vmf.console_parent, F_SETFL, flags | O_NONBLOCK) == -1)
		fatal("console");
	console_watch(s);
	if (s->opts.detach)
		return;		/* until `capsemctl attach` */
	term_attach(s, s->front_fd != -1 ? TERM_FRONT : TERM_SELF,
	    STDIN_FILENO, STDOUT_FILENO, -1);
}

/*
 * The session is over (every child reaped): the guest's last output, what
 * waits in tout and what is still in the console socket, goes to the
 * terminal, waiting for it now.
 */
static void
console_drain(struct session *s)
{
	ssize_t	 n;
	int	 fl;

	if (s->term_wfd == -1 || s->vmf.console_parent == -1)
		return;
	if (s->term_wfd_own && (fl = fcntl(s->term_wfd, F_GETFL)) != -1)
		fcntl(s->term_wfd, F_SETFL, fl & ~O_NONBLOCK);
	while (buf_write(s->term_wfd, s->tout, &s->tout_len) == 1 &&
	    !s->console_gone && (n = read(s->vmf.console_parent, s->tout,
	    sizeof(s->tout))) > 0)
		s->tout_len = (size_t)n;
}

/*
 * The end, told to whoever is attached: an attach client gets the exit
 * code and the reason; our own terminal gets its settings back.
 */
static void
console_detach(struct session *s)
{
	struct msg_ctl_ended me;
	struct ctl_client *cl;

	console_drain(s);	/* before ENDED, on which the client exits */
	if (s->term_owner == TERM_CLIENT) {
		cl = &s->clients[s->term_client];
		if (cl->used) {
			memset(&me, 0, sizeof(me));
			me.code = s->exit_code;
			snprintf(me.reason, sizeof(me.reason), "%s", s->reason);
			ctl_send(cl, MSG_CTL_ENDED, &me, sizeof(me));
			if (cl->used)
				imsgbuf_flush(&cl->iev.ibuf);
		}
	}
	term_detach(s, TERM_END);
	if (s->front_fd != -1) {
		close(s->front_fd);
		s->front_fd = -1;
	}
}

/*
 * A terminal on stdin and no -d: the session goes on in a child of ours,
 * in its own session, and we stay in the foreground as the "front": we
 * pass on SIGINT/SIGTERM and window size changes, and end with the
 * session's exit status, or with 0 as soon as the user detaches (Ctrl-]).
 * Returns in the child only.
 */
static void
front_fork(struct session *s)
{
	struct termios	 tio;
	sigset_t	 set;
	struct signalfd_siginfo si;
	struct pollfd	 pfd[2];
	bool		 have_tio;
	pid_t		 pid;
	int		 sp[2], lp[2], sfd, status, r;
	char		 c;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1 ||
	    pipe2(lp, O_CLOEXEC) == -1)
		fatal("socketpair");
	have_tio = tcgetattr(STDIN_FILENO, &tio) == 0;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask");
	switch ((pid = fork())) {
	case -1:
		fatal("fork");
	case 0:
		close(sp[0]);
		if (setsid() == -1)
			fatal("setsid");
		s->front_fd = sp[1];
		if (event_add(s->loop, s->front_fd, EV_READ, on_front, s) == -1)
			fatal("event_add");
		/* children's stderr comes through us: syslog once detached */
		s->log_pipe = lp[1];
		if (event_add(s->loop, lp[0], EV_READ, on_log_pipe, s) == -1)
			fatal("event_add");
		return;
	default:
		break;
	}
	close(sp[1]);
	close(lp[0]);
	close(lp[1]);
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	pfd[0].fd = sp[0];
	pfd[0].events = POLLIN;
	pfd[1].fd = sfd;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[1].revents & POLLIN &&
		    read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGWINCH &&
			    write(sp[0], "W", 1) != 1)
				break;	/* the session is gone */
			else if (si.ssi_signo == SIGINT ||
			    si.ssi_signo == SIGTERM)
				kill(pid, (int)si.ssi_signo);
			else if (si.ssi_signo == SIGHUP)
				_exit(1);	/* the terminal is gone */
			/* SIGCHLD: the read below sees EOF */
		}
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if ((r = (int)read(sp[0], &c, 1)) == 1 && c == 'D') {
			if (have_tio)
				tcsetattr(STDIN_FILENO, TCSANOW, &tio);
			fprintf(stderr, "\ncapsem: detached from session %s: "
			    "`capsemctl attach %s` returns to it, `capsemctl "
			    "stop %s` ends it\n", s->id, s->id, s->id);
			_exit(0);
		}
		if (r == -1 && errno == EINTR)
			continue;
		break;		/* EOF: the session is ending */
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (have_tio)
		tcsetattr(STDIN_FILENO, TCSANOW, &tio);
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	fprintf(stderr, "capsem: session %s: its parent process died of "
	    "signal %d\n", s->id, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	_exit(1);
}

static int
open_console_log(struct session *s)
{
	char	 home[PATH_MAX], path[PATH_MAX];
	int	 n;

	if (capsem_home(home, sizeof(home)) == -1)
		return -1;
	n = snprintf(path, sizeof(path), "%s/sessions/%s/console.log", home,
	    s->id);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
}

static void
make_session_id(struct session *s)
{
	uint8_t	 r[4];

	arc4random_buf(r, sizeof(r));
	snprintf(s->id, sizeof(s->id), "%02x%02x%02x%02x", r[0], r[1], r[2],
	    r[3]);
}

static int
count_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (n > 8 ? 8 : (int)n);
}

static void
setup_signals(struct session *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask");
	sigdelset(&set, SIGPIPE);
	if ((s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	if (event_add(s->loop, s->sig_fd, EV_READ, on_signal, s) == -1)
		fatal("event_add");
}

static void
detach(struct session *s)
{
	int	 p[2], fd;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe");
	switch (fork()) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		_exit(0);
	}
	if (setsid() == -1)
		fatal("setsid");
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	log_init(0, s->opts.verbose);
	s->log_to_syslog = true;
	s->log_pipe = p[1];
	if (event_add(s->loop, p[0], EV_READ, on_log_pipe, s) == -1)
		fatal("event_add");
}

int
session_run(const struct session_opts *opts)
{
	struct session	*s;
	struct session_child *certd, *policyd, *vmm = NULL;
	struct session_child *proxies[SESSION_MAX_CHILDREN];
	struct msg_hello hello;
	int		 nproxies, i, code;
	size_t		 k;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->opts = *opts;
	s->ctl_fd = s->sig_fd = s->log_pipe = -1;
	s->serial_fd = -1;
	s->vmf.kvm = s->vmf.kernel = s->vmf.disk = -1;
	s->vmf.console_vmm = s->vmf.console_parent = -1;
	s->reload_client = -1;
	s->term_in = s->term_out = s->front_fd = s->term_wfd = -1;
	s->started = time(NULL);
	log_procinit("capsem");
	/* First use: make the per-install CA, as `ca init` would. */
	if (ca_ensure() == -1)
		return 1;
	if (opts->name != NULL) {
		if (session_name_live(opts->name)) {
			fprintf(stderr, "capsemctl: a session named %s is "
			    "running already\n", opts->name);
			return 1;
		}
		strlcpy(s->id, opts->name, sizeof(s->id));
	} else
		make_session_id(s);
	if (opts->mode == SESSION_VM) {
		char	 pem[PATH_MAX], key[PATH_MAX], err[512];
		int	 corp;

		if (ca_paths(pem, sizeof(pem), key, sizeof(key), &corp) == -1)
			return 1;
		if (vm_settings(s, err, sizeof(err)) == -1) {
			fprintf(stderr, "capsemctl: %s\n", err);
			return 2;
		}
		if (vm_prepare(&s->opts.vm, pem, &s->vmf, err, sizeof(err)) == -1) {
			fprintf(stderr, "capsemctl: %s\n", err);
			return 1;
		}
	}
	if ((s->loop = event_loop_new()) == NULL)
		fatal("event_loop_new");
	if (opts->detach) {
		/* Print the id before the terminal goes away. */
		printf("%s\n", s->id);
		fflush(stdout);
		s->opts.on_ready = NULL;
		detach(s);
	} else if (opts->mode == SESSION_VM && isatty(STDIN_FILENO))
		front_fork(s);
	/* After the fork: a signalfd wakes epoll only in its own process. */
	setup_signals(s);

	nproxies = opts->nproxies > 0 ? opts->nproxies :
	    (opts->mode == SESSION_PROXY ? count_cpus() : 1);
	if (nproxies > SESSION_MAX_CHILDREN - 3)
		nproxies = SESSION_MAX_CHILDREN - 3;

	certd = spawn_child(s, PROC_CERTD, 0);
	policyd = spawn_child(s, PROC_POLICYD, 0);
	for (i = 0; i < nproxies; i++)
		s->proxies[i] = proxies[i] = spawn_child(s, PROC_NETPROXY, i);
	s->nproxies = nproxies;
	if (opts->mode != SESSION_PROXY)	/* proxy mode: no VM, no vmm */
		vmm = spawn_child(s, PROC_VMM, 0);
	if (s->log_pipe != -1) {
		close(s->log_pipe);
		s->log_pipe = -1;
	}

	memset(&hello, 0, sizeof(hello));
	hello.verbose = opts->verbose;
	snprintf(hello.session_id, sizeof(hello.session_id), "%s", s->id);
	for (k = 0; k < s->nchildren; k++) {
		hello.instance = (uint32_t)s->children[k].instance;
		if (send_child(&s->children[k], MSG_HELLO, 0, -1, &hello,
		    sizeof(hello)) == -1)
			fatal("HELLO to %s", s->children[k].label);
	}
	send_ca(s, certd);
	s->policyd = policyd;
	{
		char	 err[512];

		if (send_proxy_settings(s, err, sizeof(err)) == -1 ||
		    open_listeners(s, err, sizeof(err)) == -1) {
			fprintf(stderr, "capsemctl: %s\n", err);
			session_stop(s, 2, "%s", err);
		}
	}
	send_audit_fd(s);
	session_record(s, false);	/* in the directory send_audit_fd made */
	s->recorded = true;
	{
		char	 err[512];

		if (send_policy(s, err, sizeof(err)) == -1) {
			fprintf(stderr, "capsemctl: %s\n", err);
			session_stop(s, 2, "%s", err);
		} else
			s->setup_pending++;
	}
	for (i = 0; i < nproxies; i++) {
		connect_children(proxies[i], certd);
		connect_children(proxies[i], policyd);
	}
	if (vmm != NULL)
		connect_children(vmm, proxies[0]);
	s->vmm = vmm;
	if (opts->mode == SESSION_VM) {
		s->serial_fd = open_console_log(s);	/* after the audit dir */
		if (s->serial_fd == -1)
			log_warn("console.log");
		send_vm_setup(s);
		console_attach(s);
	}

	ctl_listen(s);
	s->ready_timer = timer_add(s->loop, SESSION_READY_MS, ready_expired, s);

	if (event_loop_run(s->loop) == -1)
		fatal("event loop");

	console_detach(s);
	vm_files_close(&s->vmf);
	/* Everything is reaped; nothing of the session remains. */
	if (s->ctl_fd != -1) {
		close(s->ctl_fd);
		unlink(s->ctl_path);
	}
	if (s->recorded)
		session_record(s, true);
	code = s->exit_code;
	if (code != 0)
		log_warnx("session %s ended: %s", s->id, s->reason);
	else
		log_info("session %s ended: %s", s->id, s->reason);
	event_loop_free(s->loop);
	free(s);
	return code;
}
