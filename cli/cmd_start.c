/*
 * cmd_start.c: capsemctl start (an agent, a shell or a command in a new
 * VM; a given kernel and initrd; --host-only) and capsemctl proxy (the
 * host side without a VM).  Both end in session_run().
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "capsem_config.h"
#include "capsemctl.h"
#include "cmd_image.h"
#include "ctl_client.h"
#include "hostprobe.h"
#include "log.h"
#include "msg.h"
#include "session.h"
#include "workspace.h"

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
 * Before anything is spawned or made: can the workspace asked for (-w, or
 * the current directory by default) be shared?  The policy is not read
 * here; the session checks again with it (workspace_resolve).  0, or 1
 * after one line saying why not.
 */
static int
start_workspace_check(const struct vm_opts *o)
{
	struct workspace ws;
	char	 err[PATH_MAX + 256];

	if (workspace_resolve(o, NULL, &ws, err, sizeof(err)) == -1) {
		fprintf(stderr, "capsemctl: start: %s\n", err);
		return 1;
	}
	workspace_close(&ws);
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

int
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
		{ "workspace", required_argument, NULL, 'w' },
		{ "no-workspace", no_argument, NULL, 'N' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	struct session_opts opts;
	struct start_image im;
	const char *errstr, *image = NULL;
	char	*agent_argv[VM_ARGV_MAX + 1], wsdir[PATH_MAX], err[256];
	int	 ch, host_only = 0, dashdash, i, r;
	bool	 ro;

	memset(&opts, 0, sizeof(opts));
	opts.mode = SESSION_HOST_ONLY;
	opts.verbose = log_getverbose();
	while ((ch = getopt_long(argc, argv, "+dHn:e:w:", longopts, NULL)) != -1) {
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
		case 'w':
			if (workspace_parse_arg(optarg, wsdir, sizeof(wsdir),
			    &ro, err, sizeof(err)) == -1) {
				fprintf(stderr, "capsemctl: start: %s\n",
				    err);
				return 2;
			}
			opts.vm.workspace_arg = optarg;
			break;
		case 'N':
			opts.vm.workspace_none = true;
			break;
		case 'f':
			opts.vm.workspace_force = true;
			break;
		default:
			return usage_of("start");
		}
	}
	if (opts.vm.workspace_arg != NULL && opts.vm.workspace_none) {
		fprintf(stderr, "capsemctl: start: -w and --no-workspace "
		    "contradict each other\n");
		return usage_of("start");
	}
	dashdash = optind > 1 && strcmp(argv[optind - 1], "--") == 0;
	argc -= optind;
	argv += optind;
	if (host_only) {
		/* The host side alone: no guest, for tests and status. */
		if (argc > 1 || dashdash || opts.vm.kernel != NULL ||
		    image != NULL || opts.vm.nenv > 0)
			return usage_of("start");
		/* -w: capsem-fsd too, serving no guest (tests, status) */
		if (start_workspace_check(&opts.vm) != 0)
			return 1;
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
		/* a bare kernel shares nothing unless asked (-w) */
		opts.vm.workspace_default = false;
		if (start_workspace_check(&opts.vm) != 0)
			return 1;
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
	/* an image's agent, shell or command: the current directory */
	opts.vm.workspace_default = true;
	/* Say what is missing before minutes of image building. */
	if (start_workspace_check(&opts.vm) != 0)
		return 1;
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

int
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
