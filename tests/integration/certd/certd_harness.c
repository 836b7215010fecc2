/*
 * certd_harness: spawn capsem-certd and speak its imsg protocol.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certd_harness.h"

int
certd_spawn(const char *path, struct certd_proc *p)
{
	int sp[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		return -1;
	switch ((pid = fork())) {
	case -1:
		close(sp[0]);
		close(sp[1]);
		return -1;
	case 0:
		if (dup2(sp[1], PROC_PARENT_FD) == -1)
			_exit(127);
		closefrom(PROC_PARENT_FD + 1);
		execl(path, "capsem-certd", "-I", "0", (char *)NULL);
		_exit(127);
	default:
		break;
	}
	close(sp[1]);
	p->pid = pid;
	imsgbuf_init(&p->parent, sp[0], 512 * 1024);
	return 0;
}

int
harness_send(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	if (imsg_compose(ibuf, type, peerid, fd, data, len) == -1)
		return -1;
	return imsgbuf_flush(ibuf);
}

int
harness_recv(struct imsgbuf *ibuf, struct harness_msg *msg, int timeout_ms)
{
	struct imsg imsg;
	struct pollfd pfd;
	ssize_t n;
	int r;

	memset(msg, 0, sizeof(*msg));
	msg->fd = -1;
	for (;;) {
		r = imsg_get(ibuf, &imsg);
		if (r == -1)
			return -1;
		if (r == 1)
			break;
		pfd.fd = ibuf->fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, timeout_ms);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return r;
		n = imsgbuf_read(ibuf);
		if (n == 0)
			return 0;
		if (n == -1 && errno != EAGAIN)
			return -1;
	}
	msg->type = imsg.hdr.type;
	msg->peerid = imsg.hdr.peerid;
	msg->fd = imsg.fd;
	msg->len = imsg.len;
	if ((msg->data = malloc(imsg.len + 1)) == NULL)
		return -1;
	if (imsg.len > 0)
		memcpy(msg->data, imsg.data, imsg.len);
	msg->data[imsg.len] = '\0';
	return 1;
}

void
harness_msg_free(struct harness_msg *msg)
{
	if (msg->fd != -1)
		close(msg->fd);
	free(msg->data);
	memset(msg, 0, sizeof(*msg));
	msg->fd = -1;
}

static int
expect(struct imsgbuf *ibuf, uint32_t type, struct harness_msg *msg)
{
	if (harness_recv(ibuf, msg, 30000) != 1)
		return -1;
	if (msg->type != type) {
		fprintf(stderr, "harness: expected message %u, got %u\n", type,
		    msg->type);
		harness_msg_free(msg);
		return -1;
	}
	return 0;
}

int
certd_hello(struct certd_proc *p, struct msg_ready *ready)
{
	struct msg_hello hello;
	struct harness_msg msg;

	memset(&hello, 0, sizeof(hello));
	snprintf(hello.session_id, sizeof(hello.session_id), "test");
	if (harness_send(&p->parent, MSG_HELLO, 0, -1, &hello,
	    sizeof(hello)) == -1 || expect(&p->parent, MSG_READY, &msg) == -1)
		return -1;
	if (msg.len != sizeof(*ready)) {
		harness_msg_free(&msg);
		return -1;
	}
	memcpy(ready, msg.data, sizeof(*ready));
	harness_msg_free(&msg);
	return 0;
}

int
certd_load_ca(struct certd_proc *p, const char *pem_path, const char *key_path,
    char *err, size_t errlen)
{
	struct harness_msg msg;
	uint8_t *pem;
	size_t len;
	int fd, rc;

	if ((pem = harness_read_file(pem_path, &len)) == NULL) {
		snprintf(err, errlen, "cannot read %s", pem_path);
		return -1;
	}
	rc = harness_send(&p->parent, MSG_CA_CERT, 0, -1, pem, len);
	free(pem);
	if (rc == -1) {
		snprintf(err, errlen, "send CA_CERT: %s", strerror(errno));
		return -1;
	}
	if ((fd = open(key_path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "open %s: %s", key_path, strerror(errno));
		return -1;
	}
	/* imsgbuf_write closes fd once it is sent. */
	if (harness_send(&p->parent, MSG_CA_KEY, 0, fd, NULL, 0) == -1) {
		snprintf(err, errlen, "send CA_KEY: %s", strerror(errno));
		return -1;
	}
	if (expect(&p->parent, MSG_CA_LOADED, &msg) == -1) {
		snprintf(err, errlen, "no CA_LOADED from certd");
		return -1;
	}
	if (msg.len > 0) {
		snprintf(err, errlen, "%s", (char *)msg.data);
		harness_msg_free(&msg);
		return -1;
	}
	harness_msg_free(&msg);
	return 0;
}

int
certd_add_netproxy(struct certd_proc *p, uint32_t instance,
    struct imsgbuf *np, uint8_t *leaf_key, size_t cap, size_t *leaf_key_len)
{
	struct msg_peer_channel pc;
	struct harness_msg msg;
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		return -1;
	memset(&pc, 0, sizeof(pc));
	pc.proc = PROC_NETPROXY;
	pc.instance = instance;
	if (harness_send(&p->parent, MSG_PEER_CHANNEL, 0, sp[1], &pc,
	    sizeof(pc)) == -1) {
		close(sp[0]);
		return -1;
	}
	imsgbuf_init(np, sp[0], 64 * 1024);
	if (expect(np, MSG_LEAF_KEY, &msg) == -1)
		return -1;
	if (msg.len == 0 || msg.len > cap) {
		harness_msg_free(&msg);
		return -1;
	}
	memcpy(leaf_key, msg.data, msg.len);
	*leaf_key_len = msg.len;
	harness_msg_free(&msg);
	return 0;
}

int
certd_status(struct certd_proc *p, struct msg_status *st)
{
	struct harness_msg msg;

	if (harness_send(&p->parent, MSG_STATUS_REQUEST, 7, -1, NULL, 0) == -1 ||
	    expect(&p->parent, MSG_STATUS_RESPONSE, &msg) == -1)
		return -1;
	if (msg.len != sizeof(*st)) {
		harness_msg_free(&msg);
		return -1;
	}
	memcpy(st, msg.data, sizeof(*st));
	harness_msg_free(&msg);
	return 0;
}

int
certd_stop(struct certd_proc *p)
{
	int status;

	(void)harness_send(&p->parent, MSG_SHUTDOWN, 0, -1, NULL, 0);
	if (waitpid(p->pid, &status, 0) == -1)
		return -1;
	imsgbuf_clear(&p->parent);
	close(p->parent.fd);
	return status;
}

uint8_t *
harness_read_file(const char *path, size_t *len)
{
	FILE *f;
	uint8_t *buf;
	size_t cap = 1024 * 1024;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if ((buf = malloc(cap + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, cap, f);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

int
harness_write_file(const char *path, const void *data, size_t len)
{
	FILE *f;
	int rc = 0;

	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	if (fwrite(data, 1, len, f) != len)
		rc = -1;
	if (fclose(f) == EOF)
		rc = -1;
	return rc;
}
