/*
 * cmd_ca: the per-install CA on disk.  `ca init` makes it (mbedTLS, via
 * certd/ca.c) and writes it atomically; `ca show` and `ca export` read it.
 * The private key is only ever read by the session parent, which passes
 * it to certd as an fd.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "ca.h"
#include "cmd_ca.h"
#include "home.h"

#define CA_FILE_MAX	(1024 * 1024)

static const char *
corp_dir(void)
{
	const char *dir = getenv("CAPSEM_CORP_CA");

	return dir != NULL && dir[0] != '\0' ? dir : CA_CORP_DIR_DEFAULT;
}

static int
join(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "capsemctl: path too long: %s/%s\n", dir, name);
		return -1;
	}
	return 0;
}

static int
user_ca_dir(char *buf, size_t len)
{
	char home[PATH_MAX];

	if (capsem_home_or_say(home, sizeof(home)) == -1)
		return -1;
	return join(buf, len, home, "ca");
}

static int
corp_ca_present(char *pem, size_t pemlen, char *key, size_t keylen)
{
	if (join(pem, pemlen, corp_dir(), "ca.pem") == -1 ||
	    join(key, keylen, corp_dir(), "ca.key") == -1)
		return -1;
	return access(pem, F_OK) == 0 ? 1 : 0;
}

int
ca_paths(char *pem, size_t pemlen, char *key, size_t keylen, int *is_corp)
{
	char dir[PATH_MAX];
	int corp;

	if ((corp = corp_ca_present(pem, pemlen, key, keylen)) == -1)
		return -1;
	*is_corp = corp;
	if (corp)
		return 0;
	if (user_ca_dir(dir, sizeof(dir)) == -1 ||
	    join(pem, pemlen, dir, "ca.pem") == -1 ||
	    join(key, keylen, dir, "ca.key") == -1)
		return -1;
	return 0;
}

/* mkdir that accepts an existing directory and forces mode 0700. */
static int
make_private_dir(const char *path)
{
	struct stat sb;

	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "capsemctl: mkdir %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (lstat(path, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "capsemctl: %s is not a directory\n", path);
		return -1;
	}
	if (sb.st_uid != geteuid()) {
		fprintf(stderr, "capsemctl: %s belongs to another user\n", path);
		return -1;
	}
	if ((sb.st_mode & 07777) != 0700 && chmod(path, 0700) == -1) {
		fprintf(stderr, "capsemctl: chmod %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Write data to dir/name through a temporary file and rename(2). */
static int
write_atomic(const char *dir, const char *name, const char *data, size_t len,
    mode_t mode)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	size_t off = 0;
	ssize_t n;
	int fd;

	if (join(path, sizeof(path), dir, name) == -1 ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >=
	    (int)sizeof(tmp))
		return -1;
	if ((fd = mkstemp(tmp)) == -1) {
		fprintf(stderr, "capsemctl: create %s: %s\n", tmp,
		    strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) == -1)
		goto fail;
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "capsemctl: write %s: %s\n", path, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}

static int
ca_create(const char *dir, bool quiet)
{
	struct ca_rng *rng;
	struct ca_pem pem;
	char host[256], home[PATH_MAX], err[CA_ERR_MAX];
	int rc = -1;

	if (capsem_home_or_say(home, sizeof(home)) == -1 ||
	    make_private_dir(home) == -1 || make_private_dir(dir) == -1)
		return -1;
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if ((rng = ca_rng_new(err, sizeof(err))) == NULL) {
		fprintf(stderr, "capsemctl: %s\n", err);
		return -1;
	}
	if (ca_generate(rng, host, time(NULL), &pem, err, sizeof(err)) == -1) {
		fprintf(stderr, "capsemctl: %s\n", err);
		ca_rng_free(rng);
		return -1;
	}
	/* Key first: a certificate never exists without its key. */
	if (write_atomic(dir, "ca.key", pem.key, pem.key_len, 0600) == 0 &&
	    write_atomic(dir, "ca.pem", pem.cert, pem.cert_len, 0644) == 0) {
		rc = 0;
		if (!quiet)
			printf("created a new CA in %s/\n", dir);
	}
	ca_pem_free(&pem);
	ca_rng_free(rng);
	return rc;
}

int
ca_ensure(void)
{
	char pem[PATH_MAX], key[PATH_MAX], dir[PATH_MAX];
	int corp, have_pem, have_key;

	if (ca_paths(pem, sizeof(pem), key, sizeof(key), &corp) == -1)
		return -1;
	if (corp)
		return 0;
	have_pem = access(pem, F_OK) == 0;
	have_key = access(key, F_OK) == 0;
	if (have_pem && have_key)
		return 0;
	if (have_pem != have_key) {
		fprintf(stderr, "capsemctl: incomplete CA: %s exists without %s "
		    "(capsemctl ca init --force makes a new one)\n",
		    have_pem ? pem : key, have_pem ? key : pem);
		return -1;
	}
	if (user_ca_dir(dir, sizeof(dir)) == -1)
		return -1;
	return ca_create(dir, true);
}

static int
ca_init(int argc, char *argv[])
{
	char pem[PATH_MAX], key[PATH_MAX], dir[PATH_MAX];
	bool force = false;
	int i;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0)
			force = true;
		else {
			fprintf(stderr, "usage: capsemctl ca init [--force]\n");
			return 2;
		}
	}
	switch (corp_ca_present(pem, sizeof(pem), key, sizeof(key))) {
	case -1:
		return 1;
	case 1:
		fprintf(stderr, "capsemctl: a company CA is installed in %s/ and "
		    "takes precedence; ca init does nothing\n", corp_dir());
		return 1;
	default:
		break;
	}
	if (user_ca_dir(dir, sizeof(dir)) == -1 ||
	    join(pem, sizeof(pem), dir, "ca.pem") == -1 ||
	    join(key, sizeof(key), dir, "ca.key") == -1)
		return 1;
	if (!force && (access(pem, F_OK) == 0 || access(key, F_OK) == 0)) {
		fprintf(stderr, "capsemctl: a CA already exists in %s/ "
		    "(--force replaces it; guests of running sessions keep "
		    "the old one)\n", dir);
		return 1;
	}
	return ca_create(dir, false) == 0 ? 0 : 1;
}

/* Read a whole file (bounded) into a NUL-terminated heap buffer. */
static char *
read_file(const char *path, size_t *len)
{
	char *buf;
	size_t have = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "capsemctl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(CA_FILE_MAX + 1)) == NULL) {
		close(fd);
		fprintf(stderr, "capsemctl: out of memory\n");
		return NULL;
	}
	while ((n = read(fd, buf + have, CA_FILE_MAX - have)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "capsemctl: %s: %s\n", path,
			    strerror(errno));
			goto fail;
		}
		have += (size_t)n;
		if (have == CA_FILE_MAX) {
			fprintf(stderr, "capsemctl: %s: larger than 1 MiB\n",
			    path);
			goto fail;
		}
	}
	close(fd);
	buf[have] = '\0';
	*len = have;
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

/* Load the CA certificate in use; prints why on failure. */
static char *
load_ca_cert(mbedtls_x509_crt *crt, char *path, size_t pathlen, int *corp,
    size_t *len)
{
	char key[PATH_MAX], *pem;
	int ret;

	if (ca_paths(path, pathlen, key, sizeof(key), corp) == -1)
		return NULL;
	if (!*corp && access(path, F_OK) == -1) {
		fprintf(stderr, "capsemctl: no CA yet (%s missing); "
		    "capsemctl ca init makes one\n", path);
		return NULL;
	}
	if ((pem = read_file(path, len)) == NULL)
		return NULL;
	mbedtls_x509_crt_init(crt);
	if ((ret = mbedtls_x509_crt_parse(crt, (const unsigned char *)pem,
	    *len + 1)) != 0) {
		fprintf(stderr, "capsemctl: %s: not a PEM certificate (%d)\n",
		    path, ret);
		mbedtls_x509_crt_free(crt);
		free(pem);
		return NULL;
	}
	return pem;
}

static void
print_time(const char *label, const mbedtls_x509_time *t)
{
	printf("%-12s%04d-%02d-%02d %02d:%02d:%02d UTC\n", label, t->year,
	    t->mon, t->day, t->hour, t->min, t->sec);
}

static int
ca_show(void)
{
	mbedtls_x509_crt crt;
	char path[PATH_MAX], subject[512], *pem;
	uint8_t digest[32];
	size_t len, i;
	int corp;

	if ((pem = load_ca_cert(&crt, path, sizeof(path), &corp, &len)) == NULL)
		return 1;
	if (mbedtls_x509_dn_gets(subject, sizeof(subject), &crt.subject) < 0)
		snprintf(subject, sizeof(subject), "?");
	ca_unescape_dn(subject);
	mbedtls_sha256_ret(crt.raw.p, crt.raw.len, digest, 0);
	printf("%-12s%s (%s)\n", "source:", corp ? "company" : "user", path);
	printf("%-12s%s\n", "subject:", subject);
	printf("%-12s", "sha256:");
	for (i = 0; i < sizeof(digest); i++)
		printf("%02X%s", digest[i], i + 1 < sizeof(digest) ? ":" : "\n");
	print_time("not before:", &crt.valid_from);
	print_time("not after:", &crt.valid_to);
	mbedtls_x509_crt_free(&crt);
	free(pem);
	return 0;
}

static int
ca_export(void)
{
	mbedtls_x509_crt crt;
	char path[PATH_MAX], *pem;
	size_t len;
	int corp;

	if ((pem = load_ca_cert(&crt, path, sizeof(path), &corp, &len)) == NULL)
		return 1;
	mbedtls_x509_crt_free(&crt);
	if (fwrite(pem, 1, len, stdout) != len || fflush(stdout) == EOF) {
		fprintf(stderr, "capsemctl: writing to stdout: %s\n",
		    strerror(errno));
		free(pem);
		return 1;
	}
	free(pem);
	return 0;
}

static void
ca_usage(void)
{
	fprintf(stderr, "usage: capsemctl ca init [--force]\n"
	    "       capsemctl ca show\n"
	    "       capsemctl ca export\n"
	    "       capsemctl ca mint HOST\n");
}

int
cmd_ca(int argc, char *argv[])
{
	if (argc < 2) {
		ca_usage();
		return 2;
	}
	if (strcmp(argv[1], "init") == 0)
		return ca_init(argc, argv);
	if (strcmp(argv[1], "show") == 0 && argc == 2)
		return ca_show();
	if (strcmp(argv[1], "export") == 0 && argc == 2)
		return ca_export();
	if (strcmp(argv[1], "mint") == 0 && argc == 3)
		return cmd_ca_mint(argv[2]);
	ca_usage();
	return 2;
}
