#define _GNU_SOURCE
#include "CAsyncIOLinux.h"
#include <pthread.h>
#include <spawn.h>
#include <dirent.h>
#include <stdlib.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>

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

#if !(defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34)))
// Before glibc 2.34 (no addclosefrom_np): a close action for each descriptor above 2 open now that is
// not close-on-exec.
static int casyncio_add_close_inherited(posix_spawn_file_actions_t *actions) {
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) return 0;
    int rc = 0, skip = dirfd(dir);
    struct dirent *entry;
    while (rc == 0 && (entry = readdir(dir)) != NULL) {
        int fd = atoi(entry->d_name);
        if (fd <= 2 || fd == skip) continue;
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) rc = posix_spawn_file_actions_addclose(actions, fd);
    }
    closedir(dir);
    return rc;
}
#endif

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
    // Nothing but the three standard descriptors reaches the child (Python's close_fds=True). A
    // descriptor another part of the program left inheritable (Foundation's Process keeps one end of
    // a socket pair open without close-on-exec while it starts its own child, and learns of that
    // child's exit from the pair's EOF) would otherwise live on in this child too.
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#else
    if (rc == 0) rc = casyncio_add_close_inherited(&actions);
#endif
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

// MARK: - Global executor takeover

#include <stdatomic.h>
#include <time.h>

// The concurrency runtime's hooks (swift/Runtime/Concurrency.h); weak, so a runtime without them
// leaves them null and the takeover is refused.
typedef __attribute__((swiftcall)) void (*enqueue_original)(void *job);
typedef __attribute__((swiftcall)) void (*enqueue_hook)(void *job, enqueue_original original);
typedef __attribute__((swiftcall)) void (*delay_original)(unsigned long long delay, void *job);
typedef __attribute__((swiftcall)) void (*delay_hook)(unsigned long long delay, void *job, delay_original original);
typedef __attribute__((swiftcall)) void (*deadline_original)(long long sec, long long nsec, long long tsec,
                                                               long long tnsec, int clock, void *job);
typedef __attribute__((swiftcall)) void (*deadline_hook)(long long sec, long long nsec, long long tsec,
                                                           long long tnsec, int clock, void *job,
                                                           deadline_original original);
extern enqueue_hook swift_task_enqueueGlobal_hook __attribute__((weak));
extern delay_hook swift_task_enqueueGlobalWithDelay_hook __attribute__((weak));
extern deadline_hook swift_task_enqueueGlobalWithDeadline_hook __attribute__((weak));
extern __attribute__((swiftcall)) void swift_task_enqueueGlobal(void *job) __attribute__((weak));
extern __attribute__((swiftcall)) void swift_task_enqueueGlobalWithDelay(unsigned long long delay, void *job)
    __attribute__((weak));

static _Atomic(void *) takeover_context;
static casyncio_job_sink takeover_sink;
static casyncio_delayed_job_sink takeover_delayed_sink;
// Set while this thread hands a job to the runtime's own pool: the hooks pass it through.
static __thread int bypass_takeover;

__attribute__((swiftcall)) static void takeover_enqueue(void *job, enqueue_original original) {
    void *context = atomic_load_explicit(&takeover_context, memory_order_acquire);
    if (context == NULL || bypass_takeover) {
        original(job);
        return;
    }
    takeover_sink(context, job);
}

__attribute__((swiftcall)) static void takeover_delay(unsigned long long delay, void *job, delay_original original) {
    void *context = atomic_load_explicit(&takeover_context, memory_order_acquire);
    if (context == NULL || bypass_takeover) {
        original(delay, job);
        return;
    }
    takeover_delayed_sink(context, delay, job);
}

// swift_clock_id: 1 continuous (CLOCK_BOOTTIME on Linux), 2 suspending (CLOCK_MONOTONIC), 3 wall.
__attribute__((swiftcall)) static void takeover_deadline(long long sec, long long nsec, long long tsec,
                                                           long long tnsec, int clock, void *job,
                                                           deadline_original original) {
    void *context = atomic_load_explicit(&takeover_context, memory_order_acquire);
    if (context == NULL || bypass_takeover) {
        original(sec, nsec, tsec, tnsec, clock, job);
        return;
    }
    struct timespec now;
    clock_gettime(clock == 1 ? CLOCK_BOOTTIME : clock == 3 ? CLOCK_REALTIME : CLOCK_MONOTONIC, &now);
    long long remaining = (sec - (long long)now.tv_sec) * 1000000000LL + (nsec - (long long)now.tv_nsec);
    takeover_delayed_sink(context, remaining > 0 ? (uint64_t)remaining : 0, job);
}

int casyncio_global_executor_take_over(void *context, casyncio_job_sink sink, casyncio_delayed_job_sink delayed_sink) {
    if (&swift_task_enqueueGlobal_hook == NULL || &swift_task_enqueueGlobalWithDelay_hook == NULL ||
        &swift_task_enqueueGlobalWithDeadline_hook == NULL) return -1;
    void *expected = NULL;
    if (swift_task_enqueueGlobal_hook != NULL && swift_task_enqueueGlobal_hook != takeover_enqueue) return -1;
    takeover_sink = sink;
    takeover_delayed_sink = delayed_sink;
    if (!atomic_compare_exchange_strong_explicit(&takeover_context, &expected, context, memory_order_acq_rel,
                                                 memory_order_acquire)) return -1;
    swift_task_enqueueGlobal_hook = takeover_enqueue;
    swift_task_enqueueGlobalWithDelay_hook = takeover_delay;
    swift_task_enqueueGlobalWithDeadline_hook = takeover_deadline;
    return 0;
}

void casyncio_global_executor_release(void) {
    // The hooks stay installed (another thread may be inside one): with no context they pass every job
    // through to the runtime's own pool.
    atomic_store_explicit(&takeover_context, NULL, memory_order_release);
}

void casyncio_global_executor_enqueue_original(void *job) {
    bypass_takeover = 1;
    swift_task_enqueueGlobal(job);
    bypass_takeover = 0;
}

void casyncio_global_executor_enqueue_original_after(uint64_t delay_ns, void *job) {
    bypass_takeover = 1;
    swift_task_enqueueGlobalWithDelay(delay_ns, job);
    bypass_takeover = 0;
}

int casyncio_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    *pid = credentials.pid;
    *uid = credentials.uid;
    *gid = credentials.gid;
    return 0;
}

// The concurrency runtime's cancellation records (swift/Runtime/Concurrency.h), under names of the
// shim's own: AsyncIO's `withInheritedCancellationHandler` installs a task's cancellation handler as
// the standard library's `withTaskCancellationHandler` does, through these two entry points, which a
// Swift declaration may not name itself (the `swift_` prefix is reserved for the runtime). Both sides
// are the Swift calling convention: `handler` and `context` are a non-escaping closure's function and
// context, passed through untouched; the record lives in the task's allocator until it is removed.
extern __attribute__((swiftcall)) void *swift_task_addCancellationHandler(void *handler, void *context);
extern __attribute__((swiftcall)) void swift_task_removeCancellationHandler(void *record);

__attribute__((swiftcall)) void *casyncio_task_add_cancellation_handler(void *handler, void *context) {
    return swift_task_addCancellationHandler(handler, context);
}

__attribute__((swiftcall)) void casyncio_task_remove_cancellation_handler(void *record) {
    swift_task_removeCancellationHandler(record);
}

// The runtime's task-local binding, as `TaskLocal.withValue` makes it (`_taskLocalValuePush`/`Pop` in the
// standard library), under the shim's names: AsyncIO binds a task's cancel scope with them and saves
// the two executor switches `withValue`'s isolation parameter costs. `value` points to a `valueType`
// the runtime takes (moves into its binding, in the task's allocator).
extern __attribute__((swiftcall)) void swift_task_localValuePush(const void *key, void *value, const void *valueType);
extern __attribute__((swiftcall)) void swift_task_localValuePop(void);

__attribute__((swiftcall)) void casyncio_task_local_push(const void *key, void *value, const void *valueType) {
    swift_task_localValuePush(key, value, valueType);
}

__attribute__((swiftcall)) void casyncio_task_local_pop(void) {
    swift_task_localValuePop();
}

// Whether the current task is cancelled, as `Task.isCancelled` answers, without the reference the
// standard library's `withUnsafeCurrentTask` takes on the task (a retain and a release per check).
extern __attribute__((swiftcall)) void *swift_task_getCurrent(void);
extern __attribute__((swiftcall)) _Bool swift_task_isCancelled(void *task);

__attribute__((swiftcall)) _Bool casyncio_current_task_is_cancelled(void) {
    void *task = swift_task_getCurrent();
    return task != NULL && swift_task_isCancelled(task);
}
