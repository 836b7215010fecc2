/*
 * libFuzzer target: the imsg reader.  The input is a byte stream from a
 * hostile peer, delivered over a real socketpair in chunks whose sizes
 * come from the first input byte; every message it yields is checked
 * against a dispatch table the way imsg_dispatch() does.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "msg.h"

static void nop(void *ctx, struct imsg *imsg) { (void)ctx; (void)imsg; }

static const struct imsg_handler table[] = {
	{ MSG_HELLO, sizeof(struct msg_hello), sizeof(struct msg_hello),
	    IMSG_FD_NONE, nop },
	{ MSG_MINT_REQUEST, 1, 253, IMSG_FD_NONE, nop },
	{ MSG_STATUS_REQUEST, 0, 0, IMSG_FD_NONE, nop },
	{ MSG_REQUEST_CHECK, sizeof(struct msg_request_check),
	    sizeof(struct msg_request_check) + MSG_PATH_MAX, IMSG_FD_NONE, nop },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imsgbuf	 ibuf;
	struct imsg	 m;
	const struct imsg_handler *h;
	size_t		 chunk, off;
	int		 sp[2], r = 0;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] + 1;
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		return 0;
	imsgbuf_init(&ibuf, sp[1], 4096);
	for (off = 0; off < size && r != -1; off += chunk) {
		size_t	 n = size - off < chunk ? size - off : chunk;

		if (write(sp[0], data + off, n) != (ssize_t)n)
			break;
		if (imsgbuf_read(&ibuf) <= 0)
			break;
		while ((r = imsg_get(&ibuf, &m)) == 1) {
			if (imsg_check(table, 4, &m, &h) == NULL &&
			    h->type == MSG_HELLO) {
				struct msg_hello hello;

				memcpy(&hello, m.data, sizeof(hello));
				(void)imsg_str_ok(hello.session_id,
				    sizeof(hello.session_id));
			}
			imsg_free(&m);
		}
	}
	imsgbuf_clear(&ibuf);
	close(sp[0]);
	close(sp[1]);
	return 0;
}
