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

static void on_data(int fd, unsigned short bid, int count) {
    send_off[bid] = 0;
    send_len[bid] = (unsigned)count;
    send_from(fd, bid);
}

static void on_closed(int fd) { close(fd); }

static void on_send(int fd, unsigned short bid, int res) {
    if (res > 0 && (unsigned)res < send_len[bid]) {  /* a short send: the rest first */
        send_off[bid] += (unsigned)res;
        send_len[bid] -= (unsigned)res;
        send_from(fd, bid);
    } else {
        give_back(bid);
    }
}

int main(int argc, char **argv) { return run_floor(argc, argv, "echo_uring", 1 << 30, on_data, on_closed, on_send); }
