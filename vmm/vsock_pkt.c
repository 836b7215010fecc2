/*
 * vsock_pkt.c: header encoding and the first checks of a guest packet.
 */
#include <string.h>

#include "vsock_pkt.h"

static uint64_t
le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = (v << 8) | p[n];
	return v;
}

static void
put(uint8_t *p, uint64_t v, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

void
vsock_hdr_decode(const uint8_t in[VSOCK_HDR_SIZE], struct vsock_hdr *h)
{
	h->src_cid = le(in, 8);
	h->dst_cid = le(in + 8, 8);
	h->src_port = (uint32_t)le(in + 16, 4);
	h->dst_port = (uint32_t)le(in + 20, 4);
	h->len = (uint32_t)le(in + 24, 4);
	h->type = (uint16_t)le(in + 28, 2);
	h->op = (uint16_t)le(in + 30, 2);
	h->flags = (uint32_t)le(in + 32, 4);
	h->buf_alloc = (uint32_t)le(in + 36, 4);
	h->fwd_cnt = (uint32_t)le(in + 40, 4);
}

void
vsock_hdr_encode(const struct vsock_hdr *h, uint8_t out[VSOCK_HDR_SIZE])
{
	put(out, h->src_cid, 8);
	put(out + 8, h->dst_cid, 8);
	put(out + 16, h->src_port, 4);
	put(out + 20, h->dst_port, 4);
	put(out + 24, h->len, 4);
	put(out + 28, h->type, 2);
	put(out + 30, h->op, 2);
	put(out + 32, h->flags, 4);
	put(out + 36, h->buf_alloc, 4);
	put(out + 40, h->fwd_cnt, 4);
}

enum vsock_verdict
vsock_pkt_check(const struct vsock_hdr *h, uint64_t payload_bytes,
    uint64_t guest_cid, uint64_t host_cid, const char **why)
{
	if (h->len > VSOCK_PAYLOAD_MAX) {
		*why = "vsock packet over 64 KiB";
		return VSOCK_PKT_BAD;
	}
	if (h->len > payload_bytes) {
		*why = "vsock packet length past its buffers";
		return VSOCK_PKT_BAD;
	}
	if (h->op == VSOCK_OP_RW && h->len == 0) {
		*why = "empty vsock data packet";
		return VSOCK_PKT_IGNORE;
	}
	if (h->op != VSOCK_OP_RW && h->len != 0) {
		*why = "vsock control packet with payload";
		return VSOCK_PKT_BAD;
	}
	if (h->src_cid != guest_cid) {
		*why = "vsock packet from a foreign CID";
		return VSOCK_PKT_BAD;
	}
	if (h->op == VSOCK_OP_RST) {
		/* never answer a reset with a reset */
		return h->dst_cid == host_cid && h->type == VSOCK_TYPE_STREAM ?
		    VSOCK_PKT_OK : VSOCK_PKT_IGNORE;
	}
	if (h->dst_cid != host_cid) {
		*why = "destination CID is not the host";
		return VSOCK_PKT_RESET;
	}
	if (h->type != VSOCK_TYPE_STREAM) {
		*why = "not a stream socket";
		return VSOCK_PKT_RESET;
	}
	if (h->op == VSOCK_OP_INVALID || h->op > VSOCK_OP_CREDIT_REQUEST ||
	    h->op == VSOCK_OP_RESPONSE) {
		*why = "unexpected vsock operation";
		return VSOCK_PKT_RESET;
	}
	return VSOCK_PKT_OK;
}
