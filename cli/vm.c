/*
 * vm.c: the parent's side of booting a guest: open the files, make the
 * per-session initrd, make the console channel.  See guest/PROTOCOL for
 * session.conf and the /capsem directory.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm.h"

#define CA_PEM_MAX	(64 * 1024)
#define CONF_MAX	(64 * 1024)

static void
vm_files_init(struct vm_files *f)
{
	int	 i;

	f->kvm = f->kernel = f->disk = -1;
	f->console_vmm = f->console_parent = -1;
	for (i = 0; i < VM_MAX_INITRDS; i++)
		f->initrd[i] = -1;
	f->ninitrd = 0;
}

void
vm_files_close(struct vm_files *f)
{
	int	 i;

	if (f->kvm != -1)
		close(f->kvm);
	if (f->kernel != -1)
		close(f->kernel);
	if (f->disk != -1)
		close(f->disk);
	if (f->console_vmm != -1)
		close(f->console_vmm);
	if (f->console_parent != -1)
		close(f->console_parent);
	for (i = 0; i < f->ninitrd; i++)
		if (f->initrd[i] != -1)
			close(f->initrd[i]);
	vm_files_init(f);
}

/* A value session.conf can carry: no control bytes but tab. */
static int
conf_value_ok(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 && *v != '\t')
			return 0;
	return 1;
}

int
env_assignment_ok(const char *a)
{
	size_t	 n;

	if (!((*a >= 'A' && *a <= 'Z') || (*a >= 'a' && *a <= 'z') ||
	    *a == '_'))
		return 0;
	n = strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_");
	return a[n] == '=' && conf_value_ok(a) && strlen(a) <= 4000;
}

int
vm_session_conf(const struct vm_opts *o, char *buf, size_t len,
    size_t *outlen, char *err, size_t errlen)
{
	size_t	 used = 0;
	int	 i, n;

#define ADD(...) do {							\
	n = snprintf(buf + used, len - used, __VA_ARGS__);		\
	if (n < 0 || (size_t)n >= len - used) {			\
		snprintf(err, errlen, "session settings too long");	\
		return -1;						\
	}								\
	used += (size_t)n;						\
} while (0)

	if (o->argc > VM_ARGV_MAX) {
		snprintf(err, errlen, "at most %d command arguments",
		    VM_ARGV_MAX);
		return -1;
	}
	ADD("# capsem session settings (guest/PROTOCOL)\n");
	if (o->user != NULL) {
		if (!conf_value_ok(o->user)) {
			snprintf(err, errlen, "bad user name");
			return -1;
		}
		ADD("user=%s\n", o->user);
	}
	if (o->hostname != NULL) {
		if (!conf_value_ok(o->hostname)) {
			snprintf(err, errlen, "bad host name");
			return -1;
		}
		ADD("hostname=%s\n", o->hostname);
	}
	if (o->disk != NULL) {
		ADD("root=/dev/vda\n");
		if (o->rootfstype != NULL) {
			if (!conf_value_ok(o->rootfstype)) {
				snprintf(err, errlen, "bad root file system type");
				return -1;
			}
			ADD("rootfstype=%s\n", o->rootfstype);
		}
	}
	if (o->nenv > VM_ENV_MAX) {
		snprintf(err, errlen, "at most %d environment variables",
		    VM_ENV_MAX);
		return -1;
	}
	for (i = 0; i < o->nenv; i++) {
		if (!env_assignment_ok(o->env[i])) {
			snprintf(err, errlen, "environment variable %d is not "
			    "NAME=VALUE without control characters", i + 1);
			return -1;
		}
		ADD("env=%s\n", o->env[i]);
	}
	if (o->workspace != VM_WORKSPACE_NONE)
		ADD("workspace=%s\n", o->workspace == VM_WORKSPACE_RO ? "ro" :
		    "rw");
	ADD("control=vsock:2:1024\n");
	for (i = 0; i < o->argc; i++) {
		if (!conf_value_ok(o->argv[i]) || strlen(o->argv[i]) > 4000) {
			snprintf(err, errlen, "command argument %d has control "
			    "characters or is too long", i + 1);
			return -1;
		}
		ADD("arg=%s\n", o->argv[i]);
	}
#undef ADD
	*outlen = used;
	return 0;
}

/* newc cpio: one header, the name, the data, each padded to 4 bytes. */
static int
cpio_add(int fd, const char *name, unsigned mode, const void *data,
    size_t size, unsigned ino)
{
	static const char zeros[4] = { 0, 0, 0, 0 };
	char	 hdr[111];
	size_t	 namesize = strlen(name) + 1;

	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X"
	    "%08X%08X%08X%08X%08X%08X", ino, mode, 0u, 0u, 1u, 0u,
	    (unsigned)size, 0u, 0u, 0u, 0u, (unsigned)namesize, 0u);
	if (write(fd, hdr, 110) != 110 ||
	    write(fd, name, namesize) != (ssize_t)namesize ||
	    write(fd, zeros, (4 - (110 + namesize) % 4) % 4) < 0)
		return -1;
	if (size > 0 && (write(fd, data, size) != (ssize_t)size ||
	    write(fd, zeros, (4 - size % 4) % 4) < 0))
		return -1;
	return 0;
}

static int
session_initrd(const struct vm_opts *o, const char *ca_pem_path, char *err,
    size_t errlen)
{
	char	*conf = NULL, *ca = NULL;
	size_t	 conf_len, ca_len;
	int	 fd = -1, cafd;
	ssize_t	 n;

	if ((conf = malloc(CONF_MAX)) == NULL || (ca = malloc(CA_PEM_MAX)) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (vm_session_conf(o, conf, CONF_MAX, &conf_len, err, errlen) == -1)
		goto fail;
	if ((cafd = open(ca_pem_path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", ca_pem_path, strerror(errno));
		goto fail;
	}
	n = read(cafd, ca, CA_PEM_MAX);
	close(cafd);
	if (n <= 0 || n == CA_PEM_MAX) {
		snprintf(err, errlen, "%s: empty or too large", ca_pem_path);
		goto fail;
	}
	ca_len = (size_t)n;
	if ((fd = memfd_create("capsem-session-initrd", MFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "memfd_create: %s", strerror(errno));
		goto fail;
	}
	if (cpio_add(fd, "capsem", 040755, NULL, 0, 1) == -1 ||
	    cpio_add(fd, "capsem/session.conf", 0100644, conf, conf_len, 2) ||
	    cpio_add(fd, "capsem/ca.pem", 0100644, ca, ca_len, 3) == -1 ||
	    cpio_add(fd, "TRAILER!!!", 0, NULL, 0, 0) == -1 ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		snprintf(err, errlen, "session initrd: %s", strerror(errno));
		close(fd);
		fd = -1;
	}
fail:
	free(conf);
	free(ca);
	return fd;
}

static int
open_regular(const char *path, int flags, char *err, size_t errlen,
    const char *what)
{
	struct stat sb;
	int	 fd;

	if ((fd = open(path, flags | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file", what, path);
		close(fd);
		return -1;
	}
	return fd;
}

int
vm_prepare(const struct vm_opts *o, const char *ca_pem_path,
    struct vm_files *f, char *err, size_t errlen)
{
	int	 i, sp[2];

	vm_files_init(f);
	if (o->kernel == NULL) {
		snprintf(err, errlen, "no guest kernel (--kernel)");
		return -1;
	}
	if ((f->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "/dev/kvm: %s: this machine offers no "
		    "KVM (see README: nested KVM under qemu)", strerror(errno));
		goto fail;
	}
	if ((f->kernel = open_regular(o->kernel, O_RDONLY, err, errlen,
	    "kernel")) == -1)
		goto fail;
	for (i = 0; i < o->ninitrds; i++) {
		if ((f->initrd[f->ninitrd] = open_regular(o->initrds[i],
		    O_RDONLY, err, errlen, "initrd")) == -1)
			goto fail;
		f->ninitrd++;
	}
	if (o->disk != NULL && (f->disk = open_regular(o->disk, O_RDONLY, err,
	    errlen, "disk")) == -1)
		goto fail;
	if ((f->initrd[f->ninitrd] = session_initrd(o, ca_pem_path, err,
	    errlen)) == -1)
		goto fail;
	f->ninitrd++;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		goto fail;
	}
	f->console_parent = sp[0];
	f->console_vmm = sp[1];
	return 0;
fail:
	vm_files_close(f);
	return -1;
}
