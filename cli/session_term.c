/*
 * session_term.c: the terminal and the guest's console (hvc0).
 *
 * The guest's hvc0 <-> the attached terminal, raw bytes both ways.  Ctrl-]
 * from a terminal that can come back (the front's, an attach client's)
 * detaches it; the guest runs on and its output is dropped until the next
 * `capsemctl attach`.  The front (front_fork) is the process that stays in
 * the foreground of a terminal while the session runs in its child.
 * All state is in struct session_term (session_priv.h).
 */
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "session_priv.h"

#define TERM_ESCAPE	0x1d	/* Ctrl-] */

static void	on_term_input(int, uint32_t, void *);
static void	on_console(int, uint32_t, void *);
static void	on_term_output(int, uint32_t, void *);

/* The attached terminal's size to the guest's console. */
void
term_winsize(struct session *s)
{
	struct msg_winsize mw;
	struct winsize	 ws;

	if (s->term.out == -1 || s->vmm == NULL || !s->vmm->chan_open ||
	    ioctl(s->term.out, TIOCGWINSZ, &ws) == -1 || ws.ws_row == 0 ||
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

void
term_input_update(struct session *s)
{
	bool	 want = s->term.owner != TERM_NONE && !s->term.in_eof &&
	    s->term.console_open && s->term.cin_len == 0;

	if (want && !s->term.in_watched) {
		if (event_add(s->loop, s->term.in, EV_READ, on_term_input, s)
		    == 0)
			s->term.in_watched = true;
		else {
			/* A file or /dev/null: nothing to forward (EPERM). */
			if (errno != EPERM)
				log_warn("console input");
			s->term.in_eof = true;
		}
	} else if (!want && s->term.in_watched) {
		event_del(s->loop, s->term.in);
		s->term.in_watched = false;
	}
}

/*
 * The console socket: read while no output waits for the terminal, write
 * while input waits in cin; unwatched when neither (not merely masked: a
 * closed socket would report HUP in a loop).
 */

static void
console_watch(struct session *s)
{
	uint32_t ev = 0;
	int	 fd = s->vmf.console_parent;

	if (fd == -1)
		return;		/* not a VM session */
	if (!s->term.console_gone) {
		ev |= s->term.tout_len == 0 ? EV_READ : 0;
		ev |= s->term.cin_len > 0 ? EV_WRITE : 0;
	}
	if (ev == 0 && s->term.console_watched) {
		event_del(s->loop, fd);
		s->term.console_watched = false;
	} else if (ev != 0 && s->term.console_watched) {
		if (event_mod(s->loop, fd, ev) == -1)
			fatal("console");
	} else if (ev != 0) {
		if (event_add(s->loop, fd, ev, on_console, s) == -1)
			fatal("console");
		s->term.console_watched = true;
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
	if (buf_write(s->vmf.console_parent, s->term.cin, &s->term.cin_len) == -1) {
		log_warn("console input");
		s->term.cin_len = 0;
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
	switch (buf_write(s->term.wfd, s->term.tout, &s->term.tout_len)) {
	case 0:
		if (!s->term.wfd_watched && event_add(s->loop, s->term.wfd,
		    EV_WRITE, on_term_output, s) == 0)
			s->term.wfd_watched = true;
		if (s->term.wfd_watched) {
			console_watch(s);
			return;
		}
		log_warn("terminal output");
		s->term.tout_len = 0;
		break;
	case -1:
		s->term.tout_len = 0;
		if (s->term.owner == TERM_CLIENT) {
			term_detach(s, TERM_GONE);	/* its terminal is gone */
			return;
		}
		break;
	default:
		break;
	}
	if (s->term.wfd_watched) {
		event_del(s->loop, s->term.wfd);
		s->term.wfd_watched = false;
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

	if ((events & EV_WRITE) && s->term.cin_len > 0)
		console_input_flush(s);
	if (!(events & (EV_READ | EV_HUP)) || s->term.tout_len > 0 ||
	    !s->term.console_watched)
		return;
	if ((n = read(fd, s->term.tout, sizeof(s->term.tout))) <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			s->term.console_gone = true;
			s->term.cin_len = 0;
			console_watch(s);
		}
		return;
	}
	if (s->term.wfd == -1)
		return;		/* nobody attached: dropped */
	s->term.tout_len = (size_t)n;
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
	if (s->term.cin_len > 0)
		return;		/* not watched then; an old event */
	if ((n = read(fd, s->term.cin, sizeof(s->term.cin))) <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (s->term.owner == TERM_SELF) {
			s->term.in_eof = true;	/* end of input: run on */
			term_input_update(s);
		} else
			term_detach(s, TERM_GONE);
		return;
	}
	len = (size_t)n;
	if (s->term.owner != TERM_SELF &&
	    (esc = memchr(s->term.cin, TERM_ESCAPE, len)) != NULL) {
		len = (size_t)(esc - s->term.cin);
		detach = true;
	}
	s->term.cin_len = len;
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

	if (fstat(s->term.out, &st) == 0 && (S_ISFIFO(st.st_mode) ||
	    (S_ISCHR(st.st_mode) && isatty(s->term.out)))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", s->term.out);
		fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	}
	s->term.wfd_own = fd != -1;
	s->term.wfd = fd != -1 ? fd : s->term.out;
	s->term.tout_len = 0;
}

void
term_attach(struct session *s, enum term_owner owner, int in, int out,
    int client)
{
	struct termios raw;

	s->term.owner = owner;
	s->term.in = in;
	s->term.out = out;
	s->term.client = client;
	term_output_open(s);
	if (owner != TERM_CLIENT && isatty(in) &&
	    tcgetattr(in, &s->term.saved_tio) == 0) {
		raw = s->term.saved_tio;
		cfmakeraw(&raw);
		raw.c_oflag |= OPOST | ONLCR;	/* keep our log lines readable */
		if (tcsetattr(in, TCSANOW, &raw) == 0)
			s->term.tio_saved = true;
	}
	s->term.in_eof = false;
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

void
term_detach(struct session *s, enum term_why why)
{
	struct ctl_client *cl;
	struct msg_ctl_result res;

	if (s->term.owner == TERM_NONE)
		return;
	if (s->term.in_watched)
		event_del(s->loop, s->term.in);
	s->term.in_watched = false;
	s->term.in_eof = false;
	if (s->term.wfd_watched)
		event_del(s->loop, s->term.wfd);
	s->term.wfd_watched = false;
	if (s->term.wfd_own)
		close(s->term.wfd);
	s->term.wfd_own = false;
	s->term.wfd = -1;
	s->term.tout_len = 0;	/* output with nobody to see it is dropped */
	if (why != TERM_END)
		console_watch(s);
	if (s->term.tio_saved) {
		tcsetattr(s->term.in, TCSANOW, &s->term.saved_tio);
		s->term.tio_saved = false;
	}
	switch (s->term.owner) {
	case TERM_FRONT:
		if (why == TERM_END)
			break;	/* our last words go to the terminal */
		if (why == TERM_USER && write(s->term.front_fd, "D", 1) != 1)
			log_warn("front");
		event_del(s->loop, s->term.front_fd);
		close(s->term.front_fd);
		s->term.front_fd = -1;
		go_quiet(s);
		log_info("session %s detached from its terminal", s->id);
		break;
	case TERM_CLIENT:
		close(s->term.in);
		close(s->term.out);
		cl = &s->clients[s->term.client];
		if (why == TERM_USER && cl->used) {
			memset(&res, 0, sizeof(res));
			res.ok = 1;
			snprintf(res.text, sizeof(res.text), "detached from "
			    "session %s", s->id);
			ctl_reply(cl, MSG_CTL_DETACHED, &res, sizeof(res));
		}
		break;
	default:
		break;
	}
	s->term.owner = TERM_NONE;
	s->term.in = s->term.out = -1;
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
	if (s->term.owner == TERM_FRONT)
		term_detach(s, TERM_GONE);
	else if (s->term.front_fd != -1) {
		event_del(s->loop, s->term.front_fd);
		close(s->term.front_fd);
		s->term.front_fd = -1;
	}
}

void
console_attach(struct session *s)
{
	int	 flags;

	if ((flags = fcntl(s->vmf.console_parent, F_GETFL)) == -1 ||
	    fcntl(s->vmf.console_parent, F_SETFL, flags | O_NONBLOCK) == -1)
		fatal("console");
	console_watch(s);
	if (s->opts.detach)
		return;		/* until `capsemctl attach` */
	term_attach(s, s->term.front_fd != -1 ? TERM_FRONT : TERM_SELF,
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

	if (s->term.wfd == -1 || s->vmf.console_parent == -1)
		return;
	if (s->term.wfd_own && (fl = fcntl(s->term.wfd, F_GETFL)) != -1)
		fcntl(s->term.wfd, F_SETFL, fl & ~O_NONBLOCK);
	while (buf_write(s->term.wfd, s->term.tout, &s->term.tout_len) == 1 &&
	    !s->term.console_gone && (n = read(s->vmf.console_parent, s->term.tout,
	    sizeof(s->term.tout))) > 0)
		s->term.tout_len = (size_t)n;
}

/*
 * The end, told to whoever is attached: an attach client gets the exit
 * code and the reason; our own terminal gets its settings back.
 */
void
console_detach(struct session *s)
{
	struct msg_ctl_ended me;
	struct ctl_client *cl;

	console_drain(s);	/* before ENDED, on which the client exits */
	if (s->term.owner == TERM_CLIENT) {
		cl = &s->clients[s->term.client];
		if (cl->used) {
			memset(&me, 0, sizeof(me));
			me.code = s->exit_code;
			snprintf(me.reason, sizeof(me.reason), "%s", s->reason);
			ctl_reply(cl, MSG_CTL_ENDED, &me, sizeof(me));
			if (cl->used)
				imsgbuf_flush(&cl->iev.ibuf);
		}
	}
	term_detach(s, TERM_END);
	if (s->term.front_fd != -1) {
		close(s->term.front_fd);
		s->term.front_fd = -1;
	}
}

/*
 * A terminal on stdin and no -d: the session goes on in a child of ours,
 * in its own session, and we stay in the foreground as the "front": we
 * pass on SIGINT/SIGTERM and window size changes, and end with the
 * session's exit status, or with 0 as soon as the user detaches (Ctrl-]).
 * Returns in the child only.
 */
void
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
		s->term.front_fd = sp[1];
		if (event_add(s->loop, s->term.front_fd, EV_READ, on_front, s) == -1)
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
