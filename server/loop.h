/*
 * The node's event loop: one thread, epoll, a timer and a wake-up eventfd.
 *
 * Everything that runs on the loop thread registers a file descriptor with a
 * callback (peer sockets, the listener, the syncer's completion eventfd).
 * Other threads never touch loop state: they push work onto their own
 * queue and call loop_wake, which makes the loop run its wake callback.
 *
 * Time: loop_now_ms is CLOCK_MONOTONIC in milliseconds, read once per turn
 * (so one turn sees one time). The timer fires at the deadline set with
 * loop_set_timer (one deadline; the node keeps its own timers sorted).
 */
#ifndef CAIRN_SERVER_LOOP_H
#define CAIRN_SERVER_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;

/* Called on the loop thread when fd is ready; events are EPOLLIN etc. */
typedef void (*loop_fd_fn)(void *arg, int fd, uint32_t events);
/* Called on the loop thread: the timer deadline passed, or a wake-up. */
typedef void (*loop_fn)(void *arg);

/* Creates a loop; the caller owns it (loop_free). NULL on failure, with the
 * reason in errmsg (256 bytes). */
struct loop *loop_new(char *errmsg);
void loop_free(struct loop *l);

/* fd is borrowed: the caller closes it after loop_del. events: EPOLLIN,
 * EPOLLOUT (level-triggered). Returns 0 or -errno. */
int loop_add(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *arg);
int loop_mod(struct loop *l, int fd, uint32_t events);
void loop_del(struct loop *l, int fd);

void loop_on_timer(struct loop *l, loop_fn fn, void *arg);
/* Fire the timer callback at deadline_ms (loop_now_ms clock); 0 disarms. */
void loop_set_timer(struct loop *l, uint64_t deadline_ms);

/* Any thread: makes the loop call fn (set once with loop_on_wake) soon.
 * Many wakes before the loop runs collapse into one call. */
void loop_on_wake(struct loop *l, loop_fn fn, void *arg);
void loop_wake(struct loop *l);

/* Called at the end of every turn, after all callbacks of the turn: where
 * the node takes the Replica's update (group commit). */
void loop_on_turn_end(struct loop *l, loop_fn fn, void *arg);

uint64_t loop_now_ms(const struct loop *l);
/* Reads the monotonic clock now (for code outside a turn). */
uint64_t loop_clock_ms(void);

/* Runs until loop_stop (any thread, or a signal handler via loop_wake
 * after setting a flag). Returns 0, or -errno if epoll failed. Each
 * loop_stop ends one loop_run; the loop may be run again afterwards. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
