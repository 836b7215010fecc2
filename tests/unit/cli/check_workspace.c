/*
 * Check tests of the workspace decision (cli/workspace.c) on real
 * directories: a temporary tree holds a fake $HOME, a $CAPSEM_HOME under
 * data/, a work directory, a file and a symlink.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "policy.h"
#include "vm.h"
#include "workspace.h"

#define NOBODY	65534

/* The tree of one test (a fixture: Check runs each test in a fork). */
static char base[PATH_MAX];

static void
pathof(char *buf, const char *rel)
{
	ck_assert_int_lt(snprintf(buf, PATH_MAX, "%s/%s", base, rel),
	    PATH_MAX);
}

static void
mkdir_in(const char *rel, mode_t mode)
{
	char	 p[PATH_MAX];

	pathof(p, rel);
	ck_assert_msg(mkdir(p, mode) == 0, "mkdir %s", p);
	ck_assert_int_eq(chmod(p, mode), 0);	/* past the umask */
}

static void
setup(void)
{
	char	 p[PATH_MAX];
	int	 fd;

	snprintf(base, sizeof(base), "/tmp/capsem-ws-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
	ck_assert_int_eq(chmod(base, 0755), 0);
	mkdir_in("home", 0755);
	mkdir_in("data", 0755);
	mkdir_in("data/capsem", 0700);
	mkdir_in("data/capsem/sub", 0700);
	mkdir_in("work", 0755);
	mkdir_in("work/deep", 0755);
	pathof(p, "file");
	ck_assert_int_ge(fd = open(p, O_WRONLY | O_CREAT, 0644), 0);
	close(fd);
	pathof(p, "link");
	ck_assert_int_eq(symlink("work", p), 0);
	pathof(p, "home");
	setenv("HOME", p, 1);
	pathof(p, "data/capsem");
	setenv("CAPSEM_HOME", p, 1);
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void
teardown(void)
{
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* vm_opts asking for -w arg (NULL: the default, the current dir). */
static struct vm_opts
ask(const char *arg, bool force)
{
	struct vm_opts o;

	memset(&o, 0, sizeof(o));
	o.workspace_arg = arg;
	o.workspace_default = arg == NULL;
	o.workspace_force = force;
	return o;
}

/* Resolve -w rel (under base, or absolute) with and without --force. */
static int
try(const char *rel, bool force, const struct policy *pol,
    struct workspace *ws, char *err, size_t errlen)
{
	struct vm_opts o;
	char	 p[PATH_MAX];

	if (rel[0] == '/')
		snprintf(p, sizeof(p), "%s", rel);
	else
		pathof(p, rel);
	o = ask(p, force);
	return workspace_resolve(&o, pol, ws, err, errlen);
}

/* rel is refused without --force (err naming it and --force), shared
 * with it. */
static void
refused_unless_forced(const char *rel, const char *reason)
{
	struct workspace ws;
	char	 err[PATH_MAX + 256], asked[PATH_MAX], real[PATH_MAX];

	ck_assert_int_eq(try(rel, false, NULL, &ws, err, sizeof(err)), -1);
	ck_assert(!ws.shared);
	ck_assert_int_eq(ws.fd, -1);
	ck_assert_msg(strstr(err, reason) != NULL, "%s: %s", rel, err);
	ck_assert_msg(strstr(err, "--force overrides") != NULL, "%s", err);
	ck_assert_ptr_null(strchr(err, '\n'));
	if (rel[0] == '/')
		snprintf(asked, sizeof(asked), "%s", rel);
	else
		pathof(asked, rel);
	ck_assert_ptr_nonnull(realpath(asked, real));
	ck_assert_msg(strncmp(err, "workspace ", 10) == 0 &&
	    strncmp(err + 10, real, strlen(real)) == 0 &&
	    err[10 + strlen(real)] == ':', "%s", err);
	ck_assert_int_eq(try(rel, true, NULL, &ws, err, sizeof(err)), 0);
	ck_assert(ws.shared);
	ck_assert_int_ge(ws.fd, 0);
	workspace_close(&ws);
	ck_assert_int_eq(ws.fd, -1);
}

static struct policy *
policy_of(const char *user, const char *corp)
{
	struct config u, c;
	struct policy *p;
	char	 err[CONFIG_ERR_MAX];

	config_init(&u);
	config_init(&c);
	if (user != NULL)
		ck_assert(config_parse_buf(&u, "user.toml", user, strlen(user),
		    err, sizeof(err)) == 0);
	if (corp != NULL)
		ck_assert(config_parse_buf(&c, "corp.toml", corp, strlen(corp),
		    err, sizeof(err)) == 0);
	ck_assert_ptr_nonnull(p = policy_build(user != NULL ? &u : NULL,
	    corp != NULL ? &c : NULL, err, sizeof(err)));
	config_free(&u);
	config_free(&c);
	return p;
}

START_TEST(parse_arg)
{
	char	 dir[16], err[128];
	bool	 ro;

	ck_assert_int_eq(workspace_parse_arg("src", dir, sizeof(dir), &ro,
	    err, sizeof(err)), 0);
	ck_assert_str_eq(dir, "src");
	ck_assert(!ro);
	ck_assert_int_eq(workspace_parse_arg("/a/b:ro", dir, sizeof(dir), &ro,
	    err, sizeof(err)), 0);
	ck_assert_str_eq(dir, "/a/b");
	ck_assert(ro);
	/* only a trailing ":ro" is special */
	ck_assert_int_eq(workspace_parse_arg("a:rw", dir, sizeof(dir), &ro,
	    err, sizeof(err)), 0);
	ck_assert_str_eq(dir, "a:rw");
	ck_assert(!ro);
	ck_assert_int_eq(workspace_parse_arg("a:ro/b", dir, sizeof(dir), &ro,
	    err, sizeof(err)), 0);
	ck_assert_str_eq(dir, "a:ro/b");
	ck_assert_int_eq(workspace_parse_arg("a:ro:ro", dir, sizeof(dir), &ro,
	    err, sizeof(err)), 0);
	ck_assert_str_eq(dir, "a:ro");
	ck_assert(ro);
	/* empty, and too long */
	ck_assert_int_eq(workspace_parse_arg("", dir, sizeof(dir), &ro, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	ck_assert_int_eq(workspace_parse_arg(":ro", dir, sizeof(dir), &ro,
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	ck_assert_int_eq(workspace_parse_arg("0123456789abcdef", dir,
	    sizeof(dir), &ro, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
	ck_assert_int_eq(workspace_parse_arg("0123456789abcde:ro", dir,
	    sizeof(dir), &ro, err, sizeof(err)), 0);
}
END_TEST

START_TEST(nothing_asked)
{
	struct workspace ws;
	struct vm_opts o;
	struct policy *forbid = policy_of(NULL, "[workspace]\nallow = false\n");
	char	 err[256];

	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(workspace_resolve(&o, NULL, &ws, err, sizeof(err)), 0);
	ck_assert(!ws.shared);
	ck_assert_int_eq(ws.fd, -1);
	/* --no-workspace wins over the default, and needs no policy leave */
	o = ask(NULL, false);
	o.workspace_none = true;
	ck_assert_int_eq(workspace_resolve(&o, forbid, &ws, err, sizeof(err)),
	    0);
	ck_assert(!ws.shared);
	ck_assert_int_eq(ws.fd, -1);
	workspace_close(&ws);
	policy_free(forbid);
}
END_TEST

START_TEST(shares_realpath)
{
	struct workspace ws;
	struct stat a, b;
	struct vm_opts o;
	char	 err[PATH_MAX + 256], p[PATH_MAX], real[PATH_MAX];
	int	 fl;

	pathof(p, "work");
	ck_assert_ptr_nonnull(realpath(p, real));
	/* through the symlink, with a trailing slash */
	ck_assert_int_eq(try("link/", false, NULL, &ws, err, sizeof(err)), 0);
	ck_assert(ws.shared);
	ck_assert(!ws.readonly);
	ck_assert_str_eq(ws.path, real);
	ck_assert_int_ge(ws.fd, 0);
	ck_assert_int_eq(fstat(ws.fd, &a), 0);
	ck_assert(S_ISDIR(a.st_mode));
	ck_assert_int_eq(stat(real, &b), 0);
	ck_assert(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	ck_assert_int_ge(fl = fcntl(ws.fd, F_GETFD), 0);
	ck_assert(fl & FD_CLOEXEC);
	ck_assert_int_ge(fl = fcntl(ws.fd, F_GETFL), 0);
	ck_assert_int_eq(fl & O_ACCMODE, O_RDONLY);
	workspace_close(&ws);

	/* a relative -w, and the default: the current directory */
	ck_assert_int_eq(chdir(base), 0);
	o = ask("work/deep/..", false);
	ck_assert_int_eq(workspace_resolve(&o, NULL, &ws, err, sizeof(err)), 0);
	ck_assert_str_eq(ws.path, real);
	workspace_close(&ws);
	ck_assert_int_eq(chdir(p), 0);
	o = ask(NULL, false);
	ck_assert_int_eq(workspace_resolve(&o, NULL, &ws, err, sizeof(err)), 0);
	ck_assert(ws.shared);
	ck_assert_str_eq(ws.path, real);
	workspace_close(&ws);
}
END_TEST

START_TEST(refusals_forced)
{
	char	 p[PATH_MAX];

	refused_unless_forced("/", "root directory");
	refused_unless_forced("home", "home directory");
	refused_unless_forced("data/capsem", "capsem's own directory");
	refused_unless_forced("data/capsem/sub", "capsem's own directory");
	refused_unless_forced("data", "holds capsem's own directory");
	refused_unless_forced(".", "holds capsem's own directory");
	/* $HOME as written need not be canonical */
	pathof(p, "link/../home/");
	setenv("HOME", p, 1);
	refused_unless_forced("home", "home directory");
	/* ~/.capsem from $HOME when CAPSEM_HOME is unset */
	unsetenv("CAPSEM_HOME");
	pathof(p, "data");
	setenv("HOME", p, 1);
	refused_unless_forced("work/../data", "home directory");
	mkdir_in("data/.capsem", 0700);
	refused_unless_forced("data/.capsem", "capsem's own directory");
	/* a CAPSEM_HOME not made yet still has ancestors */
	pathof(p, "work/deep/not-yet/capsem");
	setenv("CAPSEM_HOME", p, 1);
	refused_unless_forced("work/deep", "holds capsem's own directory");
	refused_unless_forced("work", "holds capsem's own directory");
}
END_TEST

START_TEST(not_a_directory)
{
	struct workspace ws;
	char	 err[PATH_MAX + 256];
	int	 force;

	for (force = 0; force < 2; force++) {
		ck_assert_int_eq(try("file", force, NULL, &ws, err,
		    sizeof(err)), -1);
		ck_assert_msg(strstr(err, "not a directory") != NULL, "%s",
		    err);
		ck_assert_int_eq(ws.fd, -1);
		ck_assert_int_eq(try("nonexistent", force, NULL, &ws, err,
		    sizeof(err)), -1);
		ck_assert_msg(strstr(err, "nonexistent: No such file") != NULL,
		    "%s", err);
		ck_assert_int_eq(ws.fd, -1);
		ck_assert_int_eq(try("file/x", force, NULL, &ws, err,
		    sizeof(err)), -1);
	}
}
END_TEST

/* As the current user: a 0555 directory is refused rw, shared ro. */
static void
unwritable_checks(const char *rel)
{
	struct workspace ws;
	char	 err[PATH_MAX + 256], ro[PATH_MAX];

	refused_unless_forced(rel, "not writable by you");
	snprintf(ro, sizeof(ro), "%s:ro", rel);
	ck_assert_int_eq(try(ro, false, NULL, &ws, err, sizeof(err)), 0);
	ck_assert(ws.shared && ws.readonly);
	workspace_close(&ws);
}

START_TEST(unwritable)
{
	pid_t	 pid;
	int	 status;

	mkdir_in("work/locked", 0555);
	if (geteuid() != 0) {
		unwritable_checks("work/locked");
		return;
	}
	/* root may write anywhere: check it as nobody (the directory is
	 * root's) in a child that gives up root */
	if ((pid = fork()) == 0) {
		if (setgroups(0, NULL) == -1 || setgid(NOBODY) == -1 ||
		    setuid(NOBODY) == -1) {
			printf("unwritable: cannot become uid %d; the "
			    "writable check is not tested\n", NOBODY);
			_exit(0);
		}
		unwritable_checks("work/locked");
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the check as uid %d failed", NOBODY);
}
END_TEST

START_TEST(policy_forbids)
{
	struct workspace ws;
	struct policy *pol;
	struct vm_opts o;
	char	 err[PATH_MAX + 256];
	int	 force;

	pol = policy_of("[workspace]\nallow = true\n",
	    "# corp\n[workspace]\nallow = false\n");
	for (force = 0; force < 2; force++) {
		ck_assert_int_eq(try("work", force, pol, &ws, err,
		    sizeof(err)), -1);
		ck_assert_str_eq(err, "workspace refused: corp.toml:3: "
		    "[workspace] allow = false");
		ck_assert_int_eq(ws.fd, -1);
	}
	/* the default says how to start without one */
	ck_assert_int_eq(chdir(base), 0);
	o = ask(NULL, true);
	ck_assert_int_eq(workspace_resolve(&o, pol, &ws, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "corp.toml:3: [workspace] allow = "
	    "false (--no-workspace shares nothing)"));
	policy_free(pol);

	pol = policy_of("[workspace]\nallow = false\n", NULL);
	ck_assert_int_eq(try("work", true, pol, &ws, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "workspace refused: user.toml:2: "
	    "[workspace] allow = false");
	policy_free(pol);
}
END_TEST

START_TEST(readonly)
{
	struct workspace ws;
	struct policy *pol;
	char	 err[PATH_MAX + 256];

	ck_assert_int_eq(try("work:ro", false, NULL, &ws, err, sizeof(err)),
	    0);
	ck_assert(ws.shared && ws.readonly);
	workspace_close(&ws);

	/* the user's own policy, and corp's the user cannot loosen */
	pol = policy_of("[workspace]\nreadonly = true\n", NULL);
	ck_assert_int_eq(try("work", false, pol, &ws, err, sizeof(err)), 0);
	ck_assert(ws.shared && ws.readonly);
	workspace_close(&ws);
	policy_free(pol);
	pol = policy_of("[workspace]\nreadonly = false\n",
	    "[workspace]\nreadonly = true\n");
	ck_assert_int_eq(try("work", true, pol, &ws, err, sizeof(err)), 0);
	ck_assert(ws.shared && ws.readonly);
	workspace_close(&ws);
	policy_free(pol);

	pol = policy_of("[workspace]\nreadonly = false\nallow = true\n", NULL);
	ck_assert_int_eq(try("work", false, pol, &ws, err, sizeof(err)), 0);
	ck_assert(ws.shared && !ws.readonly);
	workspace_close(&ws);
	policy_free(pol);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("workspace");
	TCase	*tc = tcase_create("resolve");
	SRunner	*sr;
	int	 failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, parse_arg);
	tcase_add_test(tc, nothing_asked);
	tcase_add_test(tc, shares_realpath);
	tcase_add_test(tc, refusals_forced);
	tcase_add_test(tc, not_a_directory);
	tcase_add_test(tc, unwritable);
	tcase_add_test(tc, policy_forbids);
	tcase_add_test(tc, readonly);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
