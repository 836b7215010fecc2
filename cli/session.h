/*
 * session: the session parent.  Opens files, creates every socketpair,
 * spawns and supervises the children, serves the control socket.  It
 * parses nothing that comes from the guest.
 */
#ifndef CAPSEM_SESSION_H
#define CAPSEM_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "vm.h"

enum session_mode {
	SESSION_HOST_ONLY,	/* the four children, no VM, no listeners */
	SESSION_PROXY,		/* host-side listeners feed netproxy */
	SESSION_VM,		/* a guest behind the vmm */
};

#define SESSION_MAX_LISTENERS	8

struct session_listen {
	char	 addr[64];	/* "ADDR:PORT" as given */
	uint32_t port_tag;	/* enum msg_stream_port */
};

struct session_opts {
	enum session_mode mode;
	bool	 detach;
	int	 verbose;
	int	 nproxies;	/* netproxy instances; 0: one per core */
	const char *agent;	/* for the built-in default policy */
	const char *name;	/* -n */
	const char *what;	/* for list: agent, "shell"; NULL: the command */
	struct session_listen listen[SESSION_MAX_LISTENERS];
	int	 nlisten;
	struct vm_opts vm;	/* SESSION_VM */
	/* printed once the session is up; NULL: "session <id>" */
	void	(*on_ready)(const char *session_id, void *arg);
	void	*on_ready_arg;
};

/* Runs the session to its end; returns the process exit code. */
int	session_run(const struct session_opts *);

#endif
