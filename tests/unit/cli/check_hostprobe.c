/*
 * Check tests of the host probe (cli/hostprobe.c) on fake trees: a
 * /proc/cpuinfo, a /sys/module and a /dev/kvm made in a temporary
 * directory for each kind of host the probe must tell apart.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostprobe.h"

#define INTEL_CPUINFO \
	"processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n" \
	"model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\n" \
	"flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic vmx sse sse2 " \
	"xsave avx avx2 avx512f\n\n" \
	"processor\t: 1\nvendor_id\t: GenuineIntel\nflags\t\t: fpu\n\n"
#define AMD_CPUINFO \
	"processor\t: 0\nvendor_id\t: AuthenticAMD\n" \
	"model name\t: AMD EPYC 7B13 64-Core Processor\n" \
	"flags\t\t: fpu vme de pse tsc msr svm sse sse2 xsave avx\n\n"
/* What these build machines show: no vmx/svm, a hypervisor, PVM. */
#define PVM_CPUINFO \
	"processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n" \
	"flags\t\t: fpu vme de pse tsc msr pae sse sse2 ht syscall nx " \
	"hypervisor lahf_lm xsave avx\n\n"
/* A flag that only contains "svm" must not count. */
#define LOOKALIKE_CPUINFO \
	"processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: X\n" \
	"flags\t\t: fpu svm_lock nosvm vmxx\n\n"

static char root[64];

static void
put_file(const char *rel, const char *text, mode_t mode)
{
	char	 path[256];
	int	 fd;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static void
put_dir(const char *rel)
{
	char	 path[256];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	ck_assert(mkdir(path, 0755) == 0 || errno == EEXIST);
}

/* A fresh tree: cpuinfo, the given modules, /dev/kvm if dev_mode != 0. */
static void
make_host(const char *cpuinfo, const char *const *modules, mode_t dev_mode)
{
	char	 cmd[128];

	if (root[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
		ck_assert_int_eq(system(cmd), 0);
	}
	strlcpy(root, "/tmp/capsem-probe-XXXXXX", sizeof(root));
	ck_assert_ptr_nonnull(mkdtemp(root));
	ck_assert_int_eq(chmod(root, 0755), 0);
	put_dir("/proc");
	put_dir("/sys");
	put_dir("/sys/module");
	put_dir("/dev");
	put_file("/proc/cpuinfo", cpuinfo, 0444);
	for (; modules != NULL && *modules != NULL; modules++) {
		snprintf(cmd, sizeof(cmd), "/sys/module/%s", *modules);
		put_dir(cmd);
	}
	if (dev_mode != 0)
		put_file("/dev/kvm", "", dev_mode);
}

static void
teardown(void)
{
	char	 cmd[128];

	if (root[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", root);
		root[0] = '\0';
	}
}

static const char *const intel_mods[] = { "kvm", "kvm_intel", NULL };
static const char *const amd_mods[] = { "kvm", "kvm_amd", NULL };
static const char *const pvm_mods[] = { "kvm", "kvm_pvm", NULL };
static const char *const kvm_only[] = { "kvm", NULL };

START_TEST(intel_hardware)
{
	struct host_probe hp;
	char	 buf[512];

	make_host(INTEL_CPUINFO, intel_mods, 0666);
	host_probe(root, &hp);
	ck_assert_int_eq(hp.kvm, HOST_KVM_HARDWARE);
	ck_assert(host_probe_can_run(&hp));
	ck_assert_str_eq(hp.vendor, "intel");
	ck_assert(hp.flag_vmx && !hp.flag_svm && !hp.flag_hypervisor);
	ck_assert_str_eq(hp.model, "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz");
	host_probe_verdict(&hp, buf, sizeof(buf));
	ck_assert_str_eq(buf, "hardware KVM (kvm_intel)");
	host_probe_found(&hp, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "vmx, kvm_intel loaded, /dev/kvm opens"));
	ck_assert_str_eq(host_kvm_name(hp.kvm), "hardware");
}
END_TEST

START_TEST(amd_hardware)
{
	struct host_probe hp;
	char	 buf[512];

	make_host(AMD_CPUINFO, amd_mods, 0666);
	host_probe(root, &hp);
	ck_assert_int_eq(hp.kvm, HOST_KVM_HARDWARE);
	ck_assert_str_eq(hp.vendor, "amd");
	ck_assert(hp.flag_svm && !hp.flag_vmx);
	host_probe_verdict(&hp, buf, sizeof(buf));
	ck_assert_str_eq(buf, "hardware KVM (kvm_amd)");
}
END_TEST

START_TEST(pvm)
{
	struct host_probe hp;
	char	 buf[512];

	make_host(PVM_CPUINFO, pvm_mods, 0600);
	host_probe(root, &hp);
	ck_assert_int_eq(hp.kvm, HOST_KVM_PVM);
	ck_assert(!host_probe_can_run(&hp));
	ck_assert(hp.flag_hypervisor && hp.mod_pvm);
	ck_assert_str_eq(host_kvm_name(hp.kvm), "pvm");
	host_probe_verdict(&hp, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "PVM (kvm_pvm)"));
	ck_assert_ptr_nonnull(strstr(buf, "nested virtualization"));
	host_probe_found(&hp, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "in a VM"));
	ck_assert_ptr_nonnull(strstr(buf, "kvm_pvm loaded"));
	ck_assert_ptr_nonnull(strstr(buf, "no vmx/svm flag"));

	/* PVM beside a CPU with svm: the fix is to swap the module */
	make_host(AMD_CPUINFO, pvm_mods, 0600);
	host_probe(root, &hp);
	ck_assert_int_eq(hp.kvm, HOST_KVM_PVM);
	host_probe_verdict(&hp, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "unload kvm_pvm and modprobe kvm_amd"));
}
END_TEST

START_TEST(no_virt_flags)
{
	struct host_probe hp;
	char	 buf[512];

	/* a /dev/kvm but no vmx/svm (and no PVM): cannot run our guest */
	make_host(PVM_CPUINFO, kvm_only, 0600);
	host_probe(root, &hp);
	ck_assert_int_eq(hp.kvm, HOST_KVM_NO_VIRT);
	host_probe_verdict(&hp, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "no vmx/svm"));
	/* words that only look like the flags */
	make_host(LOOKALIKE_CPUINFO, amd_mods, 0600);
	host_probe(root, &hp);
	ck_assert(!hp.flag_svm && !hp.flag_vmx);
	ck_assert_int_eq(hp.kvm, HOST_KVM_NO_VIRT);
}
END_TEST

START_TEST(no_module)
{
	struct host_probe hp;
	char	 buf[512];

	make_host(INTEL_CPUINFO, kvm_only, 0600);
	host_probe(root, &hp);
	ck_assert_int_eq(hp.kvm, HOST_KVM_NO_MODULE);
	host_probe_verdict(&hp, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "modprobe kvm_intel"));
}
END_TEST

START_TEST(no_device)
{
	struct host_probe hp;
	char	 buf[512];

	make_host(AMD_CPUINFO, NULL, 0);
	host_probe(root, &hp);
	ck_assert_int_eq(hp.kvm, HOST_KVM_NO_DEVICE);
	ck_assert(!hp.dev_exists);
	host_probe_verdict(&hp, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "modprobe kvm_amd"));
	/* no device, no flags, bare metal: the firmware setting */
	make_host("processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu\n",
	    NULL, 0);
	host_probe(root, &hp);
	ck_assert_int_eq(hp.kvm, HOST_KVM_NO_DEVICE);
	host_probe_verdict(&hp, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "firmware"));
	/* nothing readable at all: absent, never a crash */
	make_host("", NULL, 0);
	host_probe(root, &hp);
	ck_assert_int_eq(hp.kvm, HOST_KVM_NO_DEVICE);
	ck_assert_str_eq(hp.vendor, "unknown");
}
END_TEST

/* As an unprivileged user (root would open anything): EACCES. */
START_TEST(no_access)
{
	struct host_probe hp;
	char	 buf[512];
	int	 status;
	pid_t	 pid;

	make_host(INTEL_CPUINFO, intel_mods, 0600);
	if (geteuid() != 0) {
		host_probe(root, &hp);
		ck_assert_int_eq(hp.kvm, HOST_KVM_NO_ACCESS);
		return;
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgid(65534) == -1 || setuid(65534) == -1)
			_exit(3);
		host_probe(root, &hp);
		host_probe_verdict(&hp, buf, sizeof(buf));
		_exit(hp.kvm == HOST_KVM_NO_ACCESS && hp.dev_errno == EACCES &&
		    strstr(buf, "kvm group") != NULL ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* CAPSEM_PROBE_ROOT names the tree when no root is given. */
START_TEST(env_root)
{
	struct host_probe hp;

	make_host(PVM_CPUINFO, pvm_mods, 0600);
	ck_assert_int_eq(setenv("CAPSEM_PROBE_ROOT", root, 1), 0);
	host_probe(NULL, &hp);
	ck_assert_int_eq(hp.kvm, HOST_KVM_PVM);
	ck_assert_int_eq(unsetenv("CAPSEM_PROBE_ROOT"), 0);
}
END_TEST

static Suite *
probe_suite(void)
{
	Suite	*s = suite_create("hostprobe");
	TCase	*tc = tcase_create("kinds");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, intel_hardware);
	tcase_add_test(tc, amd_hardware);
	tcase_add_test(tc, pvm);
	tcase_add_test(tc, no_virt_flags);
	tcase_add_test(tc, no_module);
	tcase_add_test(tc, no_device);
	tcase_add_test(tc, no_access);
	tcase_add_test(tc, env_root);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(probe_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
