// The io_uring part of the C shim: the ring set up and driven through the raw system calls (liburing is
// not on a fresh machine), the provided-buffer pool, and the submissions AsyncIOSystem's IOURing makes.
#define _GNU_SOURCE
#include "CAsyncIOLinux.h"
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/io_uring.h>

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
