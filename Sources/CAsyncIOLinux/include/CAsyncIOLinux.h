// C shim for AsyncIO: only what Swift's Glibc import hides or cannot express.
// Everything here is called through AsyncIOSystem, never directly by higher layers.
#ifndef CASYNCIO_LINUX_H
#define CASYNCIO_LINUX_H

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <signal.h>
#include <time.h>

/// The event loop that runs on the calling thread, or NULL.
/// Deliberately an out-of-line call: a thread-local address (or `pthread_self`, which glibc
/// declares `const`) must not be cached by the optimiser across an `await`.
void *casyncio_current_loop(void);
void casyncio_set_current_loop(void *loop);

/// The kernel thread id of the calling thread (`gettid`).
int32_t casyncio_gettid(void);

/// `accept4(2)` and `pipe2(2)`, which need _GNU_SOURCE.
int casyncio_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int casyncio_pipe2(int fds[2], int flags);

/// `pidfd_open(2)` through syscall(2) (glibc < 2.36 has no wrapper).
int casyncio_pidfd_open(int32_t pid, unsigned int flags);

/// `pthread_setname_np` on the calling thread (names are cut to 15 bytes).
void casyncio_set_thread_name(const char *name);

/// CLOCK_MONOTONIC in nanoseconds.
int64_t casyncio_monotonic_ns(void);

#endif
