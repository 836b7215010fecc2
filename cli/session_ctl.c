/*
 * session_ctl.c: the control-socket server of a session parent.
 *
 * $XDG_RUNTIME_DIR/capsem/<id>.sock (or ~/.capsem/sessions/<id>.sock),
 * mode 0600, clients of our own uid only (SO_PEERCRED).  Serves
 * capsemctl status, list (INFO), stop, reload and attach; the client side
 * is ctl_client.c.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "home.h"
#include "log.h"
#include "session_priv.h"

/* Does a live session answer on the control socket of id? */
bool
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
	if (s->term.owner == TERM_CLIENT &&
	    &s->clients[s->term.client] == cl)
		term_detach(s, TERM_GONE);
}

void
ctl_reply(struct ctl_client *cl, uint32_t type, const void *data, size_t len)
{
	if (imsgev_compose(&cl->iev, type, 0, -1, data, len) == -1) {
		log_warn("control client");
		imsgev_close(&cl->iev);
		cl->used = false;
	}
}

/* What list shows of a session: agent, "shell", the command, the mode. */
void
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
	if (!s->term.console_open)
		return "booting";
	return s->term.owner == TERM_NONE ? "detached" : "attached";
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
	ctl_reply(cl, MSG_CTL_INFO, &info, sizeof(info));
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
	ctl_reply(cl, MSG_CTL_STATUS_ENTRY, &st, sizeof(st));
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
		ctl_reply(cl, MSG_CTL_END, NULL, 0);
}

void
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
		ctl_reply(cl, MSG_CTL_STATUS_ENTRY, &st, sizeof(st));
		if (cl->used && --cl->status_pending == 0)
			ctl_reply(cl, MSG_CTL_END, NULL, 0);
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
	ctl_reply(cl, MSG_CTL_RESULT, &res, sizeof(res));
	if (cl->used)
		imsgbuf_flush(&cl->iev.ibuf);
	session_stop(cl->s, 0, "stopped by capsemctl stop");
}

void
session_reload(struct session *s, int client)
{
	struct policy_input pin;
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
	if (policy_input_read(&pin, s->opts.agent, err, sizeof(err)) == -1) {
		policy_input_free(&pin);
		log_warnx("policy not reloaded, the old one stays: %s", err);
		if (client >= 0) {
			s->reload_client = client;
			ctl_reload_done(s, false, err);
		}
		return;
	}
	send_policy(s, &pin);
	policy_input_free(&pin);
	s->reload_busy = true;
	s->reload_client = client;
}

void
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
	ctl_reply(cl, MSG_CTL_RESULT, &res, sizeof(res));
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
	else if (s->term.owner != TERM_NONE)
		snprintf(res.text, sizeof(res.text), "session %s is attached "
		    "to another terminal; detach there first (Ctrl-])", s->id);
	else {
		res.ok = 1;
		snprintf(res.text, sizeof(res.text), "attached to session %s; "
		    "Ctrl-] detaches", s->id);
	}
	ctl_reply(cl, MSG_CTL_RESULT, &res, sizeof(res));
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
	if (s->term.owner == TERM_CLIENT && &s->clients[s->term.client] == cl)
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

void
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
