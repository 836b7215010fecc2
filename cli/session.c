/*
 * session.c: the session parent's life.
 *
 * Make the session id and directories, spawn the process table's children
 * (each sandboxes itself before reading a byte; session_proc.c), give them
 * what they need (session_setup.c), HELLO every child and wait for READY,
 * then serve: the children's channels, the control socket
 * (session_ctl.c), the console (session_term.c), signals.  Any child that
 * dies ends the session: the others get SHUTDOWN, then SIGKILL after a
 * grace period, all are reaped, the control socket is removed, and one
 * line names the child and how it ended.
 */
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cmd_ca.h"
#include "hostprobe.h"
#include "log.h"
#include "session_priv.h"

/* Announce the session once every child is READY and set up. */
void
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
		c->s->term.console_open = true;
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
	char		 sb[256], why[64];
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
	if (!child_sandbox_ok(c, why, sizeof(why))) {
		session_stop(s, 1, "%s is not sandboxed as it must be: %s (%s)",
		    c->label, why, sb);
		return;
	}

	for (i = 0; i < s->nchildren; i++)
		if (!s->children[i].ready)
			return;
	s->all_ready = true;
	session_check_ready(s);
}

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
#define NELEM(t)	(sizeof(t) / sizeof(t[0]))

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
static const struct imsg_handler parent_fsd_handlers[] = {
	PARENT_COMMON_HANDLERS,
};
static const struct imsg_handler parent_vmm_handlers[] = {
	PARENT_COMMON_HANDLERS,
	{ MSG_VM_EVENT, sizeof(struct msg_vm_event),
	    sizeof(struct msg_vm_event), IMSG_FD_NONE, parent_on_vm_event },
};

/*
 * The process table: every child a session has, in spawning order; what
 * it may say to us; the peers it gets a channel to; backends (shut down
 * once their users are gone); the one with the host's network.  Spawning,
 * wiring, the sandbox check at READY and the shutdown order are derived
 * from it (session_proc.c); capsem-*(8) say what each one does.
 */
const struct session_proc_spec session_procs[] = {
	{ PROC_CERTD, SPAWN_ONE,
	    parent_certd_handlers, NELEM(parent_certd_handlers),
	    { { 0 } }, 0, .backend = true, .network = false },
	{ PROC_POLICYD, SPAWN_ONE,
	    parent_policyd_handlers, NELEM(parent_policyd_handlers),
	    { { 0 } }, 0, .backend = true, .network = false, .db_dir = true },
	{ PROC_NETPROXY, SPAWN_PER_PROXY,
	    parent_netproxy_handlers, NELEM(parent_netproxy_handlers),
	    { { PROC_CERTD, false }, { PROC_POLICYD, false } }, 2,
	    .backend = false, .network = true },
	{ PROC_FSD, SPAWN_WITH_WORKSPACE,
	    parent_fsd_handlers, NELEM(parent_fsd_handlers),
	    { { 0 } }, 0, .backend = true, .network = false },
	{ PROC_VMM, SPAWN_WITH_VM,
	    parent_vmm_handlers, NELEM(parent_vmm_handlers),
	    { { PROC_NETPROXY, true }, { PROC_FSD, true } }, 2,
	    .backend = false, .network = false },
};
const size_t session_nprocs = NELEM(session_procs);

void
session_finish_if_done(struct session *s)
{
	if (s->stopping && children_alive(s) == 0)
		event_loop_exit(s->loop);
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

void
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
void
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

/*
 * Go to the background.  The process the user started waits until the
 * session is recorded (session.json, so `capsemctl list` shows it), then
 * prints the id and exits 0; if the session ends before that, it says so
 * and exits 1.
 */
static void
detach(struct session *s)
{
	int	 p[2], ready[2], fd;
	ssize_t	 n;
	char	 c;

	if (pipe2(p, O_CLOEXEC) == -1 || pipe2(ready, O_CLOEXEC) == -1)
		fatal("pipe");
	switch (fork()) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		close(ready[1]);
		do
			n = read(ready[0], &c, 1);
		while (n == -1 && errno == EINTR);
		if (n != 1) {
			fprintf(stderr, "capsemctl: session %s ended as it "
			    "started (see syslog)\n", s->id);
			_exit(1);
		}
		printf("%s\n", s->id);
		fflush(stdout);
		_exit(0);
	}
	close(ready[0]);
	s->detach_ready = ready[1];
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
	struct policy_input pin;
	struct policy	*pol = NULL;
	struct msg_hello hello;
	char		 err[512];
	int		 nproxies, code;
	size_t		 k;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->opts = *opts;
	s->ctl_fd = s->sig_fd = s->log_pipe = s->detach_ready = -1;
	s->serial_fd = -1;
	s->vmf.kvm = s->vmf.kernel = s->vmf.disk = -1;
	s->vmf.console_vmm = s->vmf.console_parent = -1;
	s->reload_client = -1;
	s->term.in = s->term.out = s->term.front_fd = s->term.wfd = -1;
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
	/*
	 * The policy files, read once: these bytes go to policyd, and the
	 * settings the parent needs come from their one parse here.
	 */
	if (policy_input_read(&pin, opts->agent, err, sizeof(err)) == -1 ||
	    (pol = policy_input_parse(&pin, err, sizeof(err))) == NULL) {
		if (opts->mode == SESSION_VM) {
			fprintf(stderr, "capsemctl: %s\n", err);
			policy_input_free(&pin);
			free(s);
			return 2;
		}
		/* Said below, once the children are up. */
	}
	/* The workspace: checked and opened here, before anything starts. */
	s->ws.fd = -1;
	if (opts->mode != SESSION_PROXY && pol != NULL &&
	    workspace_resolve(&s->opts.vm, pol, &s->ws, err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "capsemctl: %s\n", err);
		policy_free(pol);
		policy_input_free(&pin);
		free(s);
		return 2;
	}
	s->opts.vm.workspace = !s->ws.shared ? VM_WORKSPACE_NONE :
	    s->ws.readonly ? VM_WORKSPACE_RO : VM_WORKSPACE_RW;
	if (opts->mode == SESSION_VM) {
		char	 pem[PATH_MAX], key[PATH_MAX];
		int	 corp;

		code = 0;
		if (ca_paths(pem, sizeof(pem), key, sizeof(key), &corp) == -1)
			code = 1;
		else if (vm_settings(s, pol, err, sizeof(err)) == -1) {
			fprintf(stderr, "capsemctl: %s\n", err);
			code = 2;
		} else if (vm_prepare(&s->opts.vm, pem, &s->vmf, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "capsemctl: %s\n", err);
			code = 1;
		}
		if (code != 0) {
			workspace_close(&s->ws);
			policy_free(pol);
			policy_input_free(&pin);
			free(s);
			return code;
		}
	}
	if ((s->loop = event_loop_new()) == NULL)
		fatal("event_loop_new");
	if (opts->detach) {
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
	/* proxy mode: no VM, no vmm */
	session_dir_make(s);
	session_spawn_all(s, nproxies, opts->mode != SESSION_PROXY);
	close(s->db_dirfd);
	s->db_dirfd = -1;
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
	send_ca(s);
	if (s->fsd != NULL)
		send_fs_setup(s);
	if (pol == NULL || send_proxy_settings(s, pol, err, sizeof(err)) == -1 ||
	    open_listeners(s, err, sizeof(err)) == -1) {
		fprintf(stderr, "capsemctl: %s\n", err);
		session_stop(s, 2, "%s", err);
	}
	policy_free(pol);
	send_audit_fd(s);
	session_record(s, false);	/* in the directory session_dir_make made */
	s->recorded = true;
	if (s->detach_ready != -1) {
		/* the front prints the id now: `capsemctl list` shows it */
		if (write(s->detach_ready, "r", 1) != 1)
			log_warn("tell the front the session is recorded");
		close(s->detach_ready);
		s->detach_ready = -1;
	}
	if (send_policy(s, &pin) == 0)
		s->setup_pending++;
	policy_input_free(&pin);
	session_wire_peers(s);
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
		session_record(s, true);	/* names the workspace again */
	workspace_close(&s->ws);
	code = s->exit_code;
	if (code != 0)
		log_warnx("session %s ended: %s", s->id, s->reason);
	else
		log_info("session %s ended: %s", s->id, s->reason);
	event_loop_free(s->loop);
	free(s);
	return code;
}
