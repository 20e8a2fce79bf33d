#define _GNU_SOURCE
#include "CAsyncIOLinux.h"
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// initial-exec: a direct %fs-relative load, not a __tls_get_addr call (the shim is linked into the executable).
static __thread void *current_loop __attribute__((tls_model("initial-exec")));

__attribute__((noinline)) void *casyncio_current_loop(void) { return current_loop; }
__attribute__((noinline)) void casyncio_set_current_loop(void *loop) { current_loop = loop; }

int32_t casyncio_gettid(void) { return (int32_t)syscall(SYS_gettid); }

int casyncio_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}

int casyncio_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }

int casyncio_pidfd_open(int32_t pid, unsigned int flags) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, flags);
#else
    (void)pid; (void)flags;
    return -1;
#endif
}

void casyncio_set_thread_name(const char *name) {
    char buf[16];
    strncpy(buf, name, sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    pthread_setname_np(pthread_self(), buf);
}

int64_t casyncio_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
