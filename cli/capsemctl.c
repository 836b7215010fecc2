/*
 * capsemctl: the one command of capsem.  A table of subcommands; usage is
 * generated from it.  Exit 0 success, 1 denied/failed, 2 usage/config error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capsem_config.h"
#include "capsemctl.h"
#include "control.h"
#include "log.h"
#include "msg.h"
#include "proc.h"
#include "sandbox.h"
#include "session.h"

static int	cmd_version(int, char *[]);
static int	cmd_start(int, char *[]);
static int	cmd_list(int, char *[]);
static int	cmd_status(int, char *[]);
static int	cmd_stop(int, char *[]);
static int	cmd_reload(int, char *[]);
static int	cmd_help(int, char *[]);
static int	cmd_proxy(int, char *[]);

static const struct command {
	const char	*name;
	int		(*fn)(int, char *[]);
	const char	*usage;
	const char	*what;
} commands[] = {
	{ "start", cmd_start, "start [-d] [--host-only] [-n name] [agent]",
	    "start a session (host side only until the agent image lands)" },
	{ "start", cmd_start, "start [-d] --kernel K --initrd I [--disk D] "
	    "[--mem MB] [--cpus N] [--user U] -- command",
	    "boot a guest and run command on its console" },
	{ "proxy", cmd_proxy,
	    "proxy -l ADDR:PORT [--http ADDR:PORT] [--dns ADDR:PORT]",
	    "the host side without a VM, for host programs and tests" },
	{ "list", cmd_list, "list [--json]", "list running sessions" },
	{ "status", cmd_status, "status [--json] id",
	    "show a session's processes and their sandboxes" },
	{ "stop", cmd_stop, "stop id", "stop a session" },
	{ "reload", cmd_reload, "reload id", "reload a session's policy" },
	CAPSEMCTL_EXTRA_COMMANDS
	{ "version", cmd_version, "version", "print the version" },
	{ "help", cmd_help, "help", "print this list" },
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

int
usage_of(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0) {
			fprintf(stderr, "usage: capsemctl %s\n",
			    commands[i].usage);
			return 2;
		}
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

static int
cmd_help(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	usage_all(stdout);
	return 0;
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

static int
cmd_start(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "host-only", no_argument, NULL, 'H' },
		{ "detach", no_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "disk", required_argument, NULL, 'D' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "user", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 }
	};
	struct session_opts opts;
	const char *errstr;
	int	 ch, host_only = 0;

	memset(&opts, 0, sizeof(opts));
	opts.mode = SESSION_HOST_ONLY;
	opts.verbose = log_getverbose();
	while ((ch = getopt_long(argc, argv, "+dHn:", longopts, NULL)) != -1) {
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
	argc -= optind;
	argv += optind;
	if (opts.vm.kernel != NULL) {
		if (host_only)
			return usage_of("start");
		opts.mode = SESSION_VM;
		if (opts.vm.ninitrds == 0) {
			fprintf(stderr, "capsemctl: start --kernel needs "
			    "--initrd (the image's, with capsem-init)\n");
			return 2;
		}
		opts.vm.argv = argv;
		opts.vm.argc = argc;
		return session_run(&opts);
	}
	if (argc > 1)
		return usage_of("start");
	opts.agent = argc == 1 ? argv[0] : NULL;
	if (opts.agent != NULL)
		fprintf(stderr, "capsem: no agent image is part of this build "
		    "yet: running the host side only (policyd, certd, netproxy, "
		    "an idle vmm); %s is not started.  To boot a guest: "
		    "capsemctl start --kernel K --initrd I [--disk D] -- "
		    "command\n", opts.agent);
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
cmd_list(int argc, char *argv[])
{
	char	 ids[64][MSG_SESSION_MAX];
	size_t	 n, i;
	int	 json, r;

	if ((r = json_flag(&argc, &argv, "list", &json)) != 0)
		return r;
	if (argc != 0)
		return usage_of("list");
	n = ctl_list_sessions(ids, 64);
	if (json) {
		printf("[");
		for (i = 0; i < n; i++)
			printf("%s\"%s\"", i ? "," : "", ids[i]);
		printf("]\n");
		return 0;
	}
	for (i = 0; i < n; i++)
		printf("%s\n", ids[i]);
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
	while ((ch = getopt(argc, argv, "+vh")) != -1) {
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
	if (strcmp(argv[0], "--help") == 0) {
		usage_all(stdout);
		return 0;
	}
	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i].name, argv[0]) != 0)
			continue;
		if (wants_help(argc, argv)) {
			printf("usage: capsemctl %s\n", commands[i].usage);
			return 0;
		}
		optind = 1;
		return commands[i].fn(argc, argv);
	}
	fprintf(stderr, "capsemctl: unknown command \"%s\"\n", argv[0]);
	usage_all(stderr);
	return 2;
}
