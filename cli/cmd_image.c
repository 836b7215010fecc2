/*
 * cmd_image: `capsemctl image build [-f] [-v] [name]` and
 * `capsemctl image list [--json]`.
 *
 * build runs guest/image/build-agent-image.sh from its installed place:
 *     $CAPSEM_DATA_DIR/image/build-agent-image.sh   (CAPSEM_DATA_DIR set;
 *         the source tree's guest/ directory works too)
 *     CAPSEM_DATADIR/image/build-agent-image.sh     (compiled in:
 *         <prefix>/share/capsem)
 * with -g the directory of capsem-init, capsem-relay and capsem-dns:
 * $CAPSEM_GUEST_DIR, else CAPSEM_LIBEXECDIR/guest (where guest/ installs
 * them).  The script needs root; its stdout's last line is the image
 * directory, its progress goes to stderr.
 *
 * list reads $CAPSEM_HOME/images/<name>/manifest.json (CAPSEM_HOME
 * defaults to ~/.capsem): name, kind, size of the root image, agents and
 * their versions, and whether the files the manifest names are there with
 * the sizes it records.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capsem_config.h"
#include "cmd_image.h"
#include "home.h"
#include "jsonin.h"

#ifndef CAPSEM_DATADIR
#error "capsem_config.h lacks CAPSEM_DATADIR (prefix/share/capsem)"
#endif

#define IMAGE_SCRIPT		"image/build-agent-image.sh"
#define IMAGE_MANIFEST_MAX	(1024 * 1024)
#define IMAGE_NAME_MAX		64
#define IMAGE_MAX		256

static const char *const image_files[] = {
	"rootfs.erofs", "initrd.img", "vmlinux", "bzImage",
};
#define IMAGE_NFILES	(sizeof(image_files) / sizeof(image_files[0]))

/* ------------------------------------------------------------------------ */
/* Paths.                                                                   */

static int
image_name_valid(const char *name)
{
	size_t	 len = strlen(name);

	if (len == 0 || len > IMAGE_NAME_MAX || name[0] == '.')
		return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == len;
}

static int
images_root(char *buf, size_t len)
{
	char	 home[4096];
	int	 n;

	if (capsem_home_or_say(home, sizeof(home)) == -1)
		return -1;
	n = snprintf(buf, len, "%s/images", home);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "capsemctl: CAPSEM_HOME path too long\n");
		return -1;
	}
	return 0;
}

int
image_dir(const char *name, char *buf, size_t len)
{
	char	 root[PATH_MAX];
	int	 n;

	if (!image_name_valid(name)) {
		fprintf(stderr, "capsemctl: bad image name \"%s\": use 1-%d of "
		    "A-Z a-z 0-9 . _ - (not starting with .)\n", name,
		    IMAGE_NAME_MAX);
		return -1;
	}
	if (images_root(root, sizeof(root)) == -1)
		return -1;
	n = snprintf(buf, len, "%s/%s", root, name);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "capsemctl: image path too long\n");
		return -1;
	}
	return 0;
}

/* dir/name into buf; -1 if it does not fit. */
static int
path_join(char *buf, size_t len, const char *dir, const char *name)
{
	int	 n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Manifests.                                                               */

struct manifest {
	char	*text;
	size_t	 len;
	int	 valid;		/* parsed as JSON */
	int	 complete;	/* every file there with its recorded size */
	char	 missing[64];	/* the first file that is not */
};

static void
manifest_free(struct manifest *m)
{
	free(m->text);
	m->text = NULL;
}

/* Read and check dir/manifest.json. -1 only if it cannot be read. */
static int
manifest_load(const char *dir, struct manifest *m)
{
	char	 path[PATH_MAX];
	struct stat sb;
	ssize_t	 n;
	int	 fd;

	memset(m, 0, sizeof(*m));
	if (path_join(path, sizeof(path), dir, "manifest.json") == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > IMAGE_MANIFEST_MAX ||
	    (m->text = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	while (m->len < (size_t)sb.st_size) {
		n = read(fd, m->text + m->len, (size_t)sb.st_size - m->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		m->len += (size_t)n;
	}
	close(fd);
	m->text[m->len] = '\0';
	m->valid = json_valid(m->text, m->len);
	if (!m->valid)
		return 0;
	m->complete = 1;
	for (size_t i = 0; i < IMAGE_NFILES; i++) {
		char	 key[128];
		unsigned long long size;

		snprintf(key, sizeof(key), "files/%s/size", image_files[i]);
		if (json_get_uint(m->text, m->len, key, &size) == -1 ||
		    path_join(path, sizeof(path), dir, image_files[i]) == -1 ||
		    stat(path, &sb) == -1 || !S_ISREG(sb.st_mode) ||
		    (unsigned long long)sb.st_size != size) {
			m->complete = 0;
			snprintf(m->missing, sizeof(m->missing), "%s",
			    image_files[i]);
			break;
		}
	}
	return 0;
}

int
image_ready(const char *name)
{
	char	 dir[PATH_MAX];
	struct manifest m;
	int	 ready;

	if (image_dir(name, dir, sizeof(dir)) == -1 ||
	    manifest_load(dir, &m) == -1)
		return 0;
	ready = m.valid && m.complete;
	manifest_free(&m);
	return ready;
}

int
image_dir_ready(const char *dir, char *why, size_t whylen)
{
	struct manifest m;
	int	 ready;

	if (manifest_load(dir, &m) == -1) {
		snprintf(why, whylen, "%s/manifest.json: %s", dir,
		    strerror(errno));
		return 0;
	}
	ready = m.valid && m.complete;
	if (!m.valid)
		snprintf(why, whylen, "%s/manifest.json is not valid JSON", dir);
	else if (!m.complete)
		snprintf(why, whylen, "%s/%s is missing or not the size the "
		    "manifest records", dir, m.missing);
	manifest_free(&m);
	return ready;
}

int
image_manifest_string(const char *dir, const char *path, char *out,
    size_t outlen)
{
	struct manifest m;
	int	 r = -1;

	if (manifest_load(dir, &m) == -1)
		return -1;
	if (m.valid)
		r = json_get_string(m.text, m.len, path, out, outlen);
	manifest_free(&m);
	return r;
}

/* ------------------------------------------------------------------------ */
/* image build                                                              */

/* The build script's path; -1 (errno set) if too long or not runnable. */
static int
script_find(char *buf, size_t len)
{
	const char *dir = getenv("CAPSEM_DATA_DIR");

	if (dir == NULL || dir[0] == '\0')
		dir = CAPSEM_DATADIR;
	if (path_join(buf, len, dir, IMAGE_SCRIPT) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return access(buf, X_OK);
}

static int
script_path(char *buf, size_t len)
{
	if (script_find(buf, len) == -1 && errno == ENAMETOOLONG) {
		fprintf(stderr, "capsemctl: CAPSEM_DATA_DIR path too long\n");
		return -1;
	}
	if (access(buf, X_OK) == -1) {
		fprintf(stderr, "capsemctl: %s: %s (set CAPSEM_DATA_DIR to the "
		    "directory holding image/build-agent-image.sh)\n", buf,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
image_current_pins(char *buf, size_t len)
{
	char	 script[PATH_MAX];
	size_t	 got = 0;
	ssize_t	 n;
	int	 p[2], status, devnull;
	pid_t	 pid;

	if (len == 0 || script_find(script, sizeof(script)) == -1)
		return -1;
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	switch (pid = fork()) {
	case -1:
		close(p[0]);
		close(p[1]);
		return -1;
	case 0:
		if (dup2(p[1], STDOUT_FILENO) == -1)
			_exit(127);
		if ((devnull = open("/dev/null", O_WRONLY)) != -1)
			(void)dup2(devnull, STDERR_FILENO);
		execl(script, script, "-P", (char *)NULL);
		_exit(127);
	default:
		break;
	}
	close(p[1]);
	while (got < len - 1 && ((n = read(p[0], buf + got, len - 1 - got)) > 0 ||
	    (n == -1 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	buf[got] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || buf[0] == '\0')
		return -1;
	return 0;
}

static int
guest_dir(char *buf, size_t len)
{
	const char *dir = getenv("CAPSEM_GUEST_DIR");
	char	 init[PATH_MAX];
	int	 n;

	if (dir != NULL && dir[0] != '\0')
		n = snprintf(buf, len, "%s", dir);
	else
		n = snprintf(buf, len, "%s/guest", CAPSEM_LIBEXECDIR);
	if (n < 0 || (size_t)n >= len ||
	    path_join(init, sizeof(init), buf, "capsem-init") == -1) {
		fprintf(stderr, "capsemctl: CAPSEM_GUEST_DIR path too long\n");
		return -1;
	}
	if (access(init, X_OK) == -1) {
		fprintf(stderr, "capsemctl: %s: %s (set CAPSEM_GUEST_DIR to the "
		    "directory holding capsem-init)\n", init, strerror(errno));
		return -1;
	}
	return 0;
}

int
image_build(const char *name, int force, int verbose)
{
	char	 script[PATH_MAX], guest[PATH_MAX], dir[PATH_MAX];
	char	*argv[8];
	int	 argc = 0, status;
	pid_t	 pid;

	if (image_dir(name, dir, sizeof(dir)) == -1 ||
	    script_path(script, sizeof(script)) == -1 ||
	    guest_dir(guest, sizeof(guest)) == -1)
		return 1;
	if (geteuid() != 0) {
		fprintf(stderr, "capsemctl: building an image needs root "
		    "(debootstrap, chroot, mount): run sudo capsemctl image "
		    "build %s\n", name);
		return 1;
	}
	argv[argc++] = script;
	if (force)
		argv[argc++] = (char *)"-f";
	if (verbose)
		argv[argc++] = (char *)"-v";
	argv[argc++] = (char *)"-g";
	argv[argc++] = guest;
	argv[argc++] = (char *)name;
	argv[argc] = NULL;

	switch (pid = fork()) {
	case -1:
		fprintf(stderr, "capsemctl: fork: %s\n", strerror(errno));
		return 1;
	case 0:
		execv(script, argv);
		fprintf(stderr, "capsemctl: %s: %s\n", script, strerror(errno));
		_exit(127);
	default:
		break;
	}
	/* Ctrl-C reaches the script (same process group); wait for it. */
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			fprintf(stderr, "capsemctl: waitpid: %s\n",
			    strerror(errno));
			return 1;
		}
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 2 ? 2 :
		    WEXITSTATUS(status) == 0 ? 0 : 1;
	if (WIFSIGNALED(status))
		fprintf(stderr, "capsemctl: image build ended by signal %d; "
		    "run it again to resume\n", WTERMSIG(status));
	return 1;
}

static int
image_build_cmd(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch, force = 0, verbose = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+fv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			force = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		goto usage;
	return image_build(argc == 1 ? argv[0] : "default", force, verbose);
usage:
	fprintf(stderr, "usage: capsemctl image build [-f] [-v] [name]\n");
	return 2;
}

/* ------------------------------------------------------------------------ */
/* image list                                                               */

static void
json_put_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(fp, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(fp, "\\u%04x", ch);
		else
			fputc(ch, fp);
	}
	fputc('"', fp);
}

struct agent_list {
	const struct manifest *m;
	char	 text[256];
	size_t	 used;
};

static void
agent_append(const char *agent, void *arg)
{
	struct agent_list *al = arg;
	char	 key[300], version[64];
	int	 n;

	if (snprintf(key, sizeof(key), "agents/%s/version", agent) >=
	    (int)sizeof(key) ||
	    json_get_string(al->m->text, al->m->len, key, version,
	    sizeof(version)) == -1)
		snprintf(version, sizeof(version), "?");
	n = snprintf(al->text + al->used, sizeof(al->text) - al->used, "%s%s %s",
	    al->used > 0 ? ", " : "", agent, version);
	if (n > 0 && (size_t)n < sizeof(al->text) - al->used)
		al->used += (size_t)n;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Printable text of at most len-1 bytes for the table. */
static void
printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static int
image_list_cmd(int argc, char *argv[])
{
	char	 root[PATH_MAX], dir[PATH_MAX];
	char	*names[IMAGE_MAX];
	size_t	 nnames = 0;
	DIR	*d;
	struct dirent *de;
	int	 json = 0, rc = 0;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		json = 1;
	else if (argc != 1) {
		fprintf(stderr, "usage: capsemctl image list [--json]\n");
		return 2;
	}
	if (images_root(root, sizeof(root)) == -1)
		return 1;
	if ((d = opendir(root)) == NULL) {
		if (errno != ENOENT) {
			fprintf(stderr, "capsemctl: %s: %s\n", root,
			    strerror(errno));
			return 1;
		}
	} else {
		while ((de = readdir(d)) != NULL && nnames < IMAGE_MAX) {
			/* Names the build uses for its temporary directories. */
			if (!image_name_valid(de->d_name) ||
			    strstr(de->d_name, ".tmp.") != NULL)
				continue;
			if ((names[nnames] = strdup(de->d_name)) == NULL) {
				closedir(d);
				fprintf(stderr, "capsemctl: out of memory\n");
				return 1;
			}
			nnames++;
		}
		closedir(d);
	}
	qsort(names, nnames, sizeof(names[0]), name_cmp);

	if (json)
		printf("[");
	else
		printf("%-16s %-6s %8s %-20s %-12s %s\n", "NAME", "KIND", "SIZE",
		    "CREATED", "STATUS", "AGENTS");
	for (size_t i = 0, shown = 0; i < nnames; i++) {
		struct manifest m;
		struct agent_list al;
		char	 kind[16], created[32];
		unsigned long long size = 0;

		if (path_join(dir, sizeof(dir), root, names[i]) == -1 ||
		    manifest_load(dir, &m) == -1)
			continue;	/* not an image directory */
		if (json) {
			printf("%s\n  {\"name\": ", shown ? "," : "");
			json_put_string(stdout, names[i]);
			printf(", \"dir\": ");
			json_put_string(stdout, dir);
			printf(", \"complete\": %s, \"manifest\": ",
			    m.valid && m.complete ? "true" : "false");
			if (m.valid)
				fwrite(m.text, 1, m.len, stdout);
			else
				printf("null");
			printf("}");
		} else {
			const char *status = !m.valid ? "bad-manifest" :
			    m.complete ? "ready" : "incomplete";

			if (!m.valid ||
			    json_get_string(m.text, m.len, "kind", kind,
			    sizeof(kind)) == -1)
				snprintf(kind, sizeof(kind), "?");
			if (!m.valid ||
			    json_get_string(m.text, m.len, "created", created,
			    sizeof(created)) == -1)
				snprintf(created, sizeof(created), "?");
			if (m.valid)
				json_get_uint(m.text, m.len,
				    "files/rootfs.erofs/size", &size);
			memset(&al, 0, sizeof(al));
			al.m = &m;
			if (!m.valid || json_each_key(m.text, m.len, "agents",
			    agent_append, &al) <= 0)
				snprintf(al.text, sizeof(al.text), "-");
			printable(kind);
			printable(created);
			printable(al.text);
			printf("%-16s %-6s %7lluM %-20s %-12s %s\n", names[i],
			    kind, (size + (1 << 20) - 1) >> 20, created, status,
			    al.text);
			if (m.valid && !m.complete)
				fprintf(stderr, "capsemctl: image %s: %s missing "
				    "or of the wrong size; run capsemctl image "
				    "build %s\n", names[i], m.missing, names[i]);
		}
		shown++;
		manifest_free(&m);
	}
	if (json)
		printf("%s]\n", nnames > 0 ? "\n" : "");
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	if (fflush(stdout) == EOF)
		rc = 1;
	return rc;
}

int
cmd_image(int argc, char *argv[])
{
	if (argc >= 2 && strcmp(argv[1], "build") == 0)
		return image_build_cmd(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return image_list_cmd(argc - 1, argv + 1);
	fprintf(stderr, "usage: capsemctl %s\n", CMD_IMAGE_USAGE);
	return 2;
}
