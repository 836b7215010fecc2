/*
 * Check tests of what the session parent writes for the guest:
 * session.conf (guest/PROTOCOL section 5) and agent.env.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "vm.h"

static char *argv_sh[] = { "/bin/sh", "-c", "echo hi", NULL };

static int
conf(struct vm_opts *o, char *buf, size_t len, char *err)
{
	size_t	 n = 0;
	int	 r = vm_session_conf(o, buf, len, &n, err, 256);

	if (r == 0)
		buf[n] = '\0';
	return r;
}

START_TEST(conf_lines)
{
	struct vm_opts o;
	char	 buf[4096], err[256];

	memset(&o, 0, sizeof(o));
	o.user = "agent";
	o.disk = "/x/rootfs.erofs";
	o.rootfstype = "erofs";
	o.argv = argv_sh;
	o.argc = 3;
	ck_assert_int_eq(vm_env_set(&o, "A=1"), 0);
	ck_assert_int_eq(vm_env_set(&o, "B=x=y"), 0);
	ck_assert_int_eq(vm_env_set(&o, "A=2"), 0);	/* replaces A */
	ck_assert_int_eq(o.nenv, 2);
	ck_assert_int_eq(conf(&o, buf, sizeof(buf), err), 0);
	ck_assert_ptr_nonnull(strstr(buf, "\nuser=agent\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nroot=/dev/vda\nrootfstype=erofs\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nenv=A=2\nenv=B=x=y\n"));
	ck_assert_ptr_null(strstr(buf, "env=A=1"));
	ck_assert_ptr_nonnull(strstr(buf,
	    "\narg=/bin/sh\narg=-c\narg=echo hi\n"));
	/* no root image: no root or rootfstype lines */
	o.disk = NULL;
	ck_assert_int_eq(conf(&o, buf, sizeof(buf), err), 0);
	ck_assert_ptr_null(strstr(buf, "root"));
}
END_TEST

START_TEST(conf_refuses)
{
	struct vm_opts o;
	char	 buf[4096], err[256];
	char	*bad_arg[] = { "/bin/sh", "-c", "a\nb", NULL };

	memset(&o, 0, sizeof(o));
	o.argv = bad_arg;
	o.argc = 3;
	ck_assert_int_eq(conf(&o, buf, sizeof(buf), err), -1);
	ck_assert_ptr_nonnull(strstr(err, "argument 3"));
	o.argc = 0;
	o.env[o.nenv++] = "1X=2";		/* not a name */
	ck_assert_int_eq(conf(&o, buf, sizeof(buf), err), -1);
	o.env[0] = "X=a\rb";			/* control byte */
	ck_assert_int_eq(conf(&o, buf, sizeof(buf), err), -1);
	o.env[0] = "X";				/* no value */
	ck_assert_int_eq(conf(&o, buf, sizeof(buf), err), -1);
	o.env[0] = "X=";			/* empty value is fine */
	ck_assert_int_eq(conf(&o, buf, sizeof(buf), err), 0);
	o.hostname = "a\nroot=/dev/vdb";	/* no injected lines */
	ck_assert_int_eq(conf(&o, buf, sizeof(buf), err), -1);
	ck_assert_int_eq(env_assignment_ok("_A9=x"), 1);
	ck_assert_int_eq(env_assignment_ok("=x"), 0);
	ck_assert_int_eq(env_assignment_ok("A-B=x"), 0);
}
END_TEST

static const char *
write_tmp(const char *text)
{
	static char path[64];
	FILE	*f;
	int	 fd;

	strcpy(path, "/tmp/check-cli-XXXXXX");
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
	fputs(text, f);
	fclose(f);
	return path;
}

START_TEST(agent_env)
{
	struct vm_opts o;
	char	 err[512];
	const char *p;

	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(agent_env_load("/nonexistent/agent.env", &o, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(o.nenv, 0);
	p = write_tmp("# company\n\nHTTP_TIMEOUT=30\nNAME=a b\n");
	ck_assert_int_eq(agent_env_load(p, &o, err, sizeof(err)), 0);
	unlink(p);
	ck_assert_int_eq(o.nenv, 2);
	ck_assert_str_eq(o.env[0], "HTTP_TIMEOUT=30");
	ck_assert_str_eq(o.env[1], "NAME=a b");
	p = write_tmp("OK=1\nexport BAD=2\n");
	ck_assert_int_eq(agent_env_load(p, &o, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, ":2: not NAME=VALUE"));
	unlink(p);
	p = write_tmp("CR=1\r\n");
	ck_assert_int_eq(agent_env_load(p, &o, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, ":1: "));
	unlink(p);
}
END_TEST

START_TEST(agents)
{
	const struct agent *a = agent_find("claude");

	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a->api_host, "api.anthropic.com");
	ck_assert_str_eq(agent_placeholder("ANTHROPIC_API_KEY"),
	    "sk-ant-capsem-placeholder-not-a-real-key-0000");
	ck_assert_ptr_nonnull(agent_find("codex"));
	ck_assert_ptr_null(agent_find("shell"));
	ck_assert_ptr_null(agent_find(NULL));
	/* a key variable of no agent still gets a placeholder */
	ck_assert_ptr_nonnull(strstr(agent_placeholder("MY_KEY"),
	    "placeholder"));
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("cli");
	TCase	*tc = tcase_create("core");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, conf_lines);
	tcase_add_test(tc, conf_refuses);
	tcase_add_test(tc, agent_env);
	tcase_add_test(tc, agents);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
