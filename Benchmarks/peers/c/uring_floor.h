/*
 * uring_floor.h: what the C io_uring floors (echo_uring.c, http_uring.c) share: the ring set up through
 * raw system calls (no liburing), a provided-buffer ring of 4,096 buffers of 16 KiB for multishot
 * receives, submission helpers, and the listener. Each floor includes it and has its own completion loop.
 */
#ifndef URING_FLOOR_H
#define URING_FLOOR_H
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ENTRIES 4096
#define BUFFERS 4096
#define BUF_SIZE (16 * 1024)
#define GROUP 1

enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 };
#define DATA(op, fd, bid) (((uint64_t)(op) << 56) | ((uint64_t)(bid) << 32) | (uint32_t)(fd))

static int ring_fd;
static unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, sq_entries, sq_pending;
static struct io_uring_sqe *sqes;
static unsigned *cq_head, *cq_tail, *cq_mask;
static struct io_uring_cqe *cqes;
static struct io_uring_buf_ring *buf_ring;
static char *buffers;
static unsigned short buf_tail;
static void die(const char *what) { perror(what); exit(1); }

static struct io_uring_sqe *sqe(void) {
    if (sq_pending - __atomic_load_n(sq_head, __ATOMIC_ACQUIRE) >= sq_entries) {
        __atomic_store_n(sq_tail, sq_pending, __ATOMIC_RELEASE);
        if (syscall(__NR_io_uring_enter, ring_fd, sq_entries, 0, 0, NULL, 0) < 0) die("io_uring_enter");
    }
    unsigned index = sq_pending & *sq_mask;
    struct io_uring_sqe *s = &sqes[index];
    memset(s, 0, sizeof *s);
    sq_array[index] = index;
    sq_pending++;
    return s;
}

static void give_back(unsigned short bid) {
    struct io_uring_buf *b = &buf_ring->bufs[buf_tail & (BUFFERS - 1)];
    b->addr = (uint64_t)(uintptr_t)(buffers + (size_t)bid * BUF_SIZE);
    b->len = BUF_SIZE;
    b->bid = bid;
    buf_tail++;
    __atomic_store_n(&buf_ring->tail, buf_tail, __ATOMIC_RELEASE);
}

static void arm_recv(int fd) {
    struct io_uring_sqe *s = sqe();
    s->opcode = IORING_OP_RECV;
    s->fd = fd;
    s->ioprio = IORING_RECV_MULTISHOT;
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = GROUP;
    s->user_data = DATA(OP_RECV, fd, 0);
}

static void arm_accept(int listener) {
    struct io_uring_sqe *s = sqe();
    s->opcode = IORING_OP_ACCEPT;
    s->fd = listener;
    s->ioprio = IORING_ACCEPT_MULTISHOT;
    s->user_data = DATA(OP_ACCEPT, listener, 0);
}

static void setup_ring(void) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = ENTRIES * 4;
    ring_fd = (int)syscall(__NR_io_uring_setup, ENTRIES, &p);
    if (ring_fd < 0) die("io_uring_setup");
    size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    size_t size = sq_size > cq_size ? sq_size : cq_size;  /* IORING_FEAT_SINGLE_MMAP */
    char *ring = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_SQ_RING);
    if (ring == MAP_FAILED) die("mmap ring");
    sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                ring_fd, IORING_OFF_SQES);
    if (sqes == MAP_FAILED) die("mmap sqes");
    sq_head = (unsigned *)(ring + p.sq_off.head);
    sq_tail = (unsigned *)(ring + p.sq_off.tail);
    sq_mask = (unsigned *)(ring + p.sq_off.ring_mask);
    sq_array = (unsigned *)(ring + p.sq_off.array);
    sq_entries = p.sq_entries;
    sq_pending = *sq_tail;
    cq_head = (unsigned *)(ring + p.cq_off.head);
    cq_tail = (unsigned *)(ring + p.cq_off.tail);
    cq_mask = (unsigned *)(ring + p.cq_off.ring_mask);
    cqes = (struct io_uring_cqe *)(ring + p.cq_off.cqes);

    /* The provided-buffer ring. */
    buf_ring = mmap(NULL, BUFFERS * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf_ring == MAP_FAILED) die("mmap buf ring");
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)buf_ring;
    reg.ring_entries = BUFFERS;
    reg.bgid = GROUP;
    if (syscall(__NR_io_uring_register, ring_fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0) die("register pbuf ring");
    buffers = malloc((size_t)BUFFERS * BUF_SIZE);
    if (!buffers) die("malloc");
    for (unsigned short bid = 0; bid < BUFFERS; bid++) give_back(bid);
}

/* A listening TCP socket on 127.0.0.1:port_text; prints "listening on ..." once the ring is ready. */
static int listen_on(const char *port_text) {
    int one = 1;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port_text)) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
    if (listen(listener, 4096) < 0) die("listen");
    setup_ring();
    arm_accept(listener);
    printf("listening on 127.0.0.1:%s\n", port_text);
    fflush(stdout);
    return listener;
}

/* Submits everything queued and waits for at least one completion (one io_uring_enter a turn). */
static void submit_and_wait(void) {
    __atomic_store_n(sq_tail, sq_pending, __ATOMIC_RELEASE);
    unsigned submit = sq_pending - *sq_head;
    if (syscall(__NR_io_uring_enter, ring_fd, submit, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0 && errno != EINTR)
        die("io_uring_enter");
}

/* A floor's main: listens on the port argv[1] (or $PORT) and runs the completion loop. Accepts are
 * handled here (TCP_NODELAY, one multishot receive each; a descriptor of max_fd or more is closed);
 * each received buffer goes to on_data (the receive is re-armed when the kernel ended it), the end of
 * a connection's stream or an error to on_closed, each send's completion to on_send. A receive that
 * found no free buffer is asked again. The callbacks are constant, so the compiler can inline them. */
static int run_floor(int argc, char **argv, const char *name, int max_fd,
                     void (*on_data)(int fd, unsigned short bid, int count),
                     void (*on_closed)(int fd),
                     void (*on_send)(int fd, unsigned short bid, int res)) {
    const char *port_text = argc > 1 ? argv[1] : getenv("PORT");
    if (!port_text) { fprintf(stderr, "usage: %s PORT\n", name); return 2; }
    signal(SIGPIPE, SIG_IGN);
    int listener = listen_on(port_text);
    int one = 1;
    for (;;) {
        submit_and_wait();
        unsigned head = *cq_head;
        while (head != __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE)) {
            struct io_uring_cqe *c = &cqes[head & *cq_mask];
            head++;
            int op = (int)(c->user_data >> 56);
            int fd = (int)(uint32_t)c->user_data;
            unsigned short bid = (unsigned short)(c->user_data >> 32);
            int res = c->res;
            int more = c->flags & IORING_CQE_F_MORE;
            if (op == OP_ACCEPT) {
                if (res >= max_fd) {
                    close(res);
                } else if (res >= 0) {
                    setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    arm_recv(res);
                }
                if (!more) arm_accept(listener);
            } else if (op == OP_RECV) {
                if (res > 0) {
                    on_data(fd, (unsigned short)(c->flags >> IORING_CQE_BUFFER_SHIFT), res);
                    if (!more) arm_recv(fd);
                } else if (res == -ENOBUFS) {
                    arm_recv(fd);  /* out of buffers for a moment: ask again */
                } else {
                    on_closed(fd);  /* 0: end of stream; < 0: an error */
                }
            } else if (op == OP_SEND) {
                on_send(fd, bid, res);
            }
        }
        __atomic_store_n(cq_head, head, __ATOMIC_RELEASE);
    }
}

#endif
