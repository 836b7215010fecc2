/*
 * capsemctl: the one command of capsem.  A table of subcommands; usage is
 * generated from it.  Exit 0 success, 1 denied/failed, 2 usage/config error.
 */
#include <sys/signalfd.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capsem_config.h"
#include "capsemctl.h"
#include "cmd_doctor.h"
#include "cmd_list.h"
#include "ctl_client.h"
#include "log.h"
#include "msg.h"
#include "proc.h"

static int	cmd_version(int, char *[]);
static int	cmd_status(int, char *[]);
static int	cmd_stop(int, char *[]);
static int	cmd_reload(int, char *[]);
static int	cmd_help(int, char *[]);
static int	cmd_attach(int, char *[]);

static const struct command {
	const char	*name;
	int		(*fn)(int, char *[]);
	const char	*usage;
	const char	*what;
} commands[] = {
	{ "start", cmd_start, "start [-d] [-n name] [--image NAME|DIR] "
	    "[-w DIR[:ro] | --no-workspace] [--force] "
	    "[-e NAME=VALUE] [--mem MB] [--cpus N] [--user U] "
	    "claude|gemini|codex|shell [args] | -- command",
	    "start an agent, a shell or a command in a new VM" },
	{ "start", cmd_start, "start [-d] --kernel K --initrd I [--disk D] "
	    "[-w DIR[:ro]] [--force] [-e NAME=VALUE] [--mem MB] [--cpus N] [--user U] -- command",
	    "boot a given kernel and initrd" },
	{ "start", cmd_start, "start --host-only [-d] [-n name] [agent]",
	    "the host-side processes alone, no VM" },
	{ "proxy", cmd_proxy,
	    "proxy -l ADDR:PORT [--http ADDR:PORT] [--dns ADDR:PORT]",
	    "the host side without a VM, for host programs and tests" },
	{ "list", cmd_list, CMD_LIST_USAGE,
	    "list sessions: running, ended and stale" },
	{ "status", cmd_status, "status [--json] id",
	    "show a session's processes and their sandboxes" },
	{ "attach", cmd_attach, "attach id",
	    "put this terminal on a session's console (Ctrl-] detaches)" },
	{ "stop", cmd_stop, "stop id", "stop a session" },
	{ "reload", cmd_reload, "reload id", "reload a session's policy" },
	{ "doctor", cmd_doctor, CMD_DOCTOR_USAGE,
	    "check that this host can run a session, and what to fix" },
	CAPSEMCTL_EXTRA_COMMANDS
	{ "version", cmd_version, "version", "print the version" },
	{ "help", cmd_help, "help [command]",
	    "print this list, or one command's usage" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage_all(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: capsemctl [-v] command [arguments]\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(fp, "  %-52s %s\n", commands[i].usage, commands[i].what);
}

static int	usage_lines(FILE *, const char *);

int
usage_of(const char *name)
{
	if (!usage_lines(stderr, name))
		usage_all(stderr);
	return 2;
}

static int
wants_help(int argc, char *argv[])
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}

/* The usage lines of one command to fp; 0 if there is no such command. */
static int
usage_lines(FILE *fp, const char *name)
{
	size_t	 i;
	int	 found = 0;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0) {
			fprintf(fp, "%s capsemctl %s\n", found ? "      " :
			    "usage:", commands[i].usage);
			found = 1;
		}
	return found;
}

static int
cmd_help(int argc, char *argv[])
{
	if (argc == 1) {
		usage_all(stdout);
		return 0;
	}
	if (argc == 2 && usage_lines(stdout, argv[1]))
		return 0;
	if (argc == 2)
		fprintf(stderr, "capsemctl: help: unknown command \"%s\"\n",
		    argv[1]);
	return usage_of("help");
}

static int
cmd_version(int argc, char *argv[])
{
	(void)argv;
	if (argc != 1)
		return usage_of("version");
	printf("capsemctl %s\n", CAPSEM_VERSION);
	return 0;
}

/* One status conversation: INFO, STATUS_ENTRY..., END. */
/*
 * The names of the four MSG_STATUS counters of each process, as their
 * man pages give them (NULL: not used).
 */
static const char *const status_counter_names[PROC_MAX][4] = {
	[PROC_CERTD] = { "signed", "from_cache", "refused", "cached" },
	[PROC_POLICYD] = { "allowed", "denied", "audit_lines", "commits" },
	[PROC_NETPROXY] = { "streams", "requests", "refused", "errors" },
	[PROC_VMM] = { "streams", "serial_bytes", "fs_requests", "fs_replies" },
	[PROC_FSD] = { "requests", "errors", "inodes", "inode_table_full" },
};

/* s as a JSON string: quotes, backslashes and other bytes escaped. */
static void
print_json_string(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* A process's counters and detail: JSON members, or an indented line. */
static void
print_status_counters(const struct msg_status *st, int json)
{
	const char *const *names = st->proc < PROC_MAX ?
	    status_counter_names[st->proc] : status_counter_names[PROC_PARENT];
	int	 i, n = 0;

	if (json) {
		printf(",\"counters\":{");
		for (i = 0; i < 4; i++)
			if (names[i] != NULL)
				printf("%s\"%s\":%llu", n++ ? "," : "", names[i],
				    (unsigned long long)st->counters[i]);
		printf("},\"detail\":");
		print_json_string(st->detail);
		return;
	}
	printf("      ");
	for (i = 0; i < 4; i++)
		if (names[i] != NULL)
			printf("%s%s %llu", n++ ? ", " : "", names[i],
			    (unsigned long long)st->counters[i]);
	printf("%s", n ? "; " : "");
	for (i = 0; st->detail[i] != '\0'; i++)
		putchar(st->detail[i] >= 0x20 && st->detail[i] < 0x7f ?
		    st->detail[i] : '?');
	putchar('\n');
}

static int
print_status(const char *id, int json)
{
	struct ctl_conn	 cc;
	struct imsg	 imsg;
	struct msg_ctl_info info;
	struct msg_status st;
	char		 sb[256];
	int		 r = -1, first = 1;

	if (ctl_connect(&cc, id) == -1) {
		fprintf(stderr, "capsemctl: no session %s%s%s\n", id,
		    errno == ENOENT ? "" : ": ",
		    errno == ENOENT ? "" : strerror(errno));
		return 1;
	}
	if (ctl_send(&cc, MSG_CTL_STATUS) == -1)
		goto fail;
	while ((r = ctl_next(&cc, &imsg, 5000)) == 1) {
		switch (imsg.hdr.type) {
		case MSG_CTL_INFO:
			if (imsg.len != sizeof(info))
				goto bad;
			memcpy(&info, imsg.data, sizeof(info));
			if (!imsg_str_ok(info.session_id, sizeof(info.session_id)) ||
			    !imsg_str_ok(info.mode, sizeof(info.mode)))
				goto bad;
			if (json)
				printf("{\"session\":\"%s\",\"mode\":\"%s\","
				    "\"started\":%lld,\"processes\":[",
				    info.session_id, info.mode,
				    (long long)info.started);
			else
				printf("session %s (%s)\n", info.session_id,
				    info.mode);
			break;
		case MSG_CTL_STATUS_ENTRY:
			if (imsg.len != sizeof(st))
				goto bad;
			memcpy(&st, imsg.data, sizeof(st));
			if (!imsg_str_ok(st.detail, sizeof(st.detail)) ||
			    !imsg_str_ok(st.sandbox.note, sizeof(st.sandbox.note)))
				goto bad;
			if (st.proc == PROC_PARENT)
				snprintf(sb, sizeof(sb), "not sandboxed");
			else
				sandbox_report_string(&st.sandbox, sb, sizeof(sb));
			if (json) {
				printf("%s{\"process\":\"%s\",\"instance\":%u,"
				    "\"pid\":%d,\"sandbox\":\"%s\"",
				    first ? "" : ",", proc_name(st.proc),
				    st.instance, st.pid, sb);
				print_status_counters(&st, json);
				printf("}");
				first = 0;
			} else {
				printf("  %-16s %-3u pid %-7d %s\n",
				    proc_name(st.proc), st.instance, st.pid, sb);
				print_status_counters(&st, json);
			}
			break;
		case MSG_CTL_END:
			if (json)
				printf("]}\n");
			ctl_close(&cc);
			return 0;
		default:
			goto bad;
		}
	}
fail:
	fprintf(stderr, "capsemctl: session %s: %s\n", id,
	    r == 0 ? "closed the connection" : strerror(errno));
	ctl_close(&cc);
	return 1;
bad:
	fprintf(stderr, "capsemctl: session %s: malformed answer\n", id);
	ctl_close(&cc);
	return 1;
}

static int
json_flag(int *argc, char ***argv, const char *cmd, int *json)
{
	int ch;
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};

	*json = 0;
	while ((ch = getopt_long(*argc, *argv, "+j", longopts, NULL)) != -1) {
		if (ch != 'j')
			return usage_of(cmd);
		*json = 1;
	}
	*argc -= optind;
	*argv += optind;
	return 0;
}

static int
cmd_status(int argc, char *argv[])
{
	int	 json, r;

	if ((r = json_flag(&argc, &argv, "status", &json)) != 0)
		return r;
	if (argc != 1)
		return usage_of("status");
	return print_status(argv[0], json);
}

static int
simple_request(const char *cmd, const char *id, uint32_t type)
{
	struct ctl_conn	 cc;
	struct imsg	 imsg;
	struct msg_ctl_result res;
	int		 r;

	if (ctl_connect(&cc, id) == -1) {
		fprintf(stderr, "capsemctl: %s: no session %s\n", cmd, id);
		return 1;
	}
	if (ctl_send(&cc, type) == -1 ||
	    (r = ctl_next(&cc, &imsg, 10000)) != 1 ||
	    imsg.hdr.type != MSG_CTL_RESULT || imsg.len != sizeof(res)) {
		fprintf(stderr, "capsemctl: %s: session %s did not answer\n",
		    cmd, id);
		ctl_close(&cc);
		return 1;
	}
	memcpy(&res, imsg.data, sizeof(res));
	res.text[sizeof(res.text) - 1] = '\0';
	ctl_close(&cc);
	fprintf(res.ok ? stdout : stderr, "%s\n", res.text);
	return res.ok ? 0 : 1;
}

static int
cmd_stop(int argc, char *argv[])
{
	struct ctl_conn cc;
	struct imsg	imsg;
	int		r;

	if (argc != 2)
		return usage_of("stop");
	if ((r = simple_request("stop", argv[1], MSG_CTL_STOP)) != 0)
		return r;
	/* Wait until the session is gone (its socket disappears). */
	for (int i = 0; i < 100; i++) {
		if (ctl_connect(&cc, argv[1]) == -1)
			return 0;
		(void)ctl_next(&cc, &imsg, 100);
		ctl_close(&cc);
		usleep(50000);
	}
	fprintf(stderr, "capsemctl: stop: session %s is still there\n", argv[1]);
	return 1;
}

/*
 * attach: our terminal's fds go to the session, which relays them to the
 * guest's console itself; we wait for DETACHED or ENDED and pass on
 * window size changes.  Exit status: the session's when it ends.
 */
static int
cmd_attach(int argc, char *argv[])
{
	struct ctl_conn	 cc;
	struct imsg	 imsg;
	struct msg_ctl_result res;
	struct msg_ctl_ended me;
	struct termios	 tio, raw;
	struct signalfd_siginfo si;
	struct pollfd	 pfd[2];
	sigset_t	 set;
	char		 msg[sizeof(res.text) + sizeof(me.reason) + 64];
	bool		 have_tio = false;
	int		 sfd, r, code = 1;
	ssize_t		 n;

	if (argc != 2)
		return usage_of("attach");
	if (!session_id_valid(argv[1])) {
		fprintf(stderr, "capsemctl: attach: bad session id \"%s\"\n",
		    argv[1]);
		return 2;
	}
	if (ctl_connect(&cc, argv[1]) == -1) {
		fprintf(stderr, "capsemctl: attach: no session %s\n", argv[1]);
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (sfd = signalfd(-1, &set, SFD_CLOEXEC)) == -1) {
		fprintf(stderr, "capsemctl: attach: signalfd: %s\n",
		    strerror(errno));
		ctl_close(&cc);
		return 1;
	}
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &tio) == 0) {
		raw = tio;
		cfmakeraw(&raw);
		raw.c_oflag |= OPOST | ONLCR;
		have_tio = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	if (ctl_send_fd(&cc, MSG_CTL_ATTACH_IN, STDIN_FILENO) == -1 ||
	    ctl_send_fd(&cc, MSG_CTL_ATTACH_OUT, STDOUT_FILENO) == -1) {
		snprintf(msg, sizeof(msg), "cannot pass the "
		    "terminal: %s", strerror(errno));
		goto out;
	}
	pfd[0].fd = cc.ibuf.fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = sfd;
	pfd[1].events = POLLIN;
	snprintf(msg, sizeof(msg), "session %s closed the "
	    "connection", argv[1]);
	for (;;) {
		while ((r = imsg_get(&cc.ibuf, &imsg)) == 1) {
			switch (imsg.hdr.type) {
			case MSG_CTL_RESULT:
			case MSG_CTL_DETACHED:
				if (imsg.len != sizeof(res))
					goto bad;
				memcpy(&res, imsg.data, sizeof(res));
				res.text[sizeof(res.text) - 1] = '\0';
				if (imsg.hdr.type == MSG_CTL_RESULT && res.ok) {
					fprintf(stderr, "capsem: %s\r\n",
					    res.text);
					break;
				}
				code = res.ok ? 0 : 1;
				snprintf(msg, sizeof(msg), "%s",
				    res.text);
				goto out;
			case MSG_CTL_ENDED:
				if (imsg.len != sizeof(me))
					goto bad;
				memcpy(&me, imsg.data, sizeof(me));
				me.reason[sizeof(me.reason) - 1] = '\0';
				code = me.code < 0 || me.code > 255 ? 1 :
				    me.code;
				snprintf(msg, sizeof(msg), "session %s ended: "
				    "%s", argv[1], me.reason);
				goto out;
			default:
				goto bad;
			}
		}
		if (r == -1)
			goto bad;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if ((pfd[1].revents & POLLIN) &&
		    read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo != SIGWINCH) {
				snprintf(msg, sizeof(msg),
				    "stopped by signal %s",
				    strsignal((int)si.ssi_signo));
				goto out;
			}
			if (ctl_send(&cc, MSG_CTL_WINSIZE) == -1)
				goto out;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = imsgbuf_read(&cc.ibuf);
			if (n == 0 || (n == -1 && errno != EAGAIN))
				goto out;
		}
	}
bad:
	snprintf(msg, sizeof(msg), "session %s: malformed "
	    "answer", argv[1]);
	code = 1;
out:
	if (have_tio)
		tcsetattr(STDIN_FILENO, TCSANOW, &tio);
	if (code == 0)
		fprintf(stderr, "\ncapsem: %s\n", msg);
	else
		fprintf(stderr, "\ncapsemctl: %s\n", msg);
	ctl_close(&cc);
	close(sfd);
	return code;
}

static int
cmd_reload(int argc, char *argv[])
{
	if (argc != 2)
		return usage_of("reload");
	return simple_request("reload", argv[1], MSG_CTL_RELOAD);
}

int
main(int argc, char *argv[])
{
	size_t	 i;
	int	 ch, verbose = 0;

	log_init(1, 0);
	log_procinit("capsemctl");
	static const struct option main_longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};

	while ((ch = getopt_long(argc, argv, "+vh", main_longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'v':
			verbose++;
			break;
		case 'h':
			usage_all(stdout);
			return 0;
		default:
			usage_all(stderr);
			return 2;
		}
	}
	log_setverbose(verbose);
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage_all(stderr);
		return 2;
	}
	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i].name, argv[0]) != 0)
			continue;
		if (wants_help(argc, argv)) {
			usage_lines(stdout, argv[0]);
			return 0;
		}
		optind = 1;
		return commands[i].fn(argc, argv);
	}
	fprintf(stderr, "capsemctl: unknown command \"%s\"\n", argv[0]);
	usage_all(stderr);
	return 2;
}
