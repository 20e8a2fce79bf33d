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
