/*
 * session_priv.h: the session parent's state, shared by its files:
 *   session.c         its life: start, the children's messages, stop, end
 *   session_proc.c    the process table: spawning, peer channels, reaping,
 *                     shutdown order
 *   session_ctl.c     the control-socket server (capsemctl status, stop,
 *                     reload, list, attach)
 *   session_term.c    the terminal and the guest console relay, the front
 *   session_setup.c   what the children are given: policy bytes, CA, audit
 *                     log, proxy and VM settings, session.json
 *   session_listen.c  proxy mode's host-side listeners
 * Nothing outside these files sees struct session.
 */
#ifndef CAPSEM_SESSION_PRIV_H
#define CAPSEM_SESSION_PRIV_H

#include <sys/socket.h>
#include <sys/un.h>

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <termios.h>
#include <time.h>

#include "event.h"
#include "msg.h"
#include "policy.h"
#include "proc.h"
#include "sandbox.h"
#include "session.h"
#include "workspace.h"

#define SESSION_MAX_CHILDREN	16
#define SESSION_MAX_CLIENTS	16
#define SESSION_READY_MS	15000	/* children must be READY by then */
#define SESSION_GRACE_MS	3000	/* SHUTDOWN -> SIGKILL */
#define SESSION_MAX_CREDENTIALS	32

struct session;

/* How many of a row a session has. */
enum session_spawn {
	SPAWN_ONE,		/* one */
	SPAWN_PER_PROXY,	/* --proxies N, else one per core (proxy mode) */
	SPAWN_WITH_VM,		/* one in a session with a VM, none in proxy mode */
	SPAWN_WITH_WORKSPACE,	/* one when a directory is shared */
};

/* One row of the process table (session.c; derived from: session_proc.c). */
struct session_proc_spec {
	enum proc_id	 id;
	enum session_spawn spawn;
	const struct imsg_handler *handlers;	/* what it may say to us */
	size_t		 nhandlers;
	/* Gets a peer channel to each instance of these (or the first). */
	struct session_peer {
		enum proc_id	 id;
		bool		 first_only;
	}		 peers[2];
	size_t		 npeers;
	bool		 backend;	/* shut down once its users are gone */
	bool		 network;	/* shares the host's network namespace */
	bool		 db_dir;	/* gets the session's db/ on PROC_DIR_FD */
};

struct session_child {
	struct session	*s;
	const struct session_proc_spec *spec;
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

/* Why a terminal is let go. */
enum term_why {
	TERM_USER,	/* Ctrl-]: tell its owner */
	TERM_GONE,	/* its owner or the terminal went away */
	TERM_END,	/* the session ends: the terminal stays ours to the end */
};

/* The terminal and the guest console relay (session_term.c). */
struct session_term {
	struct termios	 saved_tio;
	bool		 tio_saved;
	enum term_owner	 owner;
	int		 in, out;
	bool		 in_watched;
	bool		 in_eof;	/* TERM_SELF: stdin ended, or a file */
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
	 * (wfd; not out's description, which the user's shell shares).  What
	 * it cannot take waits in tout and the console is not read meanwhile,
	 * so the guest's writes wait: nothing is lost.
	 */
	int		 wfd;		/* out or our own open; -1 */
	bool		 wfd_own;
	bool		 wfd_watched;
	bool		 console_watched;
	bool		 console_gone;	/* read EOF or error */
	char		 tout[16384];
	size_t		 tout_len;
	int		 client;	/* TERM_CLIENT: index in clients[] */
	int		 front_fd;	/* to the front process, or -1 */
};

struct listener {
	struct session	*s;
	int		 fd;
	uint32_t	 port_tag;
};

struct session {
	struct session_opts opts;
	char		 id[MSG_SESSION_MAX];
	char		 ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int		 ctl_fd;
	int		 sig_fd;
	int		 log_pipe;	/* detached: children's stderr */
	int		 db_dirfd;	/* sessions/<id>/db until spawned, or -1 */
	int		 dir_lock_fd;	/* sessions/<id>, read-locked while we live */
	int		 detach_ready;	/* detached: told once session.json is
					   written; the front then prints the
					   id and exits (-1 otherwise) */
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
	struct session_child *certd;
	struct session_child *policyd;
	struct session_child *proxies[SESSION_MAX_CHILDREN];
	int		 nproxies;
	int		 next_proxy;	/* round robin */
	struct listener	 listeners[SESSION_MAX_LISTENERS];
	int		 nlisteners;
	/* SESSION_VM */
	struct vm_files	 vmf;
	struct session_child *vmm;
	struct session_child *fsd;	/* with a workspace */
	struct workspace ws;
	bool		 vm_started;
	int		 serial_fd;	/* console.log */
	struct session_term term;
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

/* session.c */
void	session_stop(struct session *, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	session_check_ready(struct session *);
void	session_finish_if_done(struct session *);
void	on_log_pipe(int fd, uint32_t events, void *arg);
extern const struct session_proc_spec session_procs[];
extern const size_t session_nprocs;

/* session_proc.c */
void	session_spawn_all(struct session *, int nproxies, bool vmm);
void	session_wire_peers(struct session *);
int	send_child(struct session_child *, uint32_t type, uint32_t peerid,
	    int fd, const void *data, size_t len);
size_t	children_alive(const struct session *);
bool	child_sandbox_ok(const struct session_child *, char *why, size_t len);
void	reap_children(struct session *);
void	shutdown_children(struct session *);
void	grace_expired(void *arg);

/* session_ctl.c */
bool	session_name_live(const char *id);
void	ctl_listen(struct session *);
void	ctl_reply(struct ctl_client *, uint32_t type, const void *, size_t);
void	ctl_on_child_status(struct session *, struct session_child *,
	    struct imsg *);
void	ctl_reload_done(struct session *, bool ok, const char *text);
void	session_reload(struct session *, int client);
void	session_what(const struct session *, char *buf, size_t len);

/* session_term.c */
void	term_winsize(struct session *);
void	term_input_update(struct session *);
void	term_attach(struct session *, enum term_owner, int in, int out,
	    int client);
void	term_detach(struct session *, enum term_why);
void	console_attach(struct session *);
void	console_detach(struct session *);
void	front_fork(struct session *);

/*
 * The policy files of one start or reload, read once (session_setup.c):
 * the user file (or, without one, the agent whose built-in default
 * policyd applies) and the company file, as bytes.
 */
struct policy_input {
	bool		 ok;		/* both read */
	char		 user[PATH_MAX], corp[PATH_MAX];
	const char	*agent;		/* for the built-in default */
	char		*ubuf, *cbuf;
	size_t		 ulen, clen;
	bool		 upresent, cpresent;
};

/* session_setup.c */
int	policy_input_read(struct policy_input *, const char *agent, char *err,
	    size_t errlen);
struct policy *policy_input_parse(const struct policy_input *, char *err,
	    size_t errlen);
void	policy_input_free(struct policy_input *);
int	send_policy(struct session *, const struct policy_input *);
void	session_dir_make(struct session *);
void	send_audit_fd(struct session *);
void	send_ca(struct session *);
int	send_proxy_settings(struct session *, const struct policy *,
	    char *err, size_t errlen);
int	vm_settings(struct session *, const struct policy *, char *err,
	    size_t errlen);
void	send_vm_setup(struct session *);
void	send_fs_setup(struct session *);
int	open_console_log(struct session *);
void	session_record(struct session *, bool ended);

/* session_listen.c */
int	open_listeners(struct session *, char *err, size_t errlen);

#endif
