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
#include "agent.h"
#include "capsemctl.h"
#include "cmd_doctor.h"
#include "cmd_image.h"
#include "cmd_list.h"
#include "hostprobe.h"
#include "ctl_client.h"
#include "log.h"
#include "msg.h"
#include "proc.h"
#include "sandbox.h"
#include "session.h"

static int	cmd_version(int, char *[]);
static int	cmd_start(int, char *[]);
static int	cmd_status(int, char *[]);
static int	cmd_stop(int, char *[]);
static int	cmd_reload(int, char *[]);
static int	cmd_help(int, char *[]);
static int	cmd_proxy(int, char *[]);
static int	cmd_attach(int, char *[]);

static const struct command {
	const char	*name;
	int		(*fn)(int, char *[]);
	const char	*usage;
	const char	*what;
} commands[] = {
	{ "start", cmd_start, "start [-d] [-n name] [--image NAME|DIR] "
	    "[-e NAME=VALUE] [--mem MB] [--cpus N] [--user U] "
	    "claude|gemini|codex|shell [args] | -- command",
	    "start an agent, a shell or a command in a new VM" },
	{ "start", cmd_start, "start [-d] --kernel K --initrd I [--disk D] "
	    "[-e NAME=VALUE] [--mem MB] [--cpus N] [--user U] -- command",
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

/* The shell of "start shell": the image's bash if it has one. */
static char *shell_argv[] = {
	"/bin/sh", "-c",
	"if [ -x /bin/bash ]; then exec /bin/bash -l; fi; exec /bin/sh -l",
	NULL
};

/*
 * The image of `start [--image NAME|DIR]`: a directory with manifest.json,
 * vmlinux, initrd.img and the root file system.  A missing named image is
 * built first (the agent image takes minutes).
 */
struct start_image {
	char	 dir[PATH_MAX];
	char	 kernel[PATH_MAX];
	char	 initrd[PATH_MAX];
	char	 disk[PATH_MAX];
	char	 rootfstype[16];
	char	 user[64];
	char	 command[256];
};

static int
start_image_open(const char *image, const char *agent, struct start_image *im)
{
	char	 why[PATH_MAX + 128], rootfs[128], key[128];
	int	 named = strchr(image, '/') == NULL;

	if (named) {
		if (image_dir(image, im->dir, sizeof(im->dir)) == -1)
			return 2;
	} else if (strlcpy(im->dir, image, sizeof(im->dir)) >= sizeof(im->dir)) {
		fprintf(stderr, "capsemctl: --image path too long\n");
		return 2;
	}
	if (!image_dir_ready(im->dir, why, sizeof(why))) {
		if (!named) {
			fprintf(stderr, "capsemctl: image %s\n", why);
			return 1;
		}
		fprintf(stderr, "capsem: image \"%s\" is not built yet (%s).\n"
		    "capsem: building it now: Debian 12, Node and the agents "
		    "from the npm registry, about 5-10 minutes and 2 GB of "
		    "downloads the first time; `capsemctl image build %s` does "
		    "the same.\n", image, why, image);
		if (image_build(image, 0, 0) != 0) {
			fprintf(stderr, "capsemctl: image \"%s\" could not be "
			    "built; see the messages above\n", image);
			return 1;
		}
		if (!image_dir_ready(im->dir, why, sizeof(why))) {
			fprintf(stderr, "capsemctl: image %s\n", why);
			return 1;
		}
	}
	if (image_manifest_string(im->dir, "rootfs", rootfs, sizeof(rootfs)) ==
	    -1 || strchr(rootfs, '/') != NULL || rootfs[0] == '.')
		strlcpy(rootfs, "rootfs.erofs", sizeof(rootfs));
	if (image_manifest_string(im->dir, "rootfstype", im->rootfstype,
	    sizeof(im->rootfstype)) == -1)
		im->rootfstype[0] = '\0';
	if (image_manifest_string(im->dir, "user", im->user, sizeof(im->user))
	    == -1)
		im->user[0] = '\0';
	if ((size_t)snprintf(im->kernel, sizeof(im->kernel), "%s/vmlinux",
	    im->dir) >= sizeof(im->kernel) ||
	    (size_t)snprintf(im->initrd, sizeof(im->initrd), "%s/initrd.img",
	    im->dir) >= sizeof(im->initrd) ||
	    (size_t)snprintf(im->disk, sizeof(im->disk), "%s/%s", im->dir,
	    rootfs) >= sizeof(im->disk)) {
		fprintf(stderr, "capsemctl: image path too long\n");
		return 2;
	}
	im->command[0] = '\0';
	if (agent != NULL) {
		snprintf(key, sizeof(key), "agents/%s/command", agent);
		if (image_manifest_string(im->dir, key, im->command,
		    sizeof(im->command)) == -1 || im->command[0] == '\0') {
			fprintf(stderr, "capsemctl: image %s has no %s (its "
			    "manifest.json lacks %s); build the agent image: "
			    "capsemctl image build\n", im->dir, agent, key);
			return 1;
		}
	}
	return 0;
}

/*
 * Before anything is spawned or made: can this host run our guest?  If
 * not, one line of what was found and what would fix it, and -1.
 */
static int
start_host_can_run(void)
{
	struct host_probe hp;
	char	 found[256], verdict[512];

	host_probe(NULL, &hp);
	if (host_probe_can_run(&hp))
		return 0;
	host_probe_found(&hp, found, sizeof(found));
	host_probe_verdict(&hp, verdict, sizeof(verdict));
	fprintf(stderr, "capsemctl: start: this host cannot run the VM: %s "
	    "(found: %s; `capsemctl doctor` checks everything)\n", verdict,
	    found);
	return -1;
}

static int
cmd_start(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "host-only", no_argument, NULL, 'H' },
		{ "detach", no_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "image", required_argument, NULL, 'I' },
		{ "env", required_argument, NULL, 'e' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "disk", required_argument, NULL, 'D' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "user", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 }
	};
	struct session_opts opts;
	struct start_image im;
	const char *errstr, *image = NULL;
	char	*agent_argv[VM_ARGV_MAX + 1];
	int	 ch, host_only = 0, dashdash, i, r;

	memset(&opts, 0, sizeof(opts));
	opts.mode = SESSION_HOST_ONLY;
	opts.verbose = log_getverbose();
	while ((ch = getopt_long(argc, argv, "+dHn:e:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			opts.detach = true;
			break;
		case 'H':
			host_only = 1;
			break;
		case 'n':
			if (!session_id_valid(optarg)) {
				fprintf(stderr, "capsemctl: bad session name "
				    "\"%s\": use 1-31 of A-Z a-z 0-9 . _ -\n",
				    optarg);
				return 2;
			}
			opts.name = optarg;
			break;
		case 'I':
			image = optarg;
			break;
		case 'e':
			if (!env_assignment_ok(optarg)) {
				fprintf(stderr, "capsemctl: --env %s: not "
				    "NAME=VALUE (NAME of A-Z a-z 0-9 _)\n",
				    optarg);
				return 2;
			}
			if (vm_env_set(&opts.vm, optarg) == -1) {
				fprintf(stderr, "capsemctl: at most %d --env\n",
				    VM_ENV_MAX);
				return 2;
			}
			break;
		case 'k':
			opts.vm.kernel = optarg;
			break;
		case 'i':
			if (opts.vm.ninitrds == VM_MAX_INITRDS - 1) {
				fprintf(stderr, "capsemctl: at most %d --initrd\n",
				    VM_MAX_INITRDS - 1);
				return 2;
			}
			opts.vm.initrds[opts.vm.ninitrds++] = optarg;
			break;
		case 'D':
			opts.vm.disk = optarg;
			break;
		case 'm':
			opts.vm.mem_mb = (unsigned)strtonum(optarg, 64, 65536,
			    &errstr);
			if (errstr != NULL) {
				fprintf(stderr, "capsemctl: --mem %s: %s "
				    "(MiB, 64-65536)\n", optarg, errstr);
				return 2;
			}
			break;
		case 'c':
			opts.vm.cpus = (unsigned)strtonum(optarg, 1, 64, &errstr);
			if (errstr != NULL) {
				fprintf(stderr, "capsemctl: --cpus %s: %s "
				    "(1-64)\n", optarg, errstr);
				return 2;
			}
			break;
		case 'u':
			opts.vm.user = optarg;
			break;
		default:
			return usage_of("start");
		}
	}
	dashdash = optind > 1 && strcmp(argv[optind - 1], "--") == 0;
	argc -= optind;
	argv += optind;
	if (host_only) {
		/* The host side alone: no guest, for tests and status. */
		if (argc > 1 || dashdash || opts.vm.kernel != NULL ||
		    image != NULL || opts.vm.nenv > 0)
			return usage_of("start");
		opts.agent = argc == 1 ? argv[0] : NULL;
		return session_run(&opts);
	}
	opts.mode = SESSION_VM;
	if (opts.vm.kernel != NULL) {
		if (image != NULL)
			return usage_of("start");
		if (opts.vm.ninitrds == 0) {
			fprintf(stderr, "capsemctl: start --kernel needs "
			    "--initrd (the image's, with capsem-init)\n");
			return 2;
		}
		if (start_host_can_run() == -1)
			return 1;
		opts.vm.argv = argv;
		opts.vm.argc = argc;
		return session_run(&opts);
	}
	if (argc == 0)
		return usage_of("start");
	if (!dashdash && strcmp(argv[0], "shell") != 0 &&
	    agent_find(argv[0]) == NULL) {
		fprintf(stderr, "capsemctl: start: unknown agent \"%s\": use %s, "
		    "shell, or -- command\n", argv[0], agent_names());
		return 2;
	}
	if (opts.vm.ninitrds > 0 || opts.vm.disk != NULL) {
		fprintf(stderr, "capsemctl: start: --initrd and --disk go with "
		    "--kernel; an image brings its own\n");
		return 2;
	}
	/* Say what is missing before minutes of image building. */
	if (start_host_can_run() == -1)
		return 1;
	if (!dashdash)
		opts.agent = agent_find(argv[0]) != NULL ? argv[0] : NULL;
	if ((r = start_image_open(image != NULL ? image : "default",
	    opts.agent, &im)) != 0)
		return r;
	opts.vm.kernel = im.kernel;
	opts.vm.initrds[0] = im.initrd;
	opts.vm.ninitrds = 1;
	opts.vm.disk = im.disk;
	if (im.rootfstype[0] != '\0')
		opts.vm.rootfstype = im.rootfstype;
	if (opts.vm.user == NULL && im.user[0] != '\0')
		opts.vm.user = im.user;
	if (dashdash) {
		opts.vm.argv = argv;
		opts.vm.argc = argc;
	} else if (opts.agent == NULL) {	/* shell */
		if (argc > 1)
			return usage_of("start");
		opts.what = "shell";
		opts.vm.argv = shell_argv;
		opts.vm.argc = 3;
	} else {
		if (argc > VM_ARGV_MAX)
			return usage_of("start");
		agent_argv[0] = im.command;
		for (i = 1; i < argc; i++)
			agent_argv[i] = argv[i];
		agent_argv[argc] = NULL;
		opts.what = opts.agent;
		opts.vm.argv = agent_argv;
		opts.vm.argc = argc;
	}
	return session_run(&opts);
}

static int
add_listen(struct session_opts *opts, const char *addr, uint32_t tag)
{
	if (opts->nlisten >= SESSION_MAX_LISTENERS ||
	    strlen(addr) >= sizeof(opts->listen[0].addr)) {
		fprintf(stderr, "capsemctl: proxy: too many or too long "
		    "listen addresses\n");
		return -1;
	}
	strlcpy(opts->listen[opts->nlisten].addr, addr,
	    sizeof(opts->listen[0].addr));
	opts->listen[opts->nlisten].port_tag = tag;
	opts->nlisten++;
	return 0;
}

static int
cmd_proxy(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "http", required_argument, NULL, 'H' },
		{ "dns", required_argument, NULL, 'D' },
		{ "detach", no_argument, NULL, 'd' },
		{ "agent", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	struct session_opts opts;
	int	 ch, have_tls = 0;

	memset(&opts, 0, sizeof(opts));
	opts.mode = SESSION_PROXY;
	opts.verbose = log_getverbose();
	while ((ch = getopt_long(argc, argv, "+l:da:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (add_listen(&opts, optarg, STREAM_HTTPS) == -1)
				return 2;
			have_tls = 1;
			break;
		case 'H':
			if (add_listen(&opts, optarg, STREAM_HTTP) == -1)
				return 2;
			break;
		case 'D':
			if (add_listen(&opts, optarg, STREAM_DNS) == -1)
				return 2;
			break;
		case 'd':
			opts.detach = true;
			break;
		case 'a':
			opts.agent = optarg;
			break;
		default:
			return usage_of("proxy");
		}
	}
	if (optind != argc || !have_tls)
		return usage_of("proxy");
	return session_run(&opts);
}

/* One status conversation: INFO, STATUS_ENTRY..., END. */
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
				    "\"pid\":%d,\"sandbox\":\"%s\"}",
				    first ? "" : ",", proc_name(st.proc),
				    st.instance, st.pid, sb);
				first = 0;
			} else
				printf("  %-16s %-3u pid %-7d %s\n",
				    proc_name(st.proc), st.instance, st.pid, sb);
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
