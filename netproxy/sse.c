/*
 * sse.c: incremental text/event-stream reader.
 *
 * Only "data" and "event" fields mean anything here; "id", "retry", other
 * fields and comment lines (starting with ':') are skipped without being
 * kept.  Memory is the struct: a field name and an event type, both
 * bounded.
 */
#include <string.h>

#include "sse.h"

enum {				/* sse.lstate */
	L_FIELD,		/* reading the field name */
	L_VSTART,		/* after ':' (one space is skipped) */
	L_VALUE,		/* reading the value */
	L_SKIP,			/* comment or unknown field: to end of line */
};

enum {				/* sse.fkind */
	K_OTHER,
	K_DATA,
	K_EVENT,
};

void
sse_init(struct sse *s, size_t data_max, sse_data_cb data_cb,
    sse_event_cb event_cb, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->data_max = data_max;
	s->data_cb = data_cb;
	s->event_cb = event_cb;
	s->arg = arg;
}

/* Hand data bytes on, unless the event went over its bound. */
static void
deliver(struct sse *s, const uint8_t *p, size_t n)
{
	if (s->oversized || n == 0)
		return;
	if (n > s->data_max - s->datalen) {
		s->oversized = 1;
		return;
	}
	s->datalen += n;
	if (s->data_cb != NULL)
		s->data_cb(s->arg, p, n);
}

static void
append_name(struct sse *s, const uint8_t *p, size_t n)
{
	size_t room = SSE_NAME_MAX - s->namelen, i;

	if (n > room) {
		n = room;
		s->nametrunc = 1;
	}
	/* name is a C string: a NUL in it becomes '?' */
	for (i = 0; i < n; i++)
		s->name[s->namelen++] = p[i] != '\0' ? (char)p[i] : '?';
	s->name[s->namelen] = '\0';
}

/* The field name is complete: classify it and start its value. */
static void
begin_value(struct sse *s)
{
	s->fkind = K_OTHER;
	if (s->fieldbad)
		return;
	if (s->fieldlen == 4 && memcmp(s->field, "data", 4) == 0) {
		s->fkind = K_DATA;
		if (s->ndata > 0)
			deliver(s, (const uint8_t *)"\n", 1);
		if (s->ndata < UINT32_MAX)
			s->ndata++;
	} else if (s->fieldlen == 5 && memcmp(s->field, "event", 5) == 0) {
		s->fkind = K_EVENT;
		s->namelen = 0;
		s->nametrunc = 0;
		s->name[0] = '\0';
	}
}

static void
dispatch(struct sse *s)
{
	if (s->ndata > 0) {
		s->events++;
		if (s->oversized)
			s->skipped++;
		if (s->event_cb != NULL)
			s->event_cb(s->arg, s);
	}
	s->ndata = 0;
	s->datalen = 0;
	s->oversized = 0;
	s->namelen = 0;
	s->nametrunc = 0;
	s->name[0] = '\0';
}

static void
end_line(struct sse *s)
{
	if (s->lstate == L_FIELD) {
		if (s->fieldlen == 0 && !s->fieldbad)
			dispatch(s);		/* blank line */
		else
			begin_value(s);		/* a field with no colon */
	}
	s->lstate = L_FIELD;
	s->fieldlen = 0;
	s->fieldbad = 0;
	s->fkind = K_OTHER;
}

void
sse_feed(struct sse *s, const uint8_t *p, size_t n)
{
	size_t i = 0, j;
	uint8_t c;

	while (i < n) {
		c = p[i];
		if (s->cr) {
			s->cr = 0;
			if (c == '\n') {
				i++;
				continue;
			}
		}
		if (c == '\r' || c == '\n') {
			end_line(s);
			s->cr = c == '\r';
			i++;
			continue;
		}
		switch (s->lstate) {
		case L_FIELD:
			i++;
			if (c == ':') {
				if (s->fieldlen == 0 && !s->fieldbad) {
					s->lstate = L_SKIP;	/* comment */
					break;
				}
				begin_value(s);
				s->lstate = L_VSTART;
			} else if (s->fieldlen < sizeof(s->field))
				s->field[s->fieldlen++] = (char)c;
			else
				s->fieldbad = 1;
			break;
		case L_VSTART:
			s->lstate = L_VALUE;
			if (c == ' ') {
				i++;
				break;
			}
			/* FALLTHROUGH */
		case L_VALUE:
		case L_SKIP:
			for (j = i; j < n && p[j] != '\r' && p[j] != '\n'; j++)
				;
			if (s->lstate == L_VALUE && s->fkind == K_DATA)
				deliver(s, p + i, j - i);
			else if (s->lstate == L_VALUE && s->fkind == K_EVENT)
				append_name(s, p + i, j - i);
			i = j;
			break;
		}
	}
}

bool
sse_flush(struct sse *s)
{
	bool pending = false;

	s->cr = 0;
	if (s->lstate != L_FIELD || s->fieldlen > 0 || s->fieldbad) {
		end_line(s);
		pending = true;
	}
	if (s->ndata > 0) {
		dispatch(s);
		pending = true;
	}
	return pending;
}
