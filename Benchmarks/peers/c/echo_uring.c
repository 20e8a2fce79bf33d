/*
 * echo_uring: the io_uring floor for the echo scenario (issue 17), next to ../shared/bench's
 * echo_epoll. Single thread, 127.0.0.1 only, raw system calls (no liburing):
 *   - one multishot accept;
 *   - per connection one multishot recv into a provided-buffer ring (4,096 buffers of 16 KiB);
 *   - each received buffer is sent back from the same buffer (IORING_OP_SEND), and returned to the
 *     ring when the send completes (a short send sends the rest first);
 *   - one io_uring_enter per turn submits everything queued and waits for at least one completion.
 * A connection has at most one request in flight in the echo benchmark (echo_load is closed-loop),
 * so sends of one connection are not linked.
 *
 * Usage: echo_uring PORT
 * Build: cc -O2 -o echo_uring echo_uring.c
 */
#include "uring_floor.h"

/* Per buffer id: how much of it is still to be sent back, and from where. */
static unsigned send_len[BUFFERS], send_off[BUFFERS];

static void send_from(int fd, unsigned short bid) {
    struct io_uring_sqe *s = sqe();
    s->opcode = IORING_OP_SEND;
    s->fd = fd;
    s->addr = (uint64_t)(uintptr_t)(buffers + (size_t)bid * BUF_SIZE + send_off[bid]);
    s->len = send_len[bid];
    s->msg_flags = MSG_NOSIGNAL;
    s->user_data = DATA(OP_SEND, fd, bid);
}

int main(int argc, char **argv) {
    const char *port_text = argc > 1 ? argv[1] : getenv("PORT");
    if (!port_text) { fprintf(stderr, "usage: echo_uring PORT\n"); return 2; }
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
                if (res >= 0) {
                    setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    arm_recv(res);
                }
                if (!more) arm_accept(listener);
            } else if (op == OP_RECV) {
                if (res > 0) {
                    unsigned short got = (unsigned short)(c->flags >> IORING_CQE_BUFFER_SHIFT);
                    send_off[got] = 0;
                    send_len[got] = (unsigned)res;
                    send_from(fd, got);
                    if (!more) arm_recv(fd);
                } else if (res == -ENOBUFS) {
                    arm_recv(fd);  /* out of buffers for a moment: ask again */
                } else {
                    close(fd);  /* 0: end of stream; < 0: an error */
                }
            } else if (op == OP_SEND) {
                if (res > 0 && (unsigned)res < send_len[bid]) {
                    send_off[bid] += (unsigned)res;
                    send_len[bid] -= (unsigned)res;
                    send_from(fd, bid);
                } else {
                    give_back(bid);
                }
            }
        }
        __atomic_store_n(cq_head, head, __ATOMIC_RELEASE);
    }
}
