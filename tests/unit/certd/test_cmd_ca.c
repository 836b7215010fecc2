/*
 * capsemctl ca init|show|export, ca_paths and ca_ensure, run in-process
 * against temporary CAPSEM_HOME and CAPSEM_CORP_CA directories.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_ca.h"

/* `ca mint` belongs to the session code; the library tests never call it. */
int
cmd_ca_mint(const char *host)
{
	(void)host;
	return 1;
}

static char root[64], home[128], corp[128];

static void
setup(void)
{
	snprintf(root, sizeof(root), "/tmp/capsem-cmdca.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(home, sizeof(home), "%s/home/.capsem", root);
	snprintf(corp, sizeof(corp), "%s/corp", root);
	ck_assert_int_eq(setenv("CAPSEM_HOME", home, 1), 0);
	ck_assert_int_eq(setenv("CAPSEM_CORP_CA", corp, 1), 0);
	snprintf(home, sizeof(home), "%s/home", root);
	ck_assert_int_eq(mkdir(home, 0755), 0);
	snprintf(home, sizeof(home), "%s/home/.capsem", root);
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	ck_assert_int_eq(system(cmd), 0);
}

static int
ca(const char *sub, const char *arg)
{
	char *argv[4] = { "ca", (char *)sub, (char *)arg, NULL };

	return cmd_ca(arg != NULL ? 3 : 2, argv);
}

static int
run(const char *cmd, char *out, size_t cap)
{
	FILE *p;
	size_t n = 0, r;
	int status;

	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	while (n + 1 < cap && (r = fread(out + n, 1, cap - 1 - n, p)) > 0)
		n += r;
	out[n] = '\0';
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Run fn with stdout captured into out. */
static int
capture(int (*fn)(const char *, const char *), const char *sub, char *out,
    size_t cap)
{
	char path[128];
	int saved, fd, rc;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stdout", root);
	fflush(stdout);
	ck_assert_int_ge(saved = dup(1), 0);
	ck_assert_int_ge(fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600), 0);
	ck_assert_int_eq(dup2(fd, 1), 1);
	rc = fn(sub, NULL);
	fflush(stdout);
	ck_assert_int_eq(dup2(saved, 1), 1);
	close(saved);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, out, cap - 1);
	ck_assert_int_ge(n, 0);
	out[n] = '\0';
	close(fd);
	return rc;
}

static mode_t
mode_of(const char *path)
{
	struct stat sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

START_TEST(test_init_modes_and_refusal)
{
	char pem[PATH_MAX], key[PATH_MAX], dir[PATH_MAX], cmd[PATH_MAX * 3];
	char out[8192], first[8192], *second;
	int corp_flag = -1;

	ck_assert_int_eq(ca("init", NULL), 0);
	ck_assert_int_eq(ca_paths(pem, sizeof(pem), key, sizeof(key),
	    &corp_flag), 0);
	ck_assert_int_eq(corp_flag, 0);
	snprintf(dir, sizeof(dir), "%s/ca", home);
	snprintf(cmd, sizeof(cmd), "%s/ca.pem", dir);
	ck_assert_str_eq(pem, cmd);
	ck_assert_uint_eq(mode_of(dir), 0700);
	ck_assert_uint_eq(mode_of(home), 0700);
	ck_assert_uint_eq(mode_of(pem), 0644);
	ck_assert_uint_eq(mode_of(key), 0600);
	/* no temporary files left behind */
	snprintf(cmd, sizeof(cmd), "ls -A %s", dir);
	ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "ca.key\nca.pem\n");
	/* key and certificate belong together */
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -pubkey && "
	    "openssl pkey -in %s -pubout", pem, key);
	ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(second = strstr(out, "-----END PUBLIC KEY-----\n"));
	second += strlen("-----END PUBLIC KEY-----\n");
	ck_assert_uint_eq((size_t)(second - out) * 2, strlen(out));
	ck_assert_int_eq(memcmp(out, second, (size_t)(second - out)), 0);

	snprintf(cmd, sizeof(cmd), "cat %s", pem);
	ck_assert_int_eq(run(cmd, first, sizeof(first)), 0);
	ck_assert_int_eq(ca("init", NULL), 1);		/* exists */
	ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
	ck_assert_str_eq(out, first);
	ck_assert_int_eq(ca("init", "--force"), 0);	/* replaced */
	ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
	ck_assert_str_ne(out, first);
	ck_assert_uint_eq(mode_of(key), 0600);
	ck_assert_int_eq(ca("init", "--bogus"), 2);
	ck_assert_int_eq(ca("frobnicate", NULL), 2);
}
END_TEST

START_TEST(test_show_and_export)
{
	char pem[PATH_MAX], key[PATH_MAX], cmd[PATH_MAX * 3], out[8192];
	char shown[8192], *fp;
	int corp_flag;

	ck_assert_int_eq(ca("show", NULL), 1);		/* nothing yet */
	ck_assert_int_eq(ca_ensure(), 0);		/* creates it */
	ck_assert_int_eq(ca_paths(pem, sizeof(pem), key, sizeof(key),
	    &corp_flag), 0);
	ck_assert_int_eq(access(key, R_OK), 0);
	ck_assert_int_eq(ca_ensure(), 0);		/* and keeps it */

	ck_assert_int_eq(capture(ca, "show", shown, sizeof(shown)), 0);
	ck_assert_msg(strstr(shown, "subject:    CN=capsem CA (") != NULL, "%s",
	    shown);
	ck_assert_ptr_nonnull(strstr(shown, "not before: "));
	ck_assert_ptr_nonnull(strstr(shown, "not after:  "));
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -fingerprint "
	    "-sha256", pem);
	ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(fp = strchr(out, '='));
	ck_assert_msg(strstr(shown, fp + 1) != NULL, "%s vs %s", shown, fp + 1);

	ck_assert_int_eq(capture(ca, "export", shown, sizeof(shown)), 0);
	snprintf(cmd, sizeof(cmd), "cat %s", pem);
	ck_assert_int_eq(run(cmd, out, sizeof(out)), 0);
	ck_assert_str_eq(shown, out);
}
END_TEST

START_TEST(test_company_ca_wins)
{
	char pem[PATH_MAX], key[PATH_MAX], cmd[PATH_MAX * 3], out[8192];
	char shown[8192];
	int corp_flag = 0;

	ck_assert_int_eq(mkdir(corp, 0755), 0);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -keyout %s/ca.key -out %s/ca.pem "
	    "-days 30 -subj '/O=Corp/CN=Corp CA' -addext "
	    "basicConstraints=critical,CA:TRUE 2>&1", corp, corp);
	ck_assert_msg(run(cmd, out, sizeof(out)) == 0, "%s", out);

	ck_assert_int_eq(ca("init", NULL), 1);
	ck_assert_int_eq(ca("init", "--force"), 1);
	snprintf(cmd, sizeof(cmd), "%s/ca", home);
	ck_assert_int_eq(access(cmd, F_OK), -1);	/* nothing written */

	ck_assert_int_eq(ca_paths(pem, sizeof(pem), key, sizeof(key),
	    &corp_flag), 0);
	ck_assert_int_eq(corp_flag, 1);
	snprintf(cmd, sizeof(cmd), "%s/ca.pem", corp);
	ck_assert_str_eq(pem, cmd);
	ck_assert_int_eq(ca_ensure(), 0);
	ck_assert_int_eq(capture(ca, "show", shown, sizeof(shown)), 0);
	ck_assert_msg(strstr(shown, "source:     company") != NULL, "%s", shown);
	ck_assert_msg(strstr(shown, "CN=Corp CA") != NULL, "%s", shown);
}
END_TEST

START_TEST(test_incomplete_ca)
{
	char pem[PATH_MAX], key[PATH_MAX];
	int corp_flag;

	ck_assert_int_eq(ca("init", NULL), 0);
	ck_assert_int_eq(ca_paths(pem, sizeof(pem), key, sizeof(key),
	    &corp_flag), 0);
	ck_assert_int_eq(unlink(key), 0);
	ck_assert_int_eq(ca_ensure(), -1);
	ck_assert_int_eq(ca("init", NULL), 1);
	ck_assert_int_eq(ca("init", "--force"), 0);
	ck_assert_int_eq(ca_ensure(), 0);
}
END_TEST

static Suite *
cmd_ca_suite(void)
{
	Suite *s = suite_create("cmd_ca");
	TCase *tc = tcase_create("cmd_ca");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_init_modes_and_refusal);
	tcase_add_test(tc, test_show_and_export);
	tcase_add_test(tc, test_company_ca_wins);
	tcase_add_test(tc, test_incomplete_ca);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cmd_ca_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
