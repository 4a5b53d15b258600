/*
 * The node's event loop; see loop.h. Level-triggered epoll; a timerfd for
 * the single deadline; an eventfd for wake-ups from other threads.
 *
 * Invariant: only the loop thread reads or writes the registration table;
 * loop_wake and loop_stop touch only the eventfd and an atomic flag.
 */
#include "loop.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256

struct reg {
	int fd;
	uint32_t gen; /* tells a reused fd number from the one an event was for */
	loop_fd_fn fn;
	void *arg;
	bool live;
};

struct loop {
	int epfd;
	int timerfd;
	int wakefd;
	uint64_t now;
	atomic_bool stop;
	loop_fn timer_fn, wake_fn, turn_fn;
	void *timer_arg, *wake_arg, *turn_arg;
	struct reg *regs; /* indexed by fd */
	int n_regs;
};

uint64_t loop_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t loop_now_ms(const struct loop *l)
{
	return l->now;
}

static int add_raw(struct loop *l, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(uint32_t)fd};
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

static uint64_t tag(const struct reg *r)
{
	return (uint64_t)r->gen << 32 | (uint32_t)r->fd;
}

struct loop *loop_new(char *errmsg)
{
	struct loop *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(errmsg, 256, "out of memory");
		return NULL;
	}
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto err_epoll;
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->timerfd < 0)
		goto err_timer;
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wakefd < 0)
		goto err_wake;
	if (add_raw(l, l->timerfd) != 0 || add_raw(l, l->wakefd) != 0)
		goto err_add;
	l->now = loop_clock_ms();
	return l;

err_add:
	close(l->wakefd);
err_wake:
	close(l->timerfd);
err_timer:
	close(l->epfd);
err_epoll:
	snprintf(errmsg, 256, "event loop: %s", strerror(errno));
	free(l);
	return NULL;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	close(l->wakefd);
	close(l->timerfd);
	close(l->epfd);
	free(l->regs);
	free(l);
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *arg)
{
	if (fd < 0)
		return -EINVAL;
	if (fd >= l->n_regs) {
		int n = fd + 64;
		struct reg *r = realloc(l->regs, (size_t)n * sizeof(*r));
		if (!r)
			return -ENOMEM;
		memset(r + l->n_regs, 0, (size_t)(n - l->n_regs) * sizeof(*r));
		l->regs = r;
		l->n_regs = n;
	}
	struct reg *r = &l->regs[fd];
	*r = (struct reg){.fd = fd, .gen = r->gen + 1, .fn = fn, .arg = arg, .live = true};
	struct epoll_event ev = {.events = events, .data.u64 = tag(r)};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		r->live = false;
		return -errno;
	}
	return 0;
}

int loop_mod(struct loop *l, int fd, uint32_t events)
{
	if (fd < 0 || fd >= l->n_regs || !l->regs[fd].live)
		return -EINVAL;
	struct epoll_event ev = {.events = events, .data.u64 = tag(&l->regs[fd])};
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -errno;
}

void loop_del(struct loop *l, int fd)
{
	if (fd < 0 || fd >= l->n_regs || !l->regs[fd].live)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->regs[fd].live = false;
}

void loop_on_timer(struct loop *l, loop_fn fn, void *arg)
{
	l->timer_fn = fn;
	l->timer_arg = arg;
}

void loop_set_timer(struct loop *l, uint64_t deadline_ms)
{
	struct itimerspec its = {0};
	if (deadline_ms) {
		/* Absolute monotonic time; a deadline already past fires at once. */
		its.it_value.tv_sec = (time_t)(deadline_ms / 1000);
		its.it_value.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(l->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

void loop_on_wake(struct loop *l, loop_fn fn, void *arg)
{
	l->wake_fn = fn;
	l->wake_arg = arg;
}

void loop_wake(struct loop *l)
{
	uint64_t one = 1;
	ssize_t rv = write(l->wakefd, &one, sizeof(one));
	(void)rv; /* EAGAIN: the counter is already non-zero, a wake is pending */
}

void loop_on_turn_end(struct loop *l, loop_fn fn, void *arg)
{
	l->turn_fn = fn;
	l->turn_arg = arg;
}

void loop_stop(struct loop *l)
{
	atomic_store(&l->stop, true);
	loop_wake(l);
}

static void drain(int fd)
{
	uint64_t v;
	ssize_t rv = read(fd, &v, sizeof(v));
	(void)rv;
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[MAX_EVENTS];
	/* Each loop_stop ends one loop_run: the request is consumed here, so
	 * the loop can be run again (tests drive it in several steps). */
	while (!atomic_exchange(&l->stop, false)) {
		int n = epoll_wait(l->epfd, evs, MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		l->now = loop_clock_ms();
		for (int i = 0; i < n; i++) {
			int fd = (int)(uint32_t)evs[i].data.u64;
			uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
			if (fd == l->timerfd) {
				drain(fd);
				if (l->timer_fn)
					l->timer_fn(l->timer_arg);
			} else if (fd == l->wakefd) {
				drain(fd);
				if (l->wake_fn)
					l->wake_fn(l->wake_arg);
			} else if (fd < l->n_regs && l->regs[fd].live && l->regs[fd].gen == gen) {
				/* A callback may delete this or another fd: the live
				 * flag is checked per event. */
				l->regs[fd].fn(l->regs[fd].arg, fd, evs[i].events);
			}
		}
		if (l->turn_fn)
			l->turn_fn(l->turn_arg);
	}
	return 0;
}
