/*
 * init_net.c: the guest's network plumbing. One interface (dummy0) that
 * leads nowhere carries the default route, so connect() to any address
 * succeeds in routing and reaches the nat OUTPUT rules, which redirect
 * tcp/443, tcp/80 and udp+tcp/53 to the local relay and DNS forwarder and
 * reject everything else. Links, addresses and routes are set with rtnetlink;
 * the rules are loaded with the image's nft (or iptables-nft) binary.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "init.h"
#include "log.h"

#define NL_BUFSIZE	4096

struct nl_req {
	struct nlmsghdr	*hdr;
	uint8_t		 buf[NL_BUFSIZE];
};

/*
 * The redirect and reject rules (ip family only: the kernel has no IPv6).
 * DNS is redirected whatever its destination (resolv.conf says 127.0.0.1);
 * other loopback traffic stays local; replies to local sockets go out on lo.
 */
static const char init_ruleset[] =
    "table ip capsem {}\n"
    "delete table ip capsem\n"
    "table ip capsem {\n"
    "\tchain nat_output {\n"
    "\t\ttype nat hook output priority -100; policy accept;\n"
    "\t\tudp dport 53 redirect to :1053\n"
    "\t\ttcp dport 53 redirect to :1053\n"
    "\t\tip daddr 127.0.0.0/8 return\n"
    "\t\ttcp dport 443 redirect to :10443\n"
    "\t\ttcp dport 80 redirect to :10080\n"
    "\t}\n"
    "\tchain filter_output {\n"
    "\t\ttype filter hook output priority 0; policy accept;\n"
    "\t\toifname \"lo\" accept\n"
    "\t\tip daddr 127.0.0.0/8 accept\n"
    "\t\tmeta l4proto tcp reject with tcp reset\n"
    "\t\treject with icmp type port-unreachable\n"
    "\t}\n"
    "}\n";

/* The same rules as iptables-nft commands, for images without nft. */
static const char *const init_iptables_rules[][12] = {
	{ "-t", "nat", "-A", "OUTPUT", "-p", "udp", "--dport", "53",
	  "-j", "REDIRECT", "--to-ports", "1053" },
	{ "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "--dport", "53",
	  "-j", "REDIRECT", "--to-ports", "1053" },
	{ "-t", "nat", "-A", "OUTPUT", "-d", "127.0.0.0/8", "-j", "RETURN" },
	{ "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "--dport", "443",
	  "-j", "REDIRECT", "--to-ports", "10443" },
	{ "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "--dport", "80",
	  "-j", "REDIRECT", "--to-ports", "10080" },
	{ "-t", "filter", "-A", "OUTPUT", "-o", "lo", "-j", "ACCEPT" },
	{ "-t", "filter", "-A", "OUTPUT", "-d", "127.0.0.0/8", "-j", "ACCEPT" },
	{ "-t", "filter", "-A", "OUTPUT", "-p", "tcp", "-j", "REJECT",
	  "--reject-with", "tcp-reset" },
	{ "-t", "filter", "-A", "OUTPUT", "-j", "REJECT" },
};

static const char *const nft_paths[] = {
	"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/bin/nft",
	"/capsem/bin/nft",
};
static const char *const iptables_paths[] = {
	"/usr/sbin/iptables-nft", "/sbin/iptables-nft", "/usr/sbin/iptables",
	"/sbin/iptables", "/capsem/bin/iptables-nft",
};

const char *
init_net_ruleset(void)
{
	return init_ruleset;
}

static void
nl_init(struct nl_req *req, uint16_t type, uint16_t flags, size_t bodylen)
{
	memset(req->buf, 0, sizeof(req->buf));
	req->hdr = (struct nlmsghdr *)req->buf;
	req->hdr->nlmsg_len = (uint32_t)NLMSG_LENGTH(bodylen);
	req->hdr->nlmsg_type = type;
	req->hdr->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
}

static void *
nl_body(struct nl_req *req)
{
	return NLMSG_DATA(req->hdr);
}

/* Append an attribute; returns it (for nesting) or NULL if full. */
static struct rtattr *
nl_attr(struct nl_req *req, uint16_t type, const void *data, size_t len)
{
	size_t	 off = NLMSG_ALIGN(req->hdr->nlmsg_len);
	struct rtattr *rta;

	if (off + RTA_SPACE(len) > sizeof(req->buf))
		return NULL;
	rta = (struct rtattr *)(req->buf + off);
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len > 0)
		memcpy(RTA_DATA(rta), data, len);
	req->hdr->nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
	return rta;
}

static void
nl_nest_end(struct nl_req *req, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)(req->buf + req->hdr->nlmsg_len -
	    (uint8_t *)nest);
}

/* Send one request and wait for its ack; 0, or -1 with errno set. */
static int
nl_talk(int fd, struct nl_req *req, uint32_t seq)
{
	uint8_t	 ans[NL_BUFSIZE];
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	ssize_t	 n;

	req->hdr->nlmsg_seq = seq;
	if (sendto(fd, req->buf, req->hdr->nlmsg_len, 0,
	    (struct sockaddr *)&kernel, sizeof(kernel)) == -1)
		return -1;
	for (;;) {
		n = recv(fd, ans, sizeof(ans), 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		size_t	 left = (size_t)n;

		for (struct nlmsghdr *h = (struct nlmsghdr *)ans;
		    NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
					errno = EPROTO;
					return -1;
				}
				if (e->error == 0)
					return 0;
				errno = -e->error;
				return -1;
			}
		}
	}
}

static int
nl_link_up(int fd, int ifindex, uint32_t seq)
{
	struct nl_req	 req;
	struct ifinfomsg *ifi;

	nl_init(&req, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi = nl_body(&req);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nl_talk(fd, &req, seq);
}

static int
nl_dummy_create(int fd, const char *ifname, uint32_t seq)
{
	struct nl_req	 req;
	struct ifinfomsg *ifi;
	struct rtattr	*linkinfo;

	nl_init(&req, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
	ifi = nl_body(&req);
	ifi->ifi_family = AF_UNSPEC;
	if (nl_attr(&req, IFLA_IFNAME, ifname, strlen(ifname) + 1) == NULL ||
	    (linkinfo = nl_attr(&req, IFLA_LINKINFO, NULL, 0)) == NULL ||
	    nl_attr(&req, IFLA_INFO_KIND, "dummy", 6) == NULL) {
		errno = ENOBUFS;
		return -1;
	}
	nl_nest_end(&req, linkinfo);
	return nl_talk(fd, &req, seq);
}

static int
nl_addr_add(int fd, int ifindex, struct in_addr addr, unsigned prefix,
    uint32_t seq)
{
	struct nl_req	 req;
	struct ifaddrmsg *ifa;

	nl_init(&req, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*ifa));
	ifa = nl_body(&req);
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	if (nl_attr(&req, IFA_LOCAL, &addr, sizeof(addr)) == NULL ||
	    nl_attr(&req, IFA_ADDRESS, &addr, sizeof(addr)) == NULL) {
		errno = ENOBUFS;
		return -1;
	}
	return nl_talk(fd, &req, seq);
}

/* default dev <ifindex>: a device route, no gateway. */
static int
nl_default_route(int fd, int ifindex, uint32_t seq)
{
	struct nl_req	 req;
	struct rtmsg	*rtm;
	uint32_t	 oif = (uint32_t)ifindex;

	nl_init(&req, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*rtm));
	rtm = nl_body(&req);
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (nl_attr(&req, RTA_OIF, &oif, sizeof(oif)) == NULL) {
		errno = ENOBUFS;
		return -1;
	}
	return nl_talk(fd, &req, seq);
}

int
init_net_links(const char *ifname, bool create_dummy)
{
	struct sockaddr_nl local = { .nl_family = AF_NETLINK };
	struct in_addr	 addr;
	unsigned int	 ifindex, lo;
	uint32_t	 seq = 1;
	int		 fd, rc = -1;

	if (inet_pton(AF_INET, INIT_NET_ADDR, &addr) != 1)
		return -1;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd == -1) {
		log_warn("netlink socket");
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&local, sizeof(local)) == -1) {
		log_warn("netlink bind");
		goto out;
	}
	if ((lo = if_nametoindex("lo")) == 0 || nl_link_up(fd, (int)lo, seq++) == -1) {
		log_warn("lo up");
		goto out;
	}
	ifindex = if_nametoindex(ifname);
	if (ifindex == 0 && create_dummy) {
		/* dummy.numdummies=0 on the command line: make our own. */
		if (nl_dummy_create(fd, ifname, seq++) == -1) {
			log_warn("create %s", ifname);
			goto out;
		}
		ifindex = if_nametoindex(ifname);
	}
	if (ifindex == 0) {
		log_warnx("no interface %s", ifname);
		goto out;
	}
	if (nl_link_up(fd, (int)ifindex, seq++) == -1) {
		log_warn("%s up", ifname);
		goto out;
	}
	if (nl_addr_add(fd, (int)ifindex, addr, INIT_NET_PREFIX, seq++) == -1) {
		log_warn("%s address %s/%d", ifname, INIT_NET_ADDR, INIT_NET_PREFIX);
		goto out;
	}
	if (nl_default_route(fd, (int)ifindex, seq++) == -1) {
		log_warn("default route dev %s", ifname);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

static const char *
find_program(const char *const *paths, size_t npaths)
{
	for (size_t i = 0; i < npaths; i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* Run argv (no shell) with `input` on its stdin; 0 if it exits 0. */
static int
run_with_input(char *const argv[], const char *input)
{
	int	 pfd[2], status;
	pid_t	 pid;
	size_t	 len = input != NULL ? strlen(input) : 0, off = 0;

	if (pipe2(pfd, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		if (dup2(pfd[0], STDIN_FILENO) == -1)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[0]);
	while (off < len) {
		ssize_t	 n = write(pfd[1], input + off, len - off);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)n;
	}
	close(pfd[1]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_warnx("%s failed (status 0x%x)", argv[0], (unsigned)status);
		return -1;
	}
	return 0;
}

int
init_net_rules(void)
{
	const char *nft, *ipt;

	if ((nft = find_program(nft_paths,
	    sizeof(nft_paths) / sizeof(nft_paths[0]))) != NULL) {
		char	*argv[] = { (char *)nft, (char *)"-f", (char *)"-", NULL };

		return run_with_input(argv, init_ruleset);
	}
	if ((ipt = find_program(iptables_paths,
	    sizeof(iptables_paths) / sizeof(iptables_paths[0]))) != NULL) {
		size_t	 nrules = sizeof(init_iptables_rules) /
		    sizeof(init_iptables_rules[0]);

		for (size_t i = 0; i < nrules; i++) {
			char	*argv[16];
			size_t	 n = 0;

			argv[n++] = (char *)ipt;
			argv[n++] = (char *)"-w";
			for (size_t j = 0; j < 12 &&
			    init_iptables_rules[i][j] != NULL; j++)
				argv[n++] = (char *)init_iptables_rules[i][j];
			argv[n] = NULL;
			if (run_with_input(argv, NULL) == -1)
				return -1;
		}
		return 0;
	}
	log_warnx("neither nft nor iptables-nft found in the image");
	return -1;
}
