#define _GNU_SOURCE
#include "CAsyncIOLinux.h"
#include <pthread.h>
#include <spawn.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/io_uring.h>

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

// MARK: - io_uring

int casyncio_uring_init(casyncio_uring *ring, unsigned entries) {
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    memset(ring, 0, sizeof *ring);
    ring->fd = -1;
    // A completion queue 8 times the submission queue: every wakeup of a multishot poll is a
    // completion, and an overflowing queue ends those requests (they are re-armed, at a cost).
    params.flags = IORING_SETUP_CLAMP | IORING_SETUP_CQSIZE;
    params.cq_entries = entries * 8;
    // Completions' task work deferred to io_uring_enter (6.1): no inter-processor interrupt or signal
    // per completion to run it at once, and the loop takes it in batches when it asks. That needs one
    // submitting thread, fixed by whoever enables the ring: the ring starts disabled and the loop's
    // thread enables it with its first io_uring_enter (the loop may be made on another thread).
    struct io_uring_params deferred = params;
    deferred.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
    int fd = (int)syscall(__NR_io_uring_setup, entries, &deferred);
    if (fd >= 0) {
        params = deferred;
        ring->disabled = 1;
        ring->deferred = 1;
    } else if (errno == EINVAL) {
        fd = (int)syscall(__NR_io_uring_setup, entries, &params);  // before 6.1
    }
    if (fd < 0) return -1;
    if (!(params.features & IORING_FEAT_EXT_ARG) || !(params.features & IORING_FEAT_NODROP)) {
        // Before 5.11: no timeout on io_uring_enter. Too old: the caller falls back to epoll.
        close(fd);
        errno = ENOSYS;
        return -1;
    }
    ring->fd = fd;
    ring->sq_ring_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
    ring->cq_ring_size = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
    if (params.features & IORING_FEAT_SINGLE_MMAP) {
        if (ring->cq_ring_size > ring->sq_ring_size) ring->sq_ring_size = ring->cq_ring_size;
        ring->cq_ring_size = ring->sq_ring_size;
    }
    ring->sq_ring = mmap(NULL, ring->sq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    if (ring->sq_ring == MAP_FAILED) goto fail;
    if (params.features & IORING_FEAT_SINGLE_MMAP) {
        ring->cq_ring = ring->sq_ring;
    } else {
        ring->cq_ring = mmap(NULL, ring->cq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
        if (ring->cq_ring == MAP_FAILED) { ring->cq_ring = NULL; goto fail; }
    }
    ring->sqes_size = params.sq_entries * sizeof(struct io_uring_sqe);
    ring->sqes = mmap(NULL, ring->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (ring->sqes == MAP_FAILED) { ring->sqes = NULL; goto fail; }
    char *sq = ring->sq_ring, *cq = ring->cq_ring;
    ring->sq_head = (unsigned *)(sq + params.sq_off.head);
    ring->sq_tail = (unsigned *)(sq + params.sq_off.tail);
    ring->sq_mask = (unsigned *)(sq + params.sq_off.ring_mask);
    ring->sq_array = (unsigned *)(sq + params.sq_off.array);
    ring->sq_entries = params.sq_entries;
    ring->sq_pending_tail = *ring->sq_tail;
    ring->cq_head = (unsigned *)(cq + params.cq_off.head);
    ring->cq_tail = (unsigned *)(cq + params.cq_off.tail);
    ring->cq_mask = (unsigned *)(cq + params.cq_off.ring_mask);
    ring->cqes = cq + params.cq_off.cqes;
    return 0;
fail:;
    int saved = errno;
    casyncio_uring_close(ring);
    errno = saved;
    return -1;
}

void casyncio_uring_close(casyncio_uring *ring) {
    if (ring->buffers) munmap(ring->buffers, ring->buffers_size);
    if (ring->buf_ring) munmap(ring->buf_ring, ring->buf_ring_size);
    if (ring->sqes) munmap(ring->sqes, ring->sqes_size);
    if (ring->cq_ring && ring->cq_ring != ring->sq_ring && ring->cq_ring != MAP_FAILED) munmap(ring->cq_ring, ring->cq_ring_size);
    if (ring->sq_ring && ring->sq_ring != MAP_FAILED) munmap(ring->sq_ring, ring->sq_ring_size);
    if (ring->fd >= 0) close(ring->fd);
    memset(ring, 0, sizeof *ring);
    ring->fd = -1;
}

/// The next free submission slot, cleared, or NULL when the queue is full.
static struct io_uring_sqe *casyncio_uring_sqe(casyncio_uring *ring) {
    unsigned head = __atomic_load_n(ring->sq_head, __ATOMIC_ACQUIRE);
    if (ring->sq_pending_tail - head >= ring->sq_entries) return NULL;
    unsigned index = ring->sq_pending_tail & *ring->sq_mask;
    struct io_uring_sqe *sqe = (struct io_uring_sqe *)ring->sqes + index;
    memset(sqe, 0, sizeof *sqe);
    ring->sq_array[index] = index;
    ring->sq_pending_tail++;
    return sqe;
}

int casyncio_uring_poll_add(casyncio_uring *ring, int fd, uint32_t mask, int multishot, uint64_t user_data) {
    struct io_uring_sqe *sqe = casyncio_uring_sqe(ring);
    if (!sqe) { errno = EBUSY; return -1; }
    sqe->opcode = IORING_OP_POLL_ADD;
    sqe->fd = fd;
    sqe->poll32_events = mask;
    sqe->len = multishot ? IORING_POLL_ADD_MULTI : 0;
    sqe->user_data = user_data;
    return 0;
}

int casyncio_uring_poll_remove(casyncio_uring *ring, uint64_t target, uint64_t user_data) {
    struct io_uring_sqe *sqe = casyncio_uring_sqe(ring);
    if (!sqe) { errno = EBUSY; return -1; }
    sqe->opcode = IORING_OP_POLL_REMOVE;
    sqe->fd = -1;
    sqe->addr = target;
    sqe->user_data = user_data;
    return 0;
}

int casyncio_uring_setup_buffers(casyncio_uring *ring, unsigned count, unsigned size) {
    if (count == 0 || count > 32768 || (count & (count - 1)) != 0) { errno = EINVAL; return -1; }
    ring->buf_ring_size = count * sizeof(struct io_uring_buf);
    ring->buf_ring = mmap(NULL, ring->buf_ring_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ring->buf_ring == MAP_FAILED) { ring->buf_ring = NULL; return -1; }
    ring->buffers_size = (size_t)count * size;
    ring->buffers = mmap(NULL, ring->buffers_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ring->buffers == MAP_FAILED) { ring->buffers = NULL; goto fail; }
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)ring->buf_ring;
    reg.ring_entries = count;
    reg.bgid = 0;
    if (syscall(__NR_io_uring_register, ring->fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0) goto fail;
    ring->buf_count = count;
    ring->buf_size = size;
    ring->buf_tail = 0;
    for (unsigned bid = 0; bid < count; bid++) casyncio_uring_give_back(ring, (unsigned short)bid);
    return 0;
fail:;
    int saved = errno;
    if (ring->buffers) munmap(ring->buffers, ring->buffers_size);
    if (ring->buf_ring) munmap(ring->buf_ring, ring->buf_ring_size);
    ring->buffers = NULL;
    ring->buf_ring = NULL;
    errno = saved;
    return -1;
}

void casyncio_uring_give_back(casyncio_uring *ring, unsigned short bid) {
    struct io_uring_buf_ring *br = ring->buf_ring;
    struct io_uring_buf *buf = &br->bufs[ring->buf_tail & (ring->buf_count - 1)];
    buf->addr = (uint64_t)(uintptr_t)(ring->buffers + (size_t)bid * ring->buf_size);
    buf->len = ring->buf_size;
    buf->bid = bid;
    ring->buf_tail++;
    __atomic_store_n(&br->tail, ring->buf_tail, __ATOMIC_RELEASE);
}

int casyncio_uring_recv_multishot(casyncio_uring *ring, int fd, uint64_t user_data) {
    struct io_uring_sqe *sqe = casyncio_uring_sqe(ring);
    if (!sqe) { errno = EBUSY; return -1; }
    sqe->opcode = IORING_OP_RECV;
    sqe->fd = fd;
    sqe->ioprio = IORING_RECV_MULTISHOT;
    sqe->flags = IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
    sqe->user_data = user_data;
    return 0;
}

int casyncio_uring_accept_multishot(casyncio_uring *ring, int fd, uint64_t user_data) {
    struct io_uring_sqe *sqe = casyncio_uring_sqe(ring);
    if (!sqe) { errno = EBUSY; return -1; }
    sqe->opcode = IORING_OP_ACCEPT;
    sqe->fd = fd;
    sqe->ioprio = IORING_ACCEPT_MULTISHOT;
    sqe->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    sqe->user_data = user_data;
    return 0;
}

int casyncio_uring_send(casyncio_uring *ring, int fd, const void *bytes, unsigned len, uint64_t user_data) {
    struct io_uring_sqe *sqe = casyncio_uring_sqe(ring);
    if (!sqe) { errno = EBUSY; return -1; }
    sqe->opcode = IORING_OP_SEND;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)bytes;
    sqe->len = len;
    sqe->msg_flags = MSG_NOSIGNAL | MSG_WAITALL;
    sqe->user_data = user_data;
    return 0;
}

int casyncio_uring_file_op(casyncio_uring *ring, int op, int fd, const void *addr, unsigned len, uint64_t offset,
                           uint32_t flags, uint64_t user_data) {
    static const unsigned char opcodes[] = {
        IORING_OP_READ, IORING_OP_WRITE, IORING_OP_OPENAT, IORING_OP_STATX, IORING_OP_FSYNC,
    };
    if (op < 0 || op > CASYNCIO_URING_FSYNC) { errno = EINVAL; return -1; }
    struct io_uring_sqe *sqe = casyncio_uring_sqe(ring);
    if (!sqe) { errno = EBUSY; return -1; }
    sqe->opcode = opcodes[op];
    sqe->fd = fd;
    if (op == CASYNCIO_URING_STATX && !addr) addr = "";  // with AT_EMPTY_PATH: the descriptor itself
    sqe->addr = (uint64_t)(uintptr_t)addr;
    sqe->len = len;
    sqe->off = offset;  // for statx: the struct statx (addr2)
    sqe->rw_flags = (int)flags;  // a union: open_flags, statx_flags, fsync_flags
    sqe->user_data = user_data;
    return 0;
}

unsigned casyncio_statx_basic_mask(void) { return STATX_BASIC_STATS; }
size_t casyncio_statx_size(void) { return sizeof(struct statx); }
void casyncio_statx_decode(const void *storage, uint32_t *mode, uint64_t *size, int64_t *modified, uint64_t *inode) {
    const struct statx *info = storage;
    *mode = info->stx_mode;
    *size = info->stx_size;
    *modified = info->stx_mtime.tv_sec;
    *inode = info->stx_ino;
}

int casyncio_uring_cancel(casyncio_uring *ring, uint64_t target, uint64_t user_data) {
    struct io_uring_sqe *sqe = casyncio_uring_sqe(ring);
    if (!sqe) { errno = EBUSY; return -1; }
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->fd = -1;
    sqe->addr = target;
    sqe->user_data = user_data;
    return 0;
}

unsigned casyncio_uring_ready(const casyncio_uring *ring) {
    return __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE) - *ring->cq_head;
}

unsigned casyncio_uring_pending(const casyncio_uring *ring) {
    return ring->sq_pending_tail - *ring->sq_tail;
}

int casyncio_uring_enter(casyncio_uring *ring, unsigned wait_nr, int64_t timeout_ns) {
    if (ring->disabled) {
        if (syscall(__NR_io_uring_register, ring->fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0) return -1;
        ring->disabled = 0;
    }
    unsigned submit = ring->sq_pending_tail - *ring->sq_tail;
    __atomic_store_n(ring->sq_tail, ring->sq_pending_tail, __ATOMIC_RELEASE);
    unsigned flags = IORING_ENTER_GETEVENTS;  // also flushes completions that overflowed the ring
    struct __kernel_timespec ts;
    struct io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof arg);
    void *argp = NULL;
    size_t argsz = 0;
    if (wait_nr > 0 && timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        arg.ts = (uint64_t)(uintptr_t)&ts;
        flags |= IORING_ENTER_EXT_ARG;
        argp = &arg;
        argsz = sizeof arg;
    }
    long rc = syscall(__NR_io_uring_enter, ring->fd, submit, wait_nr, flags, argp, argsz);
    return rc < 0 ? -1 : 0;
}

int casyncio_uring_next(casyncio_uring *ring, uint64_t *user_data, int32_t *res, uint32_t *flags) {
    unsigned head = *ring->cq_head;
    if (head == __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE)) return 0;
    struct io_uring_cqe *cqe = (struct io_uring_cqe *)ring->cqes + (head & *ring->cq_mask);
    *user_data = cqe->user_data;
    *res = cqe->res;
    *flags = cqe->flags;
    __atomic_store_n(ring->cq_head, head + 1, __ATOMIC_RELEASE);
    return 1;
}
