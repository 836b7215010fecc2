/*
 * event: a small epoll loop with one-shot timers, used by every process.
 */
#ifndef CAPSEM_EVENT_H
#define CAPSEM_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#define EV_READ		0x1u
#define EV_WRITE	0x2u
#define EV_HUP		0x4u	/* reported only: peer hung up / error */

struct event_loop;

typedef void	(*event_cb)(int fd, uint32_t events, void *arg);
typedef void	(*timer_cb)(void *arg);

struct event_loop *event_loop_new(void);
void	event_loop_free(struct event_loop *);

/* Watch fd for events (EV_READ|EV_WRITE). One registration per fd. */
int	event_add(struct event_loop *, int fd, uint32_t events, event_cb, void *arg);
int	event_mod(struct event_loop *, int fd, uint32_t events);
void	event_del(struct event_loop *, int fd);

/*
 * Keep fd's registration in step with what it needs (*watched says if it
 * is registered): done unregisters it, else it is added with cb/arg or
 * changed to events.  Fatal if epoll refuses.
 */
void	event_watch(struct event_loop *, int fd, bool *watched,
	    uint32_t events, bool done, event_cb, void *arg);

/* One-shot timer; returns an id > 0, or 0 on allocation failure. */
uint64_t timer_add(struct event_loop *, uint64_t msec, timer_cb, void *arg);
void	timer_cancel(struct event_loop *, uint64_t id);

/* Monotonic milliseconds. */
uint64_t event_now_ms(void);

/* Run until event_loop_exit(). Returns 0, or -1 if epoll fails. */
int	event_loop_run(struct event_loop *);
void	event_loop_exit(struct event_loop *);

#endif
