/*
 * virtq.c: split virtqueue walking and completion.
 */
#include <string.h>

#include "virtq.h"

struct vring_desc {
	uint64_t	 addr;
	uint32_t	 len;
	uint16_t	 flags;
	uint16_t	 next;
};

void
virtq_reset(struct virtq *vq)
{
	memset(vq, 0, sizeof(*vq));
}

int
virtq_check_layout(const struct virtq *vq, const struct guestmem *gm,
    const char **why)
{
	if (vq->num == 0 || vq->num > VIRTQ_MAX_SIZE ||
	    (vq->num & (vq->num - 1)) != 0) {
		*why = "queue size is not a power of two up to the maximum";
		return -1;
	}
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3)) {
		*why = "misaligned ring";
		return -1;
	}
	if (!guestmem_ok(gm, vq->desc_gpa, 16ULL * vq->num) ||
	    !guestmem_ok(gm, vq->avail_gpa, 6 + 2ULL * vq->num) ||
	    !guestmem_ok(gm, vq->used_gpa, 6 + 8ULL * vq->num)) {
		*why = "ring outside guest memory";
		return -1;
	}
	return 0;
}

static uint16_t
load16(const void *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

static bool
avail_idx(const struct virtq *vq, const struct guestmem *gm, uint16_t *idx)
{
	const uint8_t *p = guestmem_ptr(gm, vq->avail_gpa + 2, 2);

	if (p == NULL || ((uintptr_t)p & 1))
		return false;
	*idx = load16(p);
	return true;
}

bool
virtq_has_avail(const struct virtq *vq, const struct guestmem *gm)
{
	uint16_t idx;

	if (!vq->ready || vq->num == 0 || !avail_idx(vq, gm, &idx))
		return false;
	return idx != vq->last_avail;
}

int
virtq_pop(struct virtq *vq, const struct guestmem *gm, struct virtq_chain *ch,
    const char **why)
{
	uint16_t	 idx, head, i;
	const uint8_t	*ring;
	unsigned	 limit;
	bool		 seen_write = false;

	if (!vq->ready || vq->num == 0)
		return 0;
	if (!avail_idx(vq, gm, &idx)) {
		*why = "avail ring outside guest memory";
		return -1;
	}
	if (idx == vq->last_avail)
		return 0;
	if ((uint16_t)(idx - vq->last_avail) > vq->num) {
		*why = "avail index moved by more than the queue size";
		return -1;
	}
	ring = guestmem_ptr(gm, vq->avail_gpa + 4 +
	    2ULL * (vq->last_avail % vq->num), 2);
	if (ring == NULL) {
		*why = "avail ring outside guest memory";
		return -1;
	}
	head = load16(ring);
	if (head >= vq->num) {
		*why = "avail ring entry out of range";
		return -1;
	}
	vq->last_avail++;

	memset(ch, 0, offsetof(struct virtq_chain, buf));
	ch->head = head;
	limit = vq->num < VIRTQ_MAX_CHAIN ? vq->num : VIRTQ_MAX_CHAIN;
	i = head;
	for (;;) {
		struct vring_desc d;

		if (ch->n == limit) {
			*why = "descriptor chain too long or looping";
			return -1;
		}
		if (guestmem_read(gm, vq->desc_gpa + 16ULL * i, &d,
		    sizeof(d)) == -1) {
			*why = "descriptor table outside guest memory";
			return -1;
		}
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			*why = "indirect descriptor (not negotiated)";
			return -1;
		}
		if (!guestmem_ok(gm, d.addr, d.len)) {
			*why = "buffer outside guest memory";
			return -1;
		}
		if (d.flags & VIRTQ_DESC_F_WRITE) {
			seen_write = true;
			ch->writable_bytes += d.len;
		} else {
			if (seen_write) {
				*why = "readable buffer after a writable one";
				return -1;
			}
			ch->nreadable++;
			ch->readable_bytes += d.len;
		}
		ch->buf[ch->n++] = (struct virtq_buf){ d.addr, d.len,
		    (d.flags & VIRTQ_DESC_F_WRITE) != 0 };
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= vq->num) {
			*why = "descriptor next index out of range";
			return -1;
		}
		i = d.next;
	}
	return 1;
}

void
virtq_unpop(struct virtq *vq)
{
	vq->last_avail--;
}

int
virtq_push(struct virtq *vq, const struct guestmem *gm, uint16_t head,
    uint32_t written)
{
	uint8_t		*elem, *idxp;
	uint32_t	 v[2] = { head, written };

	if (vq->num == 0)
		return -1;
	elem = guestmem_ptr(gm, vq->used_gpa + 4 + 8ULL * (vq->used_idx %
	    vq->num), 8);
	idxp = guestmem_ptr(gm, vq->used_gpa + 2, 2);
	if (elem == NULL || idxp == NULL || ((uintptr_t)idxp & 1))
		return -1;
	memcpy(elem, v, sizeof(v));
	vq->used_idx++;
	__atomic_store_n((uint16_t *)(void *)idxp, vq->used_idx,
	    __ATOMIC_RELEASE);
	return 0;
}

static size_t
chain_copy(const struct guestmem *gm, const struct virtq_chain *ch,
    bool writable, uint64_t off, uint8_t *host, size_t len, bool to_guest)
{
	unsigned	 i = writable ? ch->nreadable : 0;
	unsigned	 end = writable ? ch->n : ch->nreadable;
	size_t		 done = 0;

	for (; i < end && done < len; i++) {
		const struct virtq_buf *b = &ch->buf[i];
		uint64_t n;
		uint8_t *p;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = b->len - off;
		if (n > len - done)
			n = len - done;
		if ((p = guestmem_ptr(gm, b->gpa + off, n)) == NULL)
			break;
		if (to_guest)
			memcpy(p, host + done, n);
		else
			memcpy(host + done, p, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t
virtq_chain_read(const struct guestmem *gm, const struct virtq_chain *ch,
    uint64_t off, void *dst, size_t len)
{
	return chain_copy(gm, ch, false, off, dst, len, false);
}

size_t
virtq_chain_write(const struct guestmem *gm, const struct virtq_chain *ch,
    uint64_t off, const void *src, size_t len)
{
	return chain_copy(gm, ch, true, off, (uint8_t *)(uintptr_t)src, len,
	    true);
}
