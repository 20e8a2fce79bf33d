/*
 * http_uring: the io_uring floor for the HTTP scenario (issue 17), next to ../shared/bench's
 * http_epoll, and built the same way as echo_uring.c. Like http_epoll it does not parse HTTP: it counts
 * request ends ("\r\n\r\n", so GET-style requests without a body) and answers each one with the same
 * fixed keep-alive response (200, "Hello, World!"), in order. Single thread, 127.0.0.1 only, raw system
 * calls (no liburing):
 *   - one multishot accept;
 *   - per connection one multishot recv into a provided-buffer ring (4,096 buffers of 16 KiB); a
 *     buffer goes back to the ring as soon as its request ends are counted;
 *   - the responses of a connection go out in one IORING_OP_SEND from the connection's own buffer; what
 *     arrives while a send is in flight is answered when it completes (a short send sends the rest);
 *   - one io_uring_enter per turn submits everything queued and waits for at least one completion.
 *
 * Usage: http_uring PORT
 * Build: cc -O2 -o http_uring http_uring.c
 */
#include "uring_floor.h"

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, World!";
#define RESPONSE_LEN (sizeof RESPONSE - 1)
#define MAX_FD 65536

/* Per connection: how much of "\r\n\r\n" the last bytes matched, and the responses not yet sent
 * (out[off..<len]; sending: a send of them is in the ring). */
typedef struct {
    unsigned char match, sending;
    char *out;
    size_t len, off, cap;
} conn_t;
static conn_t conns[MAX_FD];

static void send_pending(int fd) {
    conn_t *c = &conns[fd];
    struct io_uring_sqe *s = sqe();
    s->opcode = IORING_OP_SEND;
    s->fd = fd;
    s->addr = (uint64_t)(uintptr_t)(c->out + c->off);
    s->len = (unsigned)(c->len - c->off);
    s->msg_flags = MSG_NOSIGNAL;
    s->user_data = DATA(OP_SEND, fd, 0);
    c->sending = 1;
}

/* Counts the request ends in data[0..<n] and queues a response for each. */
static void answer(int fd, const char *data, int n) {
    conn_t *c = &conns[fd];
    unsigned char m = c->match;
    for (int k = 0; k < n; k++) {
        char ch = data[k];
        if (ch == ((m & 1) ? '\n' : '\r')) m++;
        else m = (ch == '\r') ? 1 : 0;
        if (m == 4) {
            if (c->len + RESPONSE_LEN > c->cap) {
                c->cap = c->cap ? c->cap * 2 : 16 * RESPONSE_LEN;
                c->out = realloc(c->out, c->cap);
                if (!c->out) die("realloc");
            }
            memcpy(c->out + c->len, RESPONSE, RESPONSE_LEN);
            c->len += RESPONSE_LEN;
            m = 0;
        }
    }
    c->match = m;
}

static void drop(int fd) {
    close(fd);
    conns[fd].match = conns[fd].sending = 0;
    conns[fd].len = conns[fd].off = 0;
}

int main(int argc, char **argv) {
    const char *port_text = argc > 1 ? argv[1] : getenv("PORT");
    if (!port_text) { fprintf(stderr, "usage: http_uring PORT\n"); return 2; }
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
            int res = c->res;
            int more = c->flags & IORING_CQE_F_MORE;
            if (op == OP_ACCEPT) {
                if (res >= 0 && res < MAX_FD) {
                    setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    arm_recv(res);
                }
                if (!more) arm_accept(listener);
            } else if (op == OP_RECV) {
                if (res > 0) {
                    unsigned short got = (unsigned short)(c->flags >> IORING_CQE_BUFFER_SHIFT);
                    answer(fd, buffers + (size_t)got * BUF_SIZE, res);
                    give_back(got);
                    if (!conns[fd].sending && conns[fd].len > conns[fd].off) send_pending(fd);
                    if (!more) arm_recv(fd);
                } else if (res == -ENOBUFS) {
                    arm_recv(fd);  /* out of buffers for a moment: ask again */
                } else if (conns[fd].sending) {
                    conns[fd].match = 5;  /* closed by the peer: drop once the send in flight completes */
                } else {
                    drop(fd);  /* 0: end of stream; < 0: an error */
                }
            } else if (op == OP_SEND) {
                conn_t *cn = &conns[fd];
                cn->sending = 0;
                if (cn->match == 5 || res <= 0) { drop(fd); continue; }
                cn->off += (size_t)res;
                if (cn->off == cn->len) cn->off = cn->len = 0;
                else send_pending(fd);
            }
        }
        __atomic_store_n(cq_head, head, __ATOMIC_RELEASE);
    }
}
