/*
 * init_setup.c: what capsem-init does to the file system before the session
 * starts: the kernel file systems, the optional root image under a tmpfs
 * overlay, the session CA in every trust store, resolv.conf.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "init.h"
#include "log.h"

#define INIT_NEWROOT	"/newroot"
#define INIT_LOWER	"/newroot.lower"
#define INIT_RW		"/newroot.rw"
#define INIT_COPY_MAX	(64u * 1024 * 1024)

void
init_stage(const char *name)
{
	char	 buf[64];
	size_t	 len;

	if (init_read_file("/proc/uptime", buf, sizeof(buf), &len) == 0) {
		buf[strcspn(buf, " \n")] = '\0';
		log_info("stage %s at %s s", name, buf);
	} else
		log_info("stage %s", name);
}

int
init_read_file(const char *path, char *buf, size_t buflen, size_t *len)
{
	int	 fd;
	size_t	 off = 0;

	if (buflen == 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	for (;;) {
		ssize_t	 n;

		if (off == buflen - 1) {
			/* Too large for the buffer: refuse rather than truncate. */
			char	 probe;

			n = read(fd, &probe, 1);
			if (n != 0) {
				close(fd);
				errno = EFBIG;
				return -1;
			}
			break;
		}
		n = read(fd, buf + off, buflen - 1 - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*len = off;
	return 0;
}

int
init_write_file(const char *path, const char *data, size_t len,
    unsigned int mode, bool append)
{
	int	 fd, flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
	size_t	 off = 0;

	flags |= append ? O_APPEND : O_TRUNC;
	if ((fd = open(path, flags, (mode_t)mode)) == -1)
		return -1;
	while (off < len) {
		ssize_t	 n = write(fd, data + off, len - off);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	return close(fd);
}

int
init_mkdirs(const char *path, unsigned int mode)
{
	char	 buf[256];
	size_t	 len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char	 saved = *p;

			*p = '\0';
			if (mkdir(buf, (mode_t)mode) == -1 && errno != EEXIST)
				return -1;
			*p = saved;
			if (saved == '\0')
				break;
		}
	}
	return 0;
}

struct init_mount {
	const char	*source;
	const char	*target;
	const char	*fstype;
	unsigned long	 flags;
	const char	*data;
	unsigned int	 mode;
};

static const struct init_mount init_mount_table[] = {
	{ "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555 },
	{ "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555 },
	{ "devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755", 0755 },
	{ "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	  "gid=5,mode=0620,ptmxmode=0666", 0755 },
	{ "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777 },
	{ "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", 0755 },
	{ "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777 },
};

int
init_mounts(void)
{
	size_t	 n = sizeof(init_mount_table) / sizeof(init_mount_table[0]);

	for (size_t i = 0; i < n; i++) {
		const struct init_mount *m = &init_mount_table[i];

		if (mkdir(m->target, (mode_t)m->mode) == -1 && errno != EEXIST) {
			log_warn("mkdir %s", m->target);
			return -1;
		}
		if (mount(m->source, m->target, m->fstype, m->flags, m->data) == -1 &&
		    errno != EBUSY) {
			log_warn("mount %s on %s", m->fstype, m->target);
			return -1;
		}
	}
	/* /dev/ptmx for programs that open it rather than /dev/pts/ptmx. */
	if (access("/dev/ptmx", F_OK) == -1 &&
	    symlink("pts/ptmx", "/dev/ptmx") == -1)
		log_warn("symlink /dev/ptmx");
	return 0;
}

/* Copy one regular file (at most INIT_COPY_MAX bytes), keeping its mode. */
static int
copy_file(const char *from, const char *to)
{
	struct stat st;
	char	 buf[65536];
	int	 in, out;
	off_t	 total = 0;

	if ((in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	if (fstat(in, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)INIT_COPY_MAX) {
		close(in);
		errno = EINVAL;
		return -1;
	}
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    st.st_mode & 07777);
	if (out == -1) {
		close(in);
		return -1;
	}
	for (;;) {
		ssize_t	 n = read(in, buf, sizeof(buf)), w = 0;

		if (n == 0)
			break;
		if (n == -1 || total + n > (off_t)INIT_COPY_MAX) {
			close(in);
			close(out);
			return -1;
		}
		while (w < n) {
			ssize_t	 m = write(out, buf + w, (size_t)(n - w));

			if (m == -1) {
				close(in);
				close(out);
				return -1;
			}
			w += m;
		}
		total += n;
	}
	close(in);
	return close(out);
}

/* Copy the regular files of dir `from` into `to` (one level of subdirs). */
static int
copy_tree(const char *from, const char *to, int depth)
{
	DIR	*d;
	struct dirent *de;
	int	 rc = 0;

	if (init_mkdirs(to, 0755) == -1)
		return -1;
	if ((d = opendir(from)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char	 src[256], dst[256];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(src, sizeof(src), "%s/%s", from,
		    de->d_name) >= sizeof(src) ||
		    (size_t)snprintf(dst, sizeof(dst), "%s/%s", to,
		    de->d_name) >= sizeof(dst)) {
			rc = -1;
			break;
		}
		if (lstat(src, &st) == -1) {
			rc = -1;
			break;
		}
		if (S_ISDIR(st.st_mode) && depth > 0)
			rc = copy_tree(src, dst, depth - 1);
		else if (S_ISREG(st.st_mode))
			rc = copy_file(src, dst);
		if (rc == -1)
			break;
	}
	closedir(d);
	return rc;
}

static int
mount_root_image(const char *dev, const char *fstype)
{
	static const char *const fstypes[] = { "erofs", "squashfs", "ext4" };

	for (int tries = 0; access(dev, F_OK) == -1; tries++) {
		/* virtio-blk is probed before init runs; allow a short delay. */
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (tries == 40) {
			log_warnx("root device %s does not exist", dev);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	if (fstype[0] != '\0') {
		if (mount(dev, INIT_LOWER, fstype, MS_RDONLY | MS_NODEV, NULL) == 0)
			return 0;
		log_warn("mount %s (%s)", dev, fstype);
		return -1;
	}
	for (size_t i = 0; i < sizeof(fstypes) / sizeof(fstypes[0]); i++)
		if (mount(dev, INIT_LOWER, fstypes[i], MS_RDONLY | MS_NODEV,
		    NULL) == 0)
			return 0;
	log_warnx("%s is not erofs, squashfs or ext4", dev);
	return -1;
}

int
init_switch_root(const struct session_conf *sc)
{
	static const char *const moved[] = { "/dev", "/proc", "/sys", "/run",
	    "/tmp" };
	char	 path[256];

	if (mkdir(INIT_NEWROOT, 0755) == -1 && errno != EEXIST)
		return -1;
	if (mkdir(INIT_LOWER, 0755) == -1 && errno != EEXIST)
		return -1;
	if (mkdir(INIT_RW, 0755) == -1 && errno != EEXIST)
		return -1;
	if (mount_root_image(sc->root, sc->rootfstype) == -1)
		return -1;
	if (mount("tmpfs", INIT_RW, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") == -1 ||
	    init_mkdirs(INIT_RW "/upper", 0755) == -1 ||
	    init_mkdirs(INIT_RW "/work", 0755) == -1) {
		log_warn("overlay upper tmpfs");
		return -1;
	}
	if (mount("overlay", INIT_NEWROOT, "overlay", 0,
	    "lowerdir=" INIT_LOWER ",upperdir=" INIT_RW "/upper,workdir="
	    INIT_RW "/work") == -1) {
		log_warn("mount overlay");
		return -1;
	}
	/* The session's files and our helpers go along into the new root. */
	if (copy_tree(INIT_CAPSEM_DIR, INIT_NEWROOT INIT_CAPSEM_DIR, 1) == -1) {
		log_warn("copy %s into the root image", INIT_CAPSEM_DIR);
		return -1;
	}
	for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", INIT_NEWROOT, moved[i]);
		if (init_mkdirs(path, 0755) == -1 ||
		    mount(moved[i], path, NULL, MS_MOVE, NULL) == -1) {
			log_warn("move %s", moved[i]);
			return -1;
		}
	}
	/* The initramfs cannot be unmounted: move the new root over it. */
	if (chdir(INIT_NEWROOT) == -1 ||
	    mount(".", "/", NULL, MS_MOVE, NULL) == -1 ||
	    chroot(".") == -1 || chdir("/") == -1) {
		log_warn("switch root");
		return -1;
	}
	return 0;
}

int
init_install_ca(void)
{
	char	*pem;
	size_t	 len;
	int	 rc = -1;

	if (access(INIT_SESSION_CA, F_OK) == -1) {
		log_warnx("no session CA (%s): TLS through the proxy will fail",
		    INIT_SESSION_CA);
		return 0;
	}
	if ((pem = malloc(65536)) == NULL)
		return -1;
	if (init_read_file(INIT_SESSION_CA, pem, 65536, &len) == -1) {
		log_warn("read %s", INIT_SESSION_CA);
		goto out;
	}
	if (strstr(pem, "-----BEGIN CERTIFICATE-----") == NULL ||
	    memchr(pem, '\0', len) != NULL) {
		log_warnx("%s is not a PEM certificate", INIT_SESSION_CA);
		goto out;
	}
	if (init_mkdirs("/etc/capsem", 0755) == -1 ||
	    init_write_file(INIT_CA_COPY, pem, len, 0644, false) == -1) {
		log_warn("write %s", INIT_CA_COPY);
		goto out;
	}
	/* Append to the system bundle (creating it in an image without one). */
	if (init_mkdirs("/etc/ssl/certs", 0755) == -1 ||
	    init_write_file(INIT_CA_BUNDLE, "\n", 1, 0644, true) == -1 ||
	    init_write_file(INIT_CA_BUNDLE, pem, len, 0644, true) == -1) {
		log_warn("append to %s", INIT_CA_BUNDLE);
		goto out;
	}
	rc = 0;
out:
	free(pem);
	return rc;
}

int
init_write_resolv_conf(void)
{
	static const char resolv[] =
	    "# written by capsem-init: DNS goes to capsem-dns and the host proxy\n"
	    "nameserver 127.0.0.1\n"
	    "options edns0\n";

	if (init_mkdirs("/etc", 0755) == -1)
		return -1;
	/* Images often have a symlink here (systemd-resolved): replace it. */
	if (unlink("/etc/resolv.conf") == -1 && errno != ENOENT)
		return -1;
	return init_write_file("/etc/resolv.conf", resolv, sizeof(resolv) - 1,
	    0644, false);
}

/*
 * /etc/hosts: localhost and the session's host name, so that programs that
 * look their own name up (curl, git, node) find it without DNS.
 */
int
init_write_hosts(const char *hostname)
{
	char	 hosts[256];
	int	 n;

	n = snprintf(hosts, sizeof(hosts),
	    "# written by capsem-init\n"
	    "127.0.0.1\tlocalhost\n"
	    "127.0.1.1\t%s\n"
	    "::1\tlocalhost ip6-localhost ip6-loopback\n", hostname);
	if (n < 0 || (size_t)n >= sizeof(hosts))
		return -1;
	if (init_mkdirs("/etc", 0755) == -1)
		return -1;
	if (unlink("/etc/hosts") == -1 && errno != ENOENT)
		return -1;
	return init_write_file("/etc/hosts", hosts, (size_t)n, 0644, false);
}

/*
 * The workspace: the vmm's virtio-fs device, tag "workspace", served by
 * capsem-fsd(8) on the host.  nosuid and nodev whatever the host has;
 * read-only when the session says ro (fsd refuses writes too).
 */
int
init_mount_workspace(const struct session_conf *sc)
{
	unsigned long	 flags = MS_NOSUID | MS_NODEV;

	if (sc->workspace == SESSION_WORKSPACE_NONE)
		return 0;
	if (sc->workspace == SESSION_WORKSPACE_RO)
		flags |= MS_RDONLY;
	if (init_mkdirs(SESSION_WORKSPACE_DIR, 0755) == -1)
		return -1;
	if (mount(SESSION_WORKSPACE_TAG, SESSION_WORKSPACE_DIR, "virtiofs",
	    flags, NULL) == -1) {
		log_warn("mount %s", SESSION_WORKSPACE_DIR);
		return -1;
	}
	return 0;
}
