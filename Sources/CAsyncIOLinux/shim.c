#define _GNU_SOURCE
#include "CAsyncIOLinux.h"
#include <pthread.h>
#include <spawn.h>
#include <fcntl.h>
#include <signal.h>
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

extern char **environ;

int casyncio_spawn(int32_t *pid, const char *path, int search_path, char *const argv[], char *const envp[],
                   const int32_t *fd_actions, int fd_action_count, const char *const *paths,
                   const int32_t *path_flags, const char *working_directory, int new_process_group) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc) { posix_spawn_file_actions_destroy(&actions); return rc; }

    for (int i = 0; i < fd_action_count && rc == 0; i++) {
        int kind = fd_actions[3 * i], a = fd_actions[3 * i + 1], b = fd_actions[3 * i + 2];
        if (kind == 0) rc = posix_spawn_file_actions_adddup2(&actions, a, b);
        else if (kind == 1) rc = posix_spawn_file_actions_addopen(&actions, a, paths[b], path_flags[b], 0644);
        else if (kind == 2) rc = posix_spawn_file_actions_addclose(&actions, a);
    }
    if (rc == 0 && working_directory) rc = posix_spawn_file_actions_addchdir_np(&actions, working_directory);

    sigset_t empty, defaults;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    int reset[] = {SIGINT, SIGTERM, SIGQUIT, SIGPIPE, SIGCHLD, SIGHUP, SIGUSR1, SIGUSR2};
    for (unsigned i = 0; i < sizeof reset / sizeof reset[0]; i++) sigaddset(&defaults, reset[i]);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (new_process_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        if (rc == 0) rc = posix_spawnattr_setpgroup(&attr, 0);
    }
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &empty);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, &defaults);
    if (rc == 0) rc = posix_spawnattr_setflags(&attr, flags);

    if (rc == 0) {
        pid_t child = 0;
        char *const *env = envp ? envp : environ;
        rc = search_path ? posix_spawnp(&child, path, &actions, &attr, argv, env)
                         : posix_spawn(&child, path, &actions, &attr, argv, env);
        if (rc == 0) *pid = child;
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}
