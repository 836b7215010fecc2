/*
 * capsem-fsd: the only process that touches the workspace.
 *
 * Life:
 *   sandbox   empty network namespace, empty root, no capabilities,
 *             no_new_privs, seccomp allowlist fsd.seccomp (file calls
 *             relative to fds only: no open, no socket, no execve); it
 *             keeps the uid of the user who started the session, so what
 *             it creates is theirs;
 *   parent    MSG_FS_SETUP{readonly, guest ids} + the workspace directory
 *             fd, once;
 *   vmm       MSG_FS_REQUEST{out_max} + one FUSE request -> MSG_FS_REPLY
 *             (none for FORGET), or MSG_FS_VIOLATION when it is malformed;
 *             peerid echoed.  When the vmm goes, fsd waits for the
 *             parent's SHUTDOWN (it is a backend).
 *
 * It never maps guest memory and never resolves a path (fs_server.h).
 */
#include <sys/socket.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "fs_server.h"
#include "fsd_seccomp.h"
#include "log.h"
#include "msg.h"

struct fsd {
	struct child	*child;
	bool		 set_up;
	struct fs_server server;
	struct imsgev	 vmm;
	bool		 have_vmm;
	bool		 vmm_gone;	/* its channel closed: no second one */
	uint64_t	 violations;
	uint8_t		 reply[MSG_FS_REPLY_MAX];
};

static const struct sandbox_spec fsd_sandbox = {
	.name = "fsd",
	.new_netns = true,
	.keep_uid = true,
	.nofile = FS_INODES_MAX + FS_FILES_MAX + 64,
	.rules = fsd_seccomp_rules,
	.nrules = FSD_SECCOMP_NRULES,
};

/* --- the vmm ------------------------------------------------------------- */

static void
vmm_fs_request(void *ctx, struct imsg *imsg)
{
	struct fsd	*fsd = ctx;
	struct msg_fs_request mr;
	ssize_t		 n;
	char		 why[150];

	if (!fsd->set_up)
		fatalx("FS_REQUEST before FS_SETUP");
	memcpy(&mr, imsg->data, sizeof(mr));
	n = fs_serve(&fsd->server, (const uint8_t *)imsg->data + sizeof(mr),
	    imsg->len - sizeof(mr), mr.out_max, fsd->reply, sizeof(fsd->reply),
	    why, sizeof(why));
	if (n == -1) {
		fsd->violations++;
		log_warnx("guest request refused: %s", why);
		if (imsgev_compose(&fsd->vmm, MSG_FS_VIOLATION,
		    imsg->hdr.peerid, -1, why, strlen(why)) == -1)
			fatal("send violation");
		return;
	}
	if (n > 0 && imsgev_compose(&fsd->vmm, MSG_FS_REPLY, imsg->hdr.peerid,
	    -1, fsd->reply, (size_t)n) == -1)
		fatal("send reply");
}

static const struct imsg_handler fsd_vmm_handlers[] = {
	{ MSG_FS_REQUEST, sizeof(struct msg_fs_request),
	    sizeof(struct msg_fs_request) + MSG_FS_REQUEST_MAX, IMSG_FD_NONE,
	    vmm_fs_request },
};

static void
vmm_closed(struct imsgev *iev, void *ctx)
{
	struct fsd *fsd = ctx;

	/*
	 * The parent sees the vmm go and ends the session (shutting us down
	 * as a backend); exiting here would race the vmm's own end and could
	 * be taken for the reason.  Just let go.
	 */
	log_info("the vmm closed its channel");
	imsgev_close(iev);
	fsd->vmm_gone = true;
}

static void
fsd_peer_channel(struct child *c, enum proc_id peer, uint32_t instance,
    int fd)
{
	struct fsd *fsd = c->ctx;

	(void)instance;
	if (peer != PROC_VMM || fsd->have_vmm)
		fatalx("unexpected peer channel from %s", proc_name(peer));
	imsgev_init(&fsd->vmm, c->loop, fd, sizeof(struct msg_fs_request) +
	    MSG_FS_REQUEST_MAX, "vmm", fsd_vmm_handlers,
	    sizeof(fsd_vmm_handlers) / sizeof(fsd_vmm_handlers[0]), fsd);
	fsd->vmm.on_close = vmm_closed;
	fsd->have_vmm = true;
}

/* --- the parent ---------------------------------------------------------- */

static void
parent_fs_setup(void *ctx, struct imsg *imsg)
{
	struct child	*c = ctx;
	struct fsd	*fsd = c->ctx;
	struct msg_fs_setup fs;

	if (fsd->set_up)
		fatalx("FS_SETUP twice");
	memcpy(&fs, imsg->data, sizeof(fs));
	if (fs.readonly > 1 || fs.inodes_max > FS_INODES_MAX)
		fatalx("FS_SETUP: bad settings");
	if (fs_server_init(&fsd->server, imsg->fd, fs.readonly == 1,
	    fs.guest_uid, fs.guest_gid, fs.inodes_max) == -1)
		fatal("workspace");
	imsg->fd = -1;
	fsd->set_up = true;
	log_debug("workspace %s, %u nodes at most",
	    fs.readonly ? "read-only" : "read-write",
	    (unsigned)fsd->server.inodes.max);
}

static const struct imsg_handler fsd_parent_handlers[] = {
	{ MSG_FS_SETUP, sizeof(struct msg_fs_setup),
	    sizeof(struct msg_fs_setup), IMSG_FD_REQUIRED, parent_fs_setup },
};

static void
fsd_status(struct child *c, struct msg_status *st)
{
	struct fsd	*fsd = c->ctx;
	struct fs_server *s = &fsd->server;

	if (!fsd->set_up) {
		snprintf(st->detail, sizeof(st->detail), "no workspace yet");
		return;
	}
	st->counters[0] = s->count.requests;
	st->counters[1] = s->count.errors;
	st->counters[2] = s->inodes.used;
	st->counters[3] = s->inodes.full;
	snprintf(st->detail, sizeof(st->detail),
	    "%s; requests %llu, errors %llu, refused %llu, malformed %llu, "
	    "nodes %u of %u (full %llu), open files %u",
	    s->readonly ? "read-only" : "read-write",
	    (unsigned long long)s->count.requests,
	    (unsigned long long)s->count.errors,
	    (unsigned long long)s->count.refused,
	    (unsigned long long)fsd->violations, (unsigned)s->inodes.used,
	    (unsigned)s->inodes.max, (unsigned long long)s->inodes.full,
	    (unsigned)fs_server_open_files(s));
}

static const struct child_def fsd_def = {
	.id = PROC_FSD,
	.sandbox = &fsd_sandbox,
	.parent_maxlen = 1024,	/* HELLO, VERBOSE, FS_SETUP ... */
	.parent_handlers = fsd_parent_handlers,
	.nparent_handlers = sizeof(fsd_parent_handlers) /
	    sizeof(fsd_parent_handlers[0]),
	.on_peer_channel = fsd_peer_channel,
	.on_status = fsd_status,
};

/*
 * --test-forbidden=open|socket: enter the sandbox and make a call the
 * allowlist lacks; the kernel kills us (SIGSYS), or we say we survived.
 */
static int
test_forbidden(const char *call)
{
	struct sandbox_report rep;

	sandbox_enter(&fsd_sandbox, &rep);
	if (strcmp(call, "open") == 0)
		syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY);
	else if (strcmp(call, "socket") == 0)
		syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	fprintf(stderr, "capsem-fsd: %s was allowed\n", call);
	return 1;
}

int
main(int argc, char *argv[])
{
	struct fsd	*fsd;

	if (argc == 2 && strncmp(argv[1], "--test-forbidden=", 17) == 0)
		return test_forbidden(argv[1] + 17);

	if ((fsd = calloc(1, sizeof(*fsd))) == NULL) {
		fprintf(stderr, "capsem-fsd: out of memory\n");
		return 1;
	}
	child_run(&fsd_def, fsd, argc, argv);
}
