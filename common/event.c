/*
 * event.c: epoll loop with one-shot timers.
 *
 * Handlers are kept in a table indexed by fd.  Timers live in a small
 * binary heap ordered by deadline; epoll_wait sleeps until the earliest.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "log.h"

struct event_slot {
	event_cb	 cb;
	void		*arg;
	uint32_t	 events;
	bool		 used;
};

struct event_timer {
	uint64_t	 deadline;
	uint64_t	 id;
	timer_cb	 cb;
	void		*arg;
};

struct event_loop {
	int		 epfd;
	bool		 running;
	/*
	 * The fd table may be changed from another thread (the vmm's vCPU
	 * threads change a device's watch when the guest resets it): mu
	 * guards slots and nslots; handlers are called without it.  Timers
	 * belong to the loop's own thread.
	 */
	pthread_mutex_t	 mu;
	struct event_slot *slots;
	size_t		 nslots;
	struct event_timer *timers;	/* min-heap by deadline */
	size_t		 ntimers;
	size_t		 timers_cap;
	uint64_t	 next_timer_id;
};

uint64_t
event_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct event_loop *
event_loop_new(void)
{
	struct event_loop *loop;

	if ((loop = calloc(1, sizeof(*loop))) == NULL)
		return NULL;
	if ((loop->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		free(loop);
		return NULL;
	}
	loop->next_timer_id = 1;
	pthread_mutex_init(&loop->mu, NULL);
	return loop;
}

void
event_loop_free(struct event_loop *loop)
{
	if (loop == NULL)
		return;
	close(loop->epfd);
	pthread_mutex_destroy(&loop->mu);
	free(loop->slots);
	free(loop->timers);
	free(loop);
}

static uint32_t
to_epoll(uint32_t events)
{
	uint32_t e = 0;

	if (events & EV_READ)
		e |= EPOLLIN | EPOLLRDHUP;
	if (events & EV_WRITE)
		e |= EPOLLOUT;
	return e;
}

static int
slot_add(struct event_loop *loop, int fd, uint32_t events, event_cb cb,
    void *arg)
{
	struct epoll_event ev;

	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	if ((size_t)fd >= loop->nslots) {
		size_t	 n = loop->nslots ? loop->nslots : 64;
		struct event_slot *s;

		while (n <= (size_t)fd)
			n *= 2;
		if ((s = reallocarray(loop->slots, n, sizeof(*s))) == NULL)
			return -1;
		memset(s + loop->nslots, 0, (n - loop->nslots) * sizeof(*s));
		loop->slots = s;
		loop->nslots = n;
	}
	if (loop->slots[fd].used) {
		errno = EEXIST;
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = to_epoll(events);
	ev.data.fd = fd;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		return -1;
	loop->slots[fd].cb = cb;
	loop->slots[fd].arg = arg;
	loop->slots[fd].events = events;
	loop->slots[fd].used = true;
	return 0;
}

int
event_add(struct event_loop *loop, int fd, uint32_t events, event_cb cb,
    void *arg)
{
	int	 r;

	pthread_mutex_lock(&loop->mu);
	r = slot_add(loop, fd, events, cb, arg);
	pthread_mutex_unlock(&loop->mu);
	return r;
}

int
event_mod(struct event_loop *loop, int fd, uint32_t events)
{
	struct epoll_event ev;
	int	 r = 0;

	pthread_mutex_lock(&loop->mu);
	if (fd < 0 || (size_t)fd >= loop->nslots || !loop->slots[fd].used) {
		errno = ENOENT;
		r = -1;
	} else if (loop->slots[fd].events != events) {
		memset(&ev, 0, sizeof(ev));
		ev.events = to_epoll(events);
		ev.data.fd = fd;
		if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) == -1)
			r = -1;
		else
			loop->slots[fd].events = events;
	}
	pthread_mutex_unlock(&loop->mu);
	return r;
}

void
event_del(struct event_loop *loop, int fd)
{
	pthread_mutex_lock(&loop->mu);
	if (fd >= 0 && (size_t)fd < loop->nslots && loop->slots[fd].used) {
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
		memset(&loop->slots[fd], 0, sizeof(loop->slots[fd]));
	}
	pthread_mutex_unlock(&loop->mu);
}

void
event_watch(struct event_loop *loop, int fd, bool *watched, uint32_t events,
    bool done, event_cb cb, void *arg)
{
	if (done) {
		if (*watched)
			event_del(loop, fd);
		*watched = false;
	} else if (*watched) {
		if (event_mod(loop, fd, events) == -1)
			fatal("event_mod");
	} else {
		if (event_add(loop, fd, events, cb, arg) == -1)
			fatal("event_add");
		*watched = true;
	}
}

static void
heap_swap(struct event_timer *a, struct event_timer *b)
{
	struct event_timer t = *a;

	*a = *b;
	*b = t;
}

static void
heap_up(struct event_loop *loop, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (loop->timers[p].deadline <= loop->timers[i].deadline)
			break;
		heap_swap(&loop->timers[p], &loop->timers[i]);
		i = p;
	}
}

static void
heap_down(struct event_loop *loop, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < loop->ntimers &&
		    loop->timers[l].deadline < loop->timers[m].deadline)
			m = l;
		if (r < loop->ntimers &&
		    loop->timers[r].deadline < loop->timers[m].deadline)
			m = r;
		if (m == i)
			break;
		heap_swap(&loop->timers[m], &loop->timers[i]);
		i = m;
	}
}

static void
heap_remove(struct event_loop *loop, size_t i)
{
	loop->ntimers--;
	if (i == loop->ntimers)
		return;
	loop->timers[i] = loop->timers[loop->ntimers];
	heap_down(loop, i);
	heap_up(loop, i);
}

uint64_t
timer_add(struct event_loop *loop, uint64_t msec, timer_cb cb, void *arg)
{
	struct event_timer *t;

	if (loop->ntimers == loop->timers_cap) {
		size_t n = loop->timers_cap ? loop->timers_cap * 2 : 16;

		if ((t = reallocarray(loop->timers, n, sizeof(*t))) == NULL)
			return 0;
		loop->timers = t;
		loop->timers_cap = n;
	}
	t = &loop->timers[loop->ntimers];
	t->deadline = event_now_ms() + msec;
	t->id = loop->next_timer_id++;
	t->cb = cb;
	t->arg = arg;
	loop->ntimers++;
	heap_up(loop, loop->ntimers - 1);
	return loop->next_timer_id - 1;
}

void
timer_cancel(struct event_loop *loop, uint64_t id)
{
	size_t	 i;

	if (id == 0)
		return;
	for (i = 0; i < loop->ntimers; i++) {
		if (loop->timers[i].id == id) {
			heap_remove(loop, i);
			return;
		}
	}
}

static void
run_timers(struct event_loop *loop)
{
	uint64_t now = event_now_ms();

	while (loop->running && loop->ntimers > 0 &&
	    loop->timers[0].deadline <= now) {
		struct event_timer t = loop->timers[0];

		heap_remove(loop, 0);
		t.cb(t.arg);
	}
}

int
event_loop_run(struct event_loop *loop)
{
	struct epoll_event evs[64];

	loop->running = true;
	while (loop->running) {
		int	 timeout = -1, n, i;

		if (loop->ntimers > 0) {
			uint64_t now = event_now_ms();
			uint64_t d = loop->timers[0].deadline;

			timeout = d <= now ? 0 :
			    (d - now > 60000 ? 60000 : (int)(d - now));
		}
		n = epoll_wait(loop->epfd, evs, 64, timeout);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (i = 0; i < n && loop->running; i++) {
			int	 fd = evs[i].data.fd;
			uint32_t e = 0;
			struct event_slot s;

			/*
			 * A handler (or another thread) may have removed this
			 * fd already; the slot is copied, the handler called
			 * without the lock.
			 */
			pthread_mutex_lock(&loop->mu);
			if ((size_t)fd < loop->nslots && loop->slots[fd].used)
				s = loop->slots[fd];
			else
				s.used = false;
			pthread_mutex_unlock(&loop->mu);
			if (!s.used)
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
				e |= EV_READ;
			if (evs[i].events & EPOLLOUT)
				e |= EV_WRITE;
			if (evs[i].events & (EPOLLHUP | EPOLLERR))
				e |= EV_HUP | (s.events & EV_READ);
			s.cb(fd, e, s.arg);
		}
		run_timers(loop);
	}
	return 0;
}

void
event_loop_exit(struct event_loop *loop)
{
	loop->running = false;
}
