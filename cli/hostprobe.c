/*
 * hostprobe.c: what kind of KVM this host has.  See hostprobe.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostprobe.h"

#define CPUINFO_LINE_MAX	8192

static int
probe_path(const struct host_probe *hp, const char *rel, char *buf,
    size_t len)
{
	int n = snprintf(buf, len, "%s%s", hp->root, rel);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static bool
probe_exists(const struct host_probe *hp, const char *rel)
{
	char	 path[512];

	return probe_path(hp, rel, path, sizeof(path)) == 0 &&
	    access(path, F_OK) == 0;
}

static bool
has_word(const char *list, const char *word)
{
	size_t	 wl = strlen(word), n;

	for (;;) {
		list += strspn(list, " \t\n");
		if (*list == '\0')
			return false;
		n = strcspn(list, " \t\n");
		if (n == wl && strncmp(list, word, n) == 0)
			return true;
		list += n;
	}
}

/* The value of "key<tabs>: value" if line has that key, else NULL. */
static const char *
cpuinfo_value(const char *line, const char *key)
{
	size_t	 kl = strlen(key);

	if (strncmp(line, key, kl) != 0)
		return NULL;
	line += kl;
	line += strspn(line, " \t");
	if (*line != ':')
		return NULL;
	line++;
	return line + strspn(line, " \t");
}

static void
copy_value(char *dst, size_t len, const char *v)
{
	size_t	 n = strcspn(v, "\n");

	if (n >= len)
		n = len - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* The first processor's vendor, model and flags. */
static void
probe_cpuinfo(struct host_probe *hp)
{
	char	 path[512], vendor[32] = "";
	char	*line;
	const char *v;
	FILE	*fp;
	bool	 seen_flags = false;

	if (probe_path(hp, "/proc/cpuinfo", path, sizeof(path)) == -1 ||
	    (fp = fopen(path, "re")) == NULL)
		return;
	if ((line = malloc(CPUINFO_LINE_MAX)) == NULL) {
		fclose(fp);
		return;
	}
	while (fgets(line, CPUINFO_LINE_MAX, fp) != NULL) {
		if (line[0] == '\n' && seen_flags)
			break;		/* the end of the first processor */
		if ((v = cpuinfo_value(line, "vendor_id")) != NULL)
			copy_value(vendor, sizeof(vendor), v);
		else if ((v = cpuinfo_value(line, "model name")) != NULL)
			copy_value(hp->model, sizeof(hp->model), v);
		else if ((v = cpuinfo_value(line, "flags")) != NULL) {
			hp->flag_vmx = has_word(v, "vmx");
			hp->flag_svm = has_word(v, "svm");
			hp->flag_hypervisor = has_word(v, "hypervisor");
			seen_flags = true;
		}
	}
	free(line);
	fclose(fp);
	if (strcmp(vendor, "GenuineIntel") == 0)
		strlcpy(hp->vendor, "intel", sizeof(hp->vendor));
	else if (strcmp(vendor, "AuthenticAMD") == 0 ||
	    strcmp(vendor, "HygonGenuine") == 0)
		strlcpy(hp->vendor, "amd", sizeof(hp->vendor));
	else
		strlcpy(hp->vendor, vendor[0] ? vendor : "unknown",
		    sizeof(hp->vendor));
}

void
host_probe(const char *root, struct host_probe *hp)
{
	char	 path[512];
	int	 fd;

	memset(hp, 0, sizeof(*hp));
	if (root == NULL)
		root = getenv("CAPSEM_PROBE_ROOT");
	if (root == NULL || strcmp(root, "/") == 0)
		root = "";
	strlcpy(hp->root, root, sizeof(hp->root));
	probe_cpuinfo(hp);
	hp->mod_kvm = probe_exists(hp, "/sys/module/kvm");
	hp->mod_intel = probe_exists(hp, "/sys/module/kvm_intel");
	hp->mod_amd = probe_exists(hp, "/sys/module/kvm_amd");
	hp->mod_pvm = probe_exists(hp, "/sys/module/kvm_pvm");
	hp->dev_errno = ENOENT;
	if (probe_path(hp, "/dev/kvm", path, sizeof(path)) == 0) {
		if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY)) != -1) {
			hp->dev_errno = 0;
			close(fd);
		} else
			hp->dev_errno = errno;
	}
	hp->dev_exists = hp->dev_errno != ENOENT;

	/* Fail closed: a PVM module anywhere means /dev/kvm may be its. */
	if (hp->mod_pvm && hp->dev_exists)
		hp->kvm = HOST_KVM_PVM;
	else if (!hp->dev_exists)
		hp->kvm = HOST_KVM_NO_DEVICE;
	else if (!hp->flag_vmx && !hp->flag_svm)
		hp->kvm = HOST_KVM_NO_VIRT;
	else if (!hp->mod_intel && !hp->mod_amd)
		hp->kvm = HOST_KVM_NO_MODULE;
	else if (hp->dev_errno != 0)
		hp->kvm = HOST_KVM_NO_ACCESS;
	else
		hp->kvm = HOST_KVM_HARDWARE;
}

bool
host_probe_can_run(const struct host_probe *hp)
{
	return hp->kvm == HOST_KVM_HARDWARE;
}

const char *
host_kvm_name(enum host_kvm kvm)
{
	switch (kvm) {
	case HOST_KVM_HARDWARE:
		return "hardware";
	case HOST_KVM_PVM:
		return "pvm";
	case HOST_KVM_NO_VIRT:
		return "no-virt";
	case HOST_KVM_NO_MODULE:
		return "no-module";
	case HOST_KVM_NO_DEVICE:
		return "no-device";
	case HOST_KVM_NO_ACCESS:
		return "no-access";
	}
	return "unknown";
}

static const char *
modules_loaded(const struct host_probe *hp)
{
	if (hp->mod_pvm)
		return hp->mod_intel ? "kvm_pvm and kvm_intel loaded" :
		    hp->mod_amd ? "kvm_pvm and kvm_amd loaded" :
		    "kvm_pvm loaded";
	if (hp->mod_intel)
		return "kvm_intel loaded";
	if (hp->mod_amd)
		return "kvm_amd loaded";
	return hp->mod_kvm ? "kvm loaded, no kvm_intel/kvm_amd" :
	    "no KVM module loaded";
}

void
host_probe_found(const struct host_probe *hp, char *buf, size_t len)
{
	char	 dev[96];

	if (!hp->dev_exists)
		snprintf(dev, sizeof(dev), "no /dev/kvm");
	else if (hp->dev_errno == 0)
		snprintf(dev, sizeof(dev), "/dev/kvm opens");
	else
		snprintf(dev, sizeof(dev), "/dev/kvm: %s",
		    strerror(hp->dev_errno));
	snprintf(buf, len, "%s (%s%s), %s, %s, %s",
	    hp->model[0] ? hp->model : "unknown CPU", hp->vendor,
	    hp->flag_hypervisor ? ", in a VM" : "",
	    hp->flag_vmx ? "vmx" : hp->flag_svm ? "svm" : "no vmx/svm flag",
	    modules_loaded(hp), dev);
}

static const char *
vendor_module(const struct host_probe *hp)
{
	return strcmp(hp->vendor, "amd") == 0 ? "kvm_amd" : "kvm_intel";
}

void
host_probe_verdict(const struct host_probe *hp, char *buf, size_t len)
{
	const char *virt = hp->flag_hypervisor ?
	    "this machine is itself a VM: turn on nested virtualization for "
	    "it (on a cloud instance, a type or setting that exposes vmx/svm)" :
	    "turn on hardware virtualization (Intel VT-x or AMD-V) in the "
	    "firmware settings";

	switch (hp->kvm) {
	case HOST_KVM_HARDWARE:
		snprintf(buf, len, "hardware KVM (%s)",
		    hp->mod_intel ? "kvm_intel" : "kvm_amd");
		break;
	case HOST_KVM_PVM:
		if (hp->flag_vmx || hp->flag_svm)
			snprintf(buf, len, "/dev/kvm is PVM (kvm_pvm), which "
			    "runs only guest kernels built for PVM, not "
			    "capsem's: unload kvm_pvm and modprobe %s",
			    vendor_module(hp));
		else
			snprintf(buf, len, "/dev/kvm is PVM (kvm_pvm), which "
			    "runs only guest kernels built for PVM, not "
			    "capsem's; capsem needs kvm_intel or kvm_amd, so %s",
			    virt);
		break;
	case HOST_KVM_NO_VIRT:
		snprintf(buf, len, "/dev/kvm exists but the CPU shows no "
		    "vmx/svm, so KVM cannot run an unmodified guest: %s",
		    virt);
		break;
	case HOST_KVM_NO_MODULE:
		snprintf(buf, len, "the CPU has %s but %s is not loaded: "
		    "modprobe %s", hp->flag_vmx ? "vmx" : "svm",
		    vendor_module(hp), vendor_module(hp));
		break;
	case HOST_KVM_NO_DEVICE:
		if (hp->flag_vmx || hp->flag_svm)
			snprintf(buf, len, "no /dev/kvm although the CPU has "
			    "%s: modprobe %s", hp->flag_vmx ? "vmx" : "svm",
			    vendor_module(hp));
		else
			snprintf(buf, len, "no /dev/kvm and no vmx/svm in the "
			    "CPU flags: %s", virt);
		break;
	case HOST_KVM_NO_ACCESS:
		snprintf(buf, len, "/dev/kvm: %s: add your user to the kvm "
		    "group (usermod -aG kvm $USER, then log in again)",
		    strerror(hp->dev_errno));
		break;
	}
}
