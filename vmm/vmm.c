/*
 * capsem-vmm: one KVM micro-VM.  Its whole life is here.
 *
 * Spawned by the session parent (fork + exec, channel on fd 3) as a child
 * (common/child.h): it enters its sandbox first (empty network namespace,
 * empty root, no capabilities, seccomp allowlist vmm.seccomp), then gets
 * from the parent, as messages (common/msg.h): MSG_VM_SETUP (memory, vCPUs,
 * command line), MSG_VM_FD for /dev/kvm, the kernel, initrds, disks, the
 * console and the serial log, the netproxy channel (MSG_PEER_CHANNEL),
 * and MSG_VM_START.  It opens nothing itself.
 *
 * Standalone (tests, bench): `capsem-vmm --standalone --kernel F ...`
 * opens the files named on its command line, then enters the same
 * sandbox and runs the same code.  See capsem-vmm(8).
 *
 * Threads: one per vCPU (KVM_RUN, port/MMIO exits; each narrows its own
 * seccomp filter with vmm_vcpu.seccomp); the main thread runs the event
 * loop: parent channel, netproxy channel, device queues (ioeventfd),
 * console and vsock sockets.  The VM ends on guest
 * reboot/poweroff (exit 0), kernel panic, triple fault, KVM error or
 * unknown exit (exit 1, with a one-line reason), or SHUTDOWN from the parent.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include <linux/fuse.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "devices.h"
#include "event.h"
#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "vm.h"
#include "vmm_seccomp.h"

#define VMM_KERNEL_MAX		(256ULL << 20)
#define VMM_MEM_MIN_MB		64
#define VMM_MEM_MAX_MB		(64 * 1024)
#define VMM_CMDLINE_EXTRA	512
#define VMM_CONTROL_READY	"READY"

static const struct sandbox_spec vmm_sandbox = {
	.name = "capsem-vmm",
	.new_netns = true,
	.nofile = 1024,
	.rules = vmm_seccomp_rules,
	.nrules = VMM_SECCOMP_NRULES,
};

struct vmm_disk {
	int		 fd;
	bool		 writable;
};

struct vmm {
	struct child	*child;		/* NULL when standalone */
	struct event_loop *loop;
	struct vm	 vm;
	bool		 vm_created;
	bool		 started;

	/* inputs */
	int		 kvm_fd;
	int		 kernel_fd;
	int		 initrd_fd[VM_MAX_INITRDS];
	unsigned	 ninitrd;
	struct vmm_disk	 disk[VM_MAX_DISKS];
	unsigned	 ndisk;
	int		 console_in, console_out;
	struct virtio_dev *console_dev;
	uint16_t	 console_rows, console_cols;
	int		 serial_fd;
	uint32_t	 mem_mb;
	uint32_t	 ncpus;
	char		 cmdline[VM_CMDLINE_MAX + 1];
	bool		 have_setup;

	int		 console_flags;	/* standalone: restored at exit */
	enum vm_test_call test_vcpu_call;	/* standalone, tests only */

	/* netproxy */
	struct imsgev	 netproxy;
	bool		 have_netproxy;
	/* capsem-fsd: the workspace (none: no virtio-fs device) */
	struct imsgev	 fsd;
	bool		 have_fsd;
	struct virtio_dev *fs_dev;
	uint64_t	 streams;
	bool		 guest_ready;
	/* the guest's own end (guest/PROTOCOL: EXIT <status> | ERROR <reason>) */
	bool		 guest_reported;
	int		 guest_status;		/* 0-255; 1 for ERROR */
	char		 guest_error[200];
};

/* --- guest end ---------------------------------------------------------- */

/* Host memory of this process beyond the guest RAM the guest touched. */
static void
log_memory(struct vmm *v)
{
	struct rusage	 ru;
	uint64_t	 resident = 0;
	long		 page = sysconf(_SC_PAGESIZE);
	unsigned char	 vec[4096];
	unsigned	 i;

	if (getrusage(RUSAGE_SELF, &ru) == -1 || page <= 0)
		return;
	for (i = 0; i < v->vm.mem.nregions; i++) {
		const struct guestmem_region *r = &v->vm.mem.region[i];
		uint64_t off, chunk = sizeof(vec) * (uint64_t)page;

		for (off = 0; off < r->size; off += chunk) {
			uint64_t len = r->size - off < chunk ? r->size - off : chunk;
			uint64_t j, n = (len + (uint64_t)page - 1) / (uint64_t)page;

			if (mincore(r->host + off, len, vec) == -1)
				return;
			for (j = 0; j < n; j++)
				resident += vec[j] & 1;
		}
	}
	resident = resident * (uint64_t)page / 1024;
	log_info("memory: max RSS %ld KiB, guest RAM touched %llu KiB, "
	    "vmm %lld KiB", ru.ru_maxrss, (unsigned long long)resident,
	    (long long)ru.ru_maxrss - (long long)resident);
}

static void
vmm_finish(struct vmm *v)
{
	int	 status;

	vm_join(&v->vm);
	if (log_getverbose() > 0)
		log_memory(v);
	status = vm_exit_status(&v->vm);
	if (v->vm.end == VM_END_RESET && v->guest_reported)
		status = v->guest_status;
	if (v->vm.end == VM_END_RESET)
		log_info("guest ended: %s", v->vm.end_reason);
	else
		log_warnx("guest ended: %s", v->vm.end_reason);
	if (v->child != NULL) {
		struct msg_vm_event ev;

		memset(&ev, 0, sizeof(ev));
		ev.kind = VM_EVENT_EXIT;
		ev.status = status;
		ev.kvm_error = v->vm.end == VM_END_KVM;
		if (v->vm.end == VM_END_RESET && v->guest_error[0] != '\0')
			snprintf(ev.reason, sizeof(ev.reason), "guest: %.*s",
			    (int)sizeof(ev.reason) - 8, v->guest_error);
		else if (v->vm.end == VM_END_RESET && v->guest_reported)
			snprintf(ev.reason, sizeof(ev.reason), "the session "
			    "command exited with status %d", status);
		else
			snprintf(ev.reason, sizeof(ev.reason), "%s",
			    v->vm.end_reason);
		child_send_parent(v->child, MSG_VM_EVENT, 0, -1, &ev, sizeof(ev));
		imsgbuf_flush(&v->child->parent.ibuf);
	}
	if (v->have_netproxy)
		imsgbuf_flush(&v->netproxy.ibuf);
	if (v->child == NULL && v->console_flags != -1) {
		(void)fcntl(v->console_in, F_SETFL, v->console_flags);
		if (v->console_out != v->console_in)
			(void)fcntl(v->console_out, F_SETFL, v->console_flags);
	}
	exit(status);
}

static void
vm_ended(int fd, uint32_t events, void *arg)
{
	struct vmm	*v = arg;
	uint64_t	 n;

	(void)events;
	(void)!read(fd, &n, sizeof(n));
	vmm_finish(v);
}

/* --- vsock host side ------------------------------------------------------ */

static int
vmm_stream_new(void *arg, uint32_t port, int fd)
{
	struct vmm	*v = arg;
	struct msg_stream_new sn;

	if (!v->have_netproxy) {
		log_warnx("guest stream to port %u: no netproxy channel", port);
		return -1;
	}
	memset(&sn, 0, sizeof(sn));
	sn.port = port;
	sn.guest_cid = VSOCK_GUEST_CID;
	/* DNS is framed (length-prefixed), the relay ports start with a header line */
	sn.has_header = port == VSOCK_PORT_DNS ? 0 : 1;
	if (imsgev_compose(&v->netproxy, MSG_STREAM_NEW, 0, fd, &sn,
	    sizeof(sn)) == -1) {
		log_warn("stream to netproxy");
		return -1;
	}
	v->streams++;
	return 0;
}

static void
vmm_control_line(void *arg, const char *line)
{
	struct vmm	*v = arg;

	if (strcmp(line, VMM_CONTROL_READY) == 0 && !v->guest_ready) {
		v->guest_ready = true;
		__atomic_store_n(&v->vm.guest_ready, 1, __ATOMIC_SEQ_CST);
		log_debug("guest ready");
		if (v->child != NULL) {
			struct msg_vm_event ev;

			memset(&ev, 0, sizeof(ev));
			ev.kind = VM_EVENT_READY;
			child_send_parent(v->child, MSG_VM_EVENT, 0, -1, &ev,
			    sizeof(ev));
		}
	} else if (strncmp(line, "EXIT ", 5) == 0 && !v->guest_reported) {
		const char *errstr;
		long long st = strtonum(line + 5, 0, 255, &errstr);

		if (errstr != NULL) {
			log_warnx("guest control: bad line \"%s\"", line);
			return;
		}
		v->guest_reported = true;
		v->guest_status = (int)st;
	} else if (strncmp(line, "ERROR ", 6) == 0 && !v->guest_reported) {
		v->guest_reported = true;
		v->guest_status = 1;
		snprintf(v->guest_error, sizeof(v->guest_error), "%s", line + 6);
		log_warnx("guest: %s", v->guest_error);
	} else
		log_debug("guest control: %s", line);
}

/* --- the workspace: capsem-fsd ------------------------------------------- */

static int
vmm_fs_send(void *arg, uint32_t tag, const struct msg_fs_request *mr,
    const void *req, size_t len)
{
	struct vmm *v = arg;

	if (!v->have_fsd)
		return -1;
	if (imsgev_compose2(&v->fsd, MSG_FS_REQUEST, tag, -1, mr, sizeof(*mr),
	    req, len) == -1) {
		log_warn("request to fsd");
		return -1;
	}
	return 0;
}

static void
msg_fs_reply(void *ctx, struct imsg *imsg)
{
	struct vmm *v = ctx;

	if (v->fs_dev == NULL)
		fatalx("FS_REPLY before the device exists");
	dev_fs_reply(v->fs_dev, imsg->hdr.peerid, imsg->data, imsg->len);
}

static void
msg_fs_violation(void *ctx, struct imsg *imsg)
{
	struct vmm	*v = ctx;
	char		 why[160];

	if (v->fs_dev == NULL)
		fatalx("FS_VIOLATION before the device exists");
	if (!imsg_bytes_are_text(imsg->data, imsg->len))
		fatalx("FS_VIOLATION: reason is not text");
	snprintf(why, sizeof(why), "%.*s", (int)imsg->len,
	    (const char *)imsg->data);
	dev_fs_violation(v->fs_dev, imsg->hdr.peerid, why);
}

static const struct imsg_handler vmm_fsd_handlers[] = {
	{ MSG_FS_REPLY, sizeof(struct fuse_out_header), MSG_FS_REPLY_MAX,
	    IMSG_FD_NONE, msg_fs_reply },
	{ MSG_FS_VIOLATION, 1, 150, IMSG_FD_NONE, msg_fs_violation },
};

static void
fsd_closed(struct imsgev *iev, void *ctx)
{
	struct vmm *v = ctx;

	(void)iev;
	v->have_fsd = false;
	vm_end(&v->vm, VM_END_ERROR, "lost the fsd channel");
}

/* --- boot ----------------------------------------------------------------- */

static uint8_t *
map_kernel(int fd, size_t *len, char *err, size_t errlen)
{
	struct stat	 sb;
	void		*p;

	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "kernel: not a regular file");
		return NULL;
	}
	if (sb.st_size <= 0 || (uint64_t)sb.st_size > VMM_KERNEL_MAX) {
		snprintf(err, errlen, "kernel: bad size %lld",
		    (long long)sb.st_size);
		return NULL;
	}
	p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "kernel: mmap: %s", strerror(errno));
		return NULL;
	}
	*len = (size_t)sb.st_size;
	return p;
}

static int
add_dev(struct vmm *v, struct dev_env *env, struct virtio_dev *d)
{
	if (d == NULL)
		return -1;
	if (vm_add_device(&v->vm, d) == -1)
		return -1;
	env->base += VIRTIO_MMIO_STRIDE;
	env->irq++;
	if (env->irq == 8)
		env->irq = 9;		/* skip the RTC line */
	return 0;
}

/* Create the VM, its devices, load the kernel; then start the vCPUs. */
static int
vmm_boot(struct vmm *v, char *err, size_t errlen)
{
	struct boot_initrd rd[VM_MAX_INITRDS];
	struct dev_env	 env;
	struct vsock_host vh = { vmm_stream_new, vmm_control_line, v };
	struct boot_entry be;
	char		 cmdline[VM_CMDLINE_MAX + VMM_CMDLINE_EXTRA], arg[80];
	uint8_t		*kernel;
	size_t		 klen = 0;
	unsigned	 i;

	if (v->kvm_fd == -1 || v->kernel_fd == -1) {
		snprintf(err, errlen, "no /dev/kvm or kernel given");
		return -1;
	}
	if (vm_create(&v->vm, v->kvm_fd, (uint64_t)v->mem_mb << 20, v->ncpus,
	    v->serial_fd, err, errlen) == -1)
		return -1;
	v->vm_created = true;
	v->vm.test_vcpu_call = v->test_vcpu_call;
	if (event_add(v->loop, v->vm.end_efd, EV_READ, vm_ended, v) == -1) {
		snprintf(err, errlen, "event_add: %s", strerror(errno));
		return -1;
	}

	memset(&env, 0, sizeof(env));
	env.mem = &v->vm.mem;
	env.loop = v->loop;
	env.vm_fd = v->vm.vm_fd;
	env.base = VIRTIO_MMIO_BASE;
	env.irq = 5;
	if (v->console_in != -1 || v->console_out != -1) {
		v->console_dev = dev_console_new(&env, v->console_in,
		    v->console_out, v->console_rows, v->console_cols, err,
		    errlen);
		if (add_dev(v, &env, v->console_dev) == -1)
			return -1;
	}
	for (i = 0; i < v->ndisk; i++)
		if (add_dev(v, &env, dev_blk_new(&env, v->disk[i].fd,
		    v->disk[i].writable, i, err, errlen)) == -1)
			return -1;
	if (add_dev(v, &env, dev_rng_new(&env, err, errlen)) == -1)
		return -1;
	if (add_dev(v, &env, dev_vsock_new(&env, &vh, err, errlen)) == -1)
		return -1;
	if (v->have_fsd) {
		struct fs_host fh = { vmm_fs_send, v };

		v->fs_dev = dev_fs_new(&env, &fh, err, errlen);
		if (add_dev(v, &env, v->fs_dev) == -1)
			return -1;
	}

	/* the parent's command line, then what this VMM needs */
	snprintf(cmdline, sizeof(cmdline), "%s reboot=k,panic_warm panic=-1 "
	    "i8042.noaux i8042.nomux i8042.nopnp", v->cmdline);
	if (v->vm.tsc_khz > 0) {
		snprintf(arg, sizeof(arg), " tsc_early_khz=%u", v->vm.tsc_khz);
		strlcat(cmdline, arg, sizeof(cmdline));
	}
	for (i = 0; i < v->vm.ndev; i++) {
		arg[0] = ' ';
		if (virtio_cmdline_arg(v->vm.dev[i], arg + 1, sizeof(arg) - 1) == -1 ||
		    strlcat(cmdline, arg, sizeof(cmdline)) >= sizeof(cmdline)) {
			snprintf(err, errlen, "kernel command line too long");
			return -1;
		}
	}

	if ((kernel = map_kernel(v->kernel_fd, &klen, err, errlen)) == NULL)
		return -1;
	for (i = 0; i < v->ninitrd; i++) {
		struct stat sb;

		if (fstat(v->initrd_fd[i], &sb) == -1 || !S_ISREG(sb.st_mode)) {
			snprintf(err, errlen, "initrd %u: not a regular file", i);
			return -1;
		}
		rd[i].fd = v->initrd_fd[i];
		rd[i].size = (uint64_t)sb.st_size;
	}
	if (boot_load(&v->vm.mem, kernel, klen, rd, v->ninitrd, cmdline, &be,
	    err, errlen) == -1)
		return -1;
	munmap(kernel, klen);
	close(v->kernel_fd);
	v->kernel_fd = -1;
	for (i = 0; i < v->ninitrd; i++)
		close(v->initrd_fd[i]);
	v->ninitrd = 0;
	if (mptable_write(&v->vm.mem, v->ncpus, err, errlen) == -1)
		return -1;
	if (vm_setup_entry(&v->vm, &be, err, errlen) == -1)
		return -1;
	log_debug("booting %s kernel at 0x%" PRIx64 ", %u MiB, %u vCPUs: %s",
	    be.kind == BOOT_PVH ? "PVH" : "bzImage", be.rip, v->mem_mb,
	    v->ncpus, cmdline);
	if (vm_start(&v->vm) == -1) {
		snprintf(err, errlen, "cannot start vCPU threads");
		return -1;
	}
	v->started = true;
	return 0;
}

static void
vmm_init(struct vmm *v)
{
	unsigned i;

	memset(v, 0, sizeof(*v));
	v->kvm_fd = v->kernel_fd = -1;
	v->console_in = v->console_out = -1;
	v->serial_fd = -1;
	v->mem_mb = 256;
	v->ncpus = 1;
	for (i = 0; i < VM_MAX_INITRDS; i++)
		v->initrd_fd[i] = -1;
}

/* --- child mode: messages from the parent -------------------------------- */

static void
netproxy_closed(struct imsgev *iev, void *ctx)
{
	struct vmm *v = ctx;

	(void)iev;
	v->have_netproxy = false;
	vm_end(&v->vm, VM_END_ERROR, "lost the netproxy channel");
}

static void
vmm_on_peer_channel(struct child *c, enum proc_id peer, uint32_t instance, int fd)
{
	struct vmm	*v = c->ctx;

	(void)instance;
	if (v->started)
		fatalx("peer channel from %s after start", proc_name(peer));
	if (peer == PROC_FSD && !v->have_fsd) {
		imsgev_init(&v->fsd, c->loop, fd, MSG_FS_REPLY_MAX, "fsd",
		    vmm_fsd_handlers, sizeof(vmm_fsd_handlers) /
		    sizeof(vmm_fsd_handlers[0]), v);
		v->fsd.on_close = fsd_closed;
		v->have_fsd = true;
		return;
	}
	if (peer != PROC_NETPROXY || v->have_netproxy)
		fatalx("unexpected peer channel from %s", proc_name(peer));
	imsgev_init(&v->netproxy, c->loop, fd, IMSG_MAXLEN_DEFAULT, "netproxy",
	    NULL, 0, v);
	v->netproxy.on_close = netproxy_closed;
	v->have_netproxy = true;
}

static void
msg_vm_setup(void *ctx, struct imsg *imsg)
{
	struct child	*c = ctx;
	struct vmm	*v = c->ctx;
	struct msg_vm_setup s;

	memcpy(&s, imsg->data, sizeof(s));
	if (v->have_setup || v->started)
		fatalx("VM_SETUP: already set up");
	if ((size_t)s.cmdline_len != imsg->len - sizeof(s) ||
	    s.cmdline_len > VM_CMDLINE_MAX ||
	    !imsg_bytes_are_text(imsg->data + sizeof(s), s.cmdline_len))
		fatalx("VM_SETUP: bad command line");
	if (s.mem_mb < VMM_MEM_MIN_MB || s.mem_mb > VMM_MEM_MAX_MB ||
	    s.ncpus == 0 || s.ncpus > VM_MAX_VCPUS)
		fatalx("VM_SETUP: memory %u MiB or %u vCPUs out of range",
		    s.mem_mb, s.ncpus);
	memcpy(v->cmdline, imsg->data + sizeof(s), s.cmdline_len);
	v->cmdline[s.cmdline_len] = '\0';
	v->mem_mb = s.mem_mb;
	v->ncpus = s.ncpus;
	v->have_setup = true;
}

static void
msg_vm_fd(void *ctx, struct imsg *imsg)
{
	struct child	*c = ctx;
	struct vmm	*v = c->ctx;
	struct msg_vm_fd f;
	int		 fd = imsg->fd;

	memcpy(&f, imsg->data, sizeof(f));
	if (v->started)
		fatalx("VM_FD after start");
	switch (f.kind) {
	case VM_FD_KVM:
		if (v->kvm_fd != -1)
			fatalx("VM_FD: second /dev/kvm");
		v->kvm_fd = fd;
		break;
	case VM_FD_KERNEL:
		if (v->kernel_fd != -1)
			fatalx("VM_FD: second kernel");
		v->kernel_fd = fd;
		break;
	case VM_FD_INITRD:
		if (v->ninitrd == VM_MAX_INITRDS)
			fatalx("VM_FD: too many initrds");
		v->initrd_fd[v->ninitrd++] = fd;
		break;
	case VM_FD_DISK_RO:
	case VM_FD_DISK_RW:
		if (v->ndisk == VM_MAX_DISKS)
			fatalx("VM_FD: too many disks");
		v->disk[v->ndisk].fd = fd;
		v->disk[v->ndisk++].writable = f.kind == VM_FD_DISK_RW;
		break;
	case VM_FD_CONSOLE:
		if (v->console_in != -1)
			fatalx("VM_FD: second console");
		v->console_in = v->console_out = fd;
		break;
	case VM_FD_SERIAL:
		if (v->serial_fd != -1)
			fatalx("VM_FD: second serial log");
		v->serial_fd = fd;
		break;
	default:
		fatalx("VM_FD: unknown kind %u", f.kind);
	}
	imsg->fd = -1;
}

static void
msg_vm_start(void *ctx, struct imsg *imsg)
{
	struct child	*c = ctx;
	struct vmm	*v = c->ctx;
	char		 err[256];

	(void)imsg;
	if (!v->have_setup || v->started)
		fatalx("VM_START before VM_SETUP or twice");
	v->child = c;
	v->loop = c->loop;
	if (vmm_boot(v, err, sizeof(err)) == -1) {
		struct msg_vm_event ev;

		log_warnx("%s", err);
		memset(&ev, 0, sizeof(ev));
		ev.kind = VM_EVENT_EXIT;
		ev.status = 1;
		snprintf(ev.reason, sizeof(ev.reason), "%.*s",
		    (int)sizeof(ev.reason) - 1, err);
		child_send_parent(c, MSG_VM_EVENT, 0, -1, &ev, sizeof(ev));
		imsgbuf_flush(&c->parent.ibuf);
		exit(1);
	}
}

/* The terminal's size: now if the console exists, else at boot. */
static void
msg_vm_winsize(void *ctx, struct imsg *imsg)
{
	struct child	*c = ctx;
	struct vmm	*v = c->ctx;
	struct msg_winsize ws;

	memcpy(&ws, imsg->data, sizeof(ws));
	if (ws.rows > 4096 || ws.cols > 4096)
		fatalx("VM_WINSIZE: %u x %u", ws.rows, ws.cols);
	v->console_rows = ws.rows;
	v->console_cols = ws.cols;
	if (v->console_dev != NULL)
		dev_console_resize(v->console_dev, ws.rows, ws.cols);
}

static void
vmm_on_hello(struct child *c)
{
	struct vmm *v = c->ctx;

	v->child = c;
	v->loop = c->loop;
}

static void
vmm_on_status(struct child *c, struct msg_status *st)
{
	struct vmm *v = c->ctx;

	st->counters[0] = v->streams;
	st->counters[1] = v->vm.serial.bytes;
	if (v->fs_dev != NULL)
		dev_fs_counters(v->fs_dev, &st->counters[2], &st->counters[3]);
	snprintf(st->detail, sizeof(st->detail), "%s, %u MiB, %u vCPUs",
	    v->started ? (v->guest_ready ? "guest ready" : "booting") :
	    "not started", v->mem_mb, v->ncpus);
}

static void
vmm_on_shutdown(struct child *c)
{
	struct vmm *v = c->ctx;

	if (v->started)
		vm_join(&v->vm);
}

static const struct imsg_handler vmm_parent_handlers[] = {
	{ MSG_VM_SETUP, sizeof(struct msg_vm_setup),
	    sizeof(struct msg_vm_setup) + VM_CMDLINE_MAX, IMSG_FD_NONE,
	    msg_vm_setup },
	{ MSG_VM_FD, sizeof(struct msg_vm_fd), sizeof(struct msg_vm_fd),
	    IMSG_FD_REQUIRED, msg_vm_fd },
	{ MSG_VM_START, 0, 0, IMSG_FD_NONE, msg_vm_start },
	{ MSG_VM_WINSIZE, sizeof(struct msg_winsize),
	    sizeof(struct msg_winsize), IMSG_FD_NONE, msg_vm_winsize },
};

static const struct child_def vmm_child = {
	.id = PROC_VMM,
	.sandbox = &vmm_sandbox,
	.parent_maxlen = IMSG_MAXLEN_DEFAULT,
	.parent_handlers = vmm_parent_handlers,
	.nparent_handlers = sizeof(vmm_parent_handlers) /
	    sizeof(vmm_parent_handlers[0]),
	.on_hello = vmm_on_hello,
	.on_peer_channel = vmm_on_peer_channel,
	.on_status = vmm_on_status,
	.on_shutdown = vmm_on_shutdown,
};

/* --- standalone mode ------------------------------------------------------ */

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: capsem-vmm --standalone --kernel file "
	    "[--initrd file]... [--disk file[,rw]]...\n"
	    "\t[--cmdline text] [--mem MiB] [--cpus n] [--kvm path] "
	    "[--console-fd fd]\n\t[--serial-fd fd] [--netproxy-fd fd] [-v]\n");
	exit(2);
}

static int
open_or_die(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd == -1)
		fatal("%s", path);
	return fd;
}

static int
parse_fd(const char *s)
{
	char	*end;
	long	 n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0 || n > INT_MAX)
		fatalx("bad fd number: %s", s);
	if (fcntl((int)n, F_GETFD) == -1)
		fatalx("fd %ld is not open", n);
	return (int)n;
}

static uint32_t
parse_u32(const char *s, uint32_t min, uint32_t max, const char *what)
{
	char	*end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		fatalx("%s: %s is not in %u-%u", what, s, min, max);
	return (uint32_t)n;
}

/* Standalone: SIGTERM or SIGINT ends the VM as the parent's stop would. */
static void
standalone_signal(int fd, uint32_t events, void *arg)
{
	struct vmm	*v = arg;
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		vm_end(&v->vm, VM_END_HOST, "stopped by signal %s",
		    strsignal((int)si.ssi_signo));
}

static void
netproxy_standalone_closed(struct imsgev *iev, void *ctx)
{
	struct vmm *v = ctx;

	(void)iev;
	v->have_netproxy = false;
	log_warnx("netproxy channel closed");
}

static __attribute__((noreturn)) void
standalone_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "standalone", no_argument, NULL, 'S' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "disk", required_argument, NULL, 'd' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'n' },
		{ "kvm", required_argument, NULL, 'K' },
		{ "console-fd", required_argument, NULL, 'C' },
		{ "serial-fd", required_argument, NULL, 's' },
		{ "netproxy-fd", required_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "test-vcpu-forbidden", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	struct vmm	*v;
	struct sandbox_report rep;
	const char	*kvm_path = "/dev/kvm";
	char		 err[256];
	sigset_t	 sigs;
	int		 sig_fd;
	int		 ch, verbose = 0, netproxy_fd = -1;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		fatal("calloc");
	vmm_init(v);
	v->console_in = STDIN_FILENO;
	v->console_out = STDOUT_FILENO;
	v->serial_fd = STDERR_FILENO;
	while ((ch = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			break;
		case 'k':
			if (v->kernel_fd != -1)
				usage();
			v->kernel_fd = open_or_die(optarg, O_RDONLY);
			break;
		case 'i':
			if (v->ninitrd == VM_MAX_INITRDS)
				fatalx("too many initrds");
			v->initrd_fd[v->ninitrd++] = open_or_die(optarg, O_RDONLY);
			break;
		case 'd': {
			char	*comma = strrchr(optarg, ',');
			bool	 rw = comma != NULL && strcmp(comma, ",rw") == 0;

			if (v->ndisk == VM_MAX_DISKS)
				fatalx("too many disks");
			if (rw)
				*comma = '\0';
			v->disk[v->ndisk].fd = open_or_die(optarg,
			    rw ? O_RDWR : O_RDONLY);
			v->disk[v->ndisk++].writable = rw;
			break;
		}
		case 'c':
			if (strlen(optarg) > VM_CMDLINE_MAX)
				fatalx("command line over %d bytes", VM_CMDLINE_MAX);
			snprintf(v->cmdline, sizeof(v->cmdline), "%s", optarg);
			break;
		case 'm':
			v->mem_mb = parse_u32(optarg, VMM_MEM_MIN_MB,
			    VMM_MEM_MAX_MB, "--mem");
			break;
		case 'n':
			v->ncpus = parse_u32(optarg, 1, VM_MAX_VCPUS, "--cpus");
			break;
		case 'K':
			kvm_path = optarg;
			break;
		case 'C':
			v->console_in = v->console_out = parse_fd(optarg);
			break;
		case 's':
			v->serial_fd = parse_fd(optarg);
			break;
		case 'N':
			netproxy_fd = parse_fd(optarg);
			break;
		case 'v':
			verbose++;
			break;
		case 'T':	/* tests only: see capsem-vmm(8) */
			if (vm_test_call_parse(optarg, &v->test_vcpu_call) == -1)
				fatalx("--test-vcpu-forbidden: unknown call %s",
				    optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || v->kernel_fd == -1)
		usage();
	/* a reader that goes away is an error on that fd, not our end */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");
	log_setverbose(verbose);
	v->kvm_fd = open_or_die(kvm_path, O_RDWR);
	/* the console fds become non-blocking: give a terminal back as it was */
	v->console_flags = fcntl(v->console_in, F_GETFL);

	if ((v->loop = event_loop_new()) == NULL)
		fatal("event_loop_new");
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) == -1 ||
	    (sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK)) == -1 ||
	    event_add(v->loop, sig_fd, EV_READ, standalone_signal, v) == -1)
		fatal("signalfd");
	/* Everything is open: from here on, the same sandbox as a child. */
	sandbox_enter(&vmm_sandbox, &rep);
	if (netproxy_fd != -1) {
		imsgev_init(&v->netproxy, v->loop, netproxy_fd,
		    IMSG_MAXLEN_DEFAULT, "netproxy", NULL, 0, v);
		v->netproxy.on_close = netproxy_standalone_closed;
		v->have_netproxy = true;
	}
	if (vmm_boot(v, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (event_loop_run(v->loop) == -1)
		fatal("event loop");
	vmm_finish(v);
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct vmm	*v;
	int		 i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--standalone") == 0) {
			log_init(1, 0);
			log_procinit("capsem-vmm");
			standalone_main(argc, argv);
		}
	if ((v = calloc(1, sizeof(*v))) == NULL)
		fatal("calloc");
	vmm_init(v);
	child_run(&vmm_child, v, argc, argv);
}
