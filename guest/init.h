/*
 * capsem-init: the guest's PID 1 (see init.c). Shared declarations of its
 * files.
 */
#ifndef CAPSEM_GUEST_INIT_H
#define CAPSEM_GUEST_INIT_H

#include <stdbool.h>
#include <stddef.h>

#include "session_conf.h"

/* Guest addressing: the dummy interface that leads nowhere. */
#define INIT_NET_IFNAME		"dummy0"
#define INIT_NET_ADDR		"10.0.2.15"
#define INIT_NET_PREFIX		24

/* Ports of the guest's local services (targets of the redirect rules). */
#define INIT_RELAY_HTTPS_PORT	10443
#define INIT_RELAY_HTTP_PORT	10080
#define INIT_DNS_PORT		1053

/* Where the per-session initrd puts its files. */
#define INIT_CAPSEM_DIR		"/capsem"
#define INIT_SESSION_CONF	"/capsem/session.conf"
#define INIT_SESSION_CA		"/capsem/ca.pem"
#define INIT_RELAY_PATH		"/capsem/bin/capsem-relay"
#define INIT_DNS_PATH		"/capsem/bin/capsem-dns"

/* Trust stores written by the init. */
#define INIT_CA_COPY		"/etc/capsem/ca.pem"
#define INIT_CA_BUNDLE		"/etc/ssl/certs/ca-certificates.crt"

/* init_net.c */
/* The nft ruleset (nft -f syntax) that redirects and rejects. */
const char *init_net_ruleset(void);
/* lo up; ifname up with INIT_NET_ADDR/INIT_NET_PREFIX and a default route. */
int	init_net_links(const char *ifname, bool create_dummy);
/* Load the ruleset with nft, or with iptables-nft if there is no nft. */
int	init_net_rules(void);

/* init_setup.c */
void	init_stage(const char *name);
int	init_mounts(void);
int	init_switch_root(const struct session_conf *);
int	init_install_ca(void);
/* Mount the virtio-fs workspace at /workspace as session.conf says. */
int	init_mount_workspace(const struct session_conf *);
int	init_write_resolv_conf(void);
int	init_write_hosts(const char *hostname);
int	init_read_file(const char *path, char *buf, size_t buflen, size_t *len);
int	init_write_file(const char *path, const char *data, size_t len,
	    unsigned int mode, bool append);
int	init_mkdirs(const char *path, unsigned int mode);

#endif
