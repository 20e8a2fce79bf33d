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

static void on_data(int fd, unsigned short bid, int count) {
    answer(fd, buffers + (size_t)bid * BUF_SIZE, count);
    give_back(bid);
    if (!conns[fd].sending && conns[fd].len > conns[fd].off) send_pending(fd);
}

static void on_closed(int fd) {
    if (conns[fd].sending) conns[fd].match = 5;  /* drop once the send in flight completes */
    else drop(fd);
}

static void on_send(int fd, unsigned short bid, int res) {
    (void)bid;
    conn_t *c = &conns[fd];
    c->sending = 0;
    if (c->match == 5 || res <= 0) { drop(fd); return; }
    c->off += (size_t)res;
    if (c->off == c->len) c->off = c->len = 0;
    else send_pending(fd);
}

int main(int argc, char **argv) { return run_floor(argc, argv, "http_uring", MAX_FD, on_data, on_closed, on_send); }
