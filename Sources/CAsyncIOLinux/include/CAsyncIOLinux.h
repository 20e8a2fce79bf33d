// C shim for AsyncIO: only what Swift's Glibc import hides or cannot express.
// Everything here is called through AsyncIOSystem, never directly by higher layers.
#ifndef CASYNCIO_LINUX_H
#define CASYNCIO_LINUX_H

#include <stdint.h>
#include <stddef.h>
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

/// A minimal io_uring, through the raw system calls (liburing is not on a fresh machine): the rings
/// mapped, poll requests queued, one `io_uring_enter` that submits them and waits for completions.
/// Loop-thread only.
typedef struct casyncio_uring {
    int fd;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned sq_entries, sq_pending_tail;
    void *sqes;  // struct io_uring_sqe[sq_entries]
    unsigned *cq_head, *cq_tail, *cq_mask;
    void *cqes;  // struct io_uring_cqe[]
    void *sq_ring; size_t sq_ring_size;
    void *cq_ring; size_t cq_ring_size;
    size_t sqes_size;
    // The provided-buffer ring (buffer group 0) that multishot receives take their buffers from.
    void *buf_ring; size_t buf_ring_size;
    unsigned char *buffers; size_t buffers_size;
    unsigned buf_count, buf_size;
    unsigned short buf_tail;
    // Set up with deferred task work and not enabled yet: the first io_uring_enter enables it, which
    // makes its thread the ring's only submitter.
    int disabled;
    // Set up with deferred task work (IORING_SETUP_DEFER_TASKRUN, Linux 6.1).
    int deferred;
} casyncio_uring;

/// Sets up a ring with `entries` submission slots; -1 and errno on failure (ENOSYS: no io_uring;
/// EPERM: refused by seccomp or the io_uring_disabled sysctl; ENOMEM). On Linux 6.1 and later the ring
/// defers completion work to io_uring_enter and has one submitting thread: the one that first enters it.
int casyncio_uring_init(casyncio_uring *ring, unsigned entries);
void casyncio_uring_close(casyncio_uring *ring);
/// Queues a poll of `fd` for `mask` (poll(2) bits), multishot or one-shot; -1 with errno EBUSY when the
/// submission queue is full (submit first).
int casyncio_uring_poll_add(casyncio_uring *ring, int fd, uint32_t mask, int multishot, uint64_t user_data);
/// Queues the removal of the poll queued with `target`; its completion carries `user_data`.
int casyncio_uring_poll_remove(casyncio_uring *ring, uint64_t target, uint64_t user_data);
/// Sets up `count` (a power of two, at most 32768) receive buffers of `size` bytes each as provided-buffer
/// group 0 (`IORING_REGISTER_PBUF_RING`, Linux 5.19), every one given to the kernel. The memory is
/// reserved, not touched: pages are only used as receives fill them. 0, or -1 with errno.
int casyncio_uring_setup_buffers(casyncio_uring *ring, unsigned count, unsigned size);
/// Gives receive buffer `bid` back to the kernel (it was delivered with a receive's completion).
void casyncio_uring_give_back(casyncio_uring *ring, unsigned short bid);
/// Queues a multishot receive on `fd` into buffers of group 0 (one completion per arrival, each with
/// IORING_CQE_F_BUFFER and the buffer's id in the top 16 bits of its flags).
int casyncio_uring_recv_multishot(casyncio_uring *ring, int fd, uint64_t user_data);
/// Queues a multishot accept on the listening socket `fd` (SOCK_NONBLOCK | SOCK_CLOEXEC; no address):
/// one completion per connection, its result the new descriptor.
int casyncio_uring_accept_multishot(casyncio_uring *ring, int fd, uint64_t user_data);
/// Queues a send of `len` bytes at `bytes` (MSG_NOSIGNAL | MSG_WAITALL: all of them unless the connection
/// fails); the memory must stay valid until it completes.
int casyncio_uring_send(casyncio_uring *ring, int fd, const void *bytes, unsigned len, uint64_t user_data);
/// The operations a file takes on the ring (`casyncio_uring_file_op`).
enum {
    CASYNCIO_URING_READ = 0,   // fd, addr = buffer, len, offset (-1: the file position)
    CASYNCIO_URING_WRITE = 1,  // fd, addr = bytes, len, offset (-1: the file position)
    CASYNCIO_URING_OPENAT = 2, // fd = directory (AT_FDCWD), addr = path, len = mode, flags = open flags
    CASYNCIO_URING_STATX = 3,  // fd, addr = "" with AT_EMPTY_PATH in flags, len = mask, offset = struct statx *
    CASYNCIO_URING_FSYNC = 4,  // fd, flags = IORING_FSYNC_DATASYNC or 0
};
/// Queues one file operation (see the enum above); its completion carries `user_data`.
int casyncio_uring_file_op(casyncio_uring *ring, int op, int fd, const void *addr, unsigned len, uint64_t offset,
                           uint32_t flags, uint64_t user_data);
/// `STATX_BASIC_STATS`, the size of `struct statx`, and the fields of one that `FileStatus` has.
unsigned casyncio_statx_basic_mask(void);
size_t casyncio_statx_size(void);
void casyncio_statx_decode(const void *storage, uint32_t *mode, uint64_t *size, int64_t *modified, uint64_t *inode);
/// Queues the cancellation (`IORING_OP_ASYNC_CANCEL`) of the request queued with `target`.
int casyncio_uring_cancel(casyncio_uring *ring, uint64_t target, uint64_t user_data);
/// Submits what is queued and waits for at least `wait_nr` completions, up to `timeout_ns` (-1: no limit).
/// Returns 0, or -1 with errno (ETIME and EINTR mean: look at what completed).
int casyncio_uring_enter(casyncio_uring *ring, unsigned wait_nr, int64_t timeout_ns);
/// Takes the next completion: 1 and its fields, or 0 when there is none.
int casyncio_uring_next(casyncio_uring *ring, uint64_t *user_data, int32_t *res, uint32_t *flags);
/// How many completions wait to be taken.
unsigned casyncio_uring_ready(const casyncio_uring *ring);
/// How many submissions are queued and not yet submitted.
unsigned casyncio_uring_pending(const casyncio_uring *ring);

/// `getsockopt(SO_PEERCRED)`: the peer's process, user and group (`struct ucred` needs _GNU_SOURCE).
int casyncio_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid);

/// `accept4(2)` and `pipe2(2)`, which need _GNU_SOURCE.
int casyncio_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int casyncio_pipe2(int fds[2], int flags);

/// `pidfd_open(2)` through syscall(2) (glibc < 2.36 has no wrapper).
int casyncio_pidfd_open(int32_t pid, unsigned int flags);

/// `posix_spawn` with the parts Swift cannot express: file actions (dup2, open, close, chdir), a new
/// process group, and a child that starts with an empty signal mask and default dispositions for the
/// signals the parent may have blocked or ignored (SIGINT, SIGTERM, SIGQUIT, SIGPIPE, SIGCHLD, SIGHUP).
/// `fd_actions` holds triples (kind, a, b): kind 0 = dup2(a, b); 1 = open(path[b]) onto a with flags
/// from path_flags[b]; 2 = close(a). Returns 0 or an errno value.
int casyncio_spawn(int32_t *pid, const char *path, int search_path, char *const argv[], char *const envp[],
                   const int32_t *fd_actions, int fd_action_count, const char *const *paths,
                   const int32_t *path_flags, const char *working_directory, int new_process_group);

/// `pthread_setname_np` on the calling thread (names are cut to 15 bytes).
void casyncio_set_thread_name(const char *name);

/// CLOCK_MONOTONIC in nanoseconds.
int64_t casyncio_monotonic_ns(void);

/// Swift's global executor, taken over through the concurrency runtime's enqueue hooks (the unofficial
/// runtime interface SwiftNIO's "concurrency takeover" also uses): while installed, every job the runtime
/// would hand to its global pool goes to `sink`, and every delayed job (`Task.sleep` on Swift's clocks)
/// to `delayed_sink` with its delay in nanoseconds. `context` is passed back to both.
typedef void (*casyncio_job_sink)(void *context, void *job);
typedef void (*casyncio_delayed_job_sink)(void *context, uint64_t delay_ns, void *job);
/// Installs the hooks; returns 0, or -1 if another takeover holds them or the runtime lacks them.
int casyncio_global_executor_take_over(void *context, casyncio_job_sink sink, casyncio_delayed_job_sink delayed_sink);
/// Removes the hooks installed by `casyncio_global_executor_take_over`; jobs go to Swift's pool again.
void casyncio_global_executor_release(void);
/// Hands `job` to Swift's own global pool, bypassing the takeover (for jobs a closed loop cannot run).
void casyncio_global_executor_enqueue_original(void *job);
/// Hands `job` to Swift's own global pool after `delay_ns`, bypassing the takeover.
void casyncio_global_executor_enqueue_original_after(uint64_t delay_ns, void *job);

#endif
