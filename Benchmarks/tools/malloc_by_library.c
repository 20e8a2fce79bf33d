// LD_PRELOAD allocation counter that attributes every malloc-family call to the shared object (or the
// executable) that called it, and prints the counts to stderr at exit: it separates OpenSSL's own
// allocations (libssl, libcrypto) from the rest of a program (Swift's runtime, the program itself).
//   cc -O2 -shared -fPIC -o malloc_by_library.so malloc_by_library.c -ldl
//   LD_PRELOAD=./malloc_by_library.so aio echo --port 9000 --tls-cert cert.pem --tls-key key.pem
// Swift objects are allocated by libswiftCore's swift_slowAlloc, so they count under libswiftCore.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

#define SLOTS 64
static struct { _Atomic(void *) base; _Atomic unsigned long long count; } slots[SLOTS];
static _Atomic unsigned long long unknown;
static __thread int busy;

static void count(void *caller) {
    if (busy) return;  // dladdr may allocate the first time it runs
    busy = 1;
    Dl_info info;
    void *base = dladdr(caller, &info) ? info.dli_fbase : NULL;
    busy = 0;
    if (base == NULL) { atomic_fetch_add(&unknown, 1); return; }
    for (int i = 0; i < SLOTS; i++) {
        void *seen = atomic_load(&slots[i].base);
        if (seen == NULL) {
            void *expected = NULL;
            if (atomic_compare_exchange_strong(&slots[i].base, &expected, base) || expected == base) {
                atomic_fetch_add(&slots[i].count, 1);
                return;
            }
            continue;
        }
        if (seen == base) { atomic_fetch_add(&slots[i].count, 1); return; }
    }
    atomic_fetch_add(&unknown, 1);
}

void *malloc(size_t n) { count(__builtin_return_address(0)); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { count(__builtin_return_address(0)); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { count(__builtin_return_address(0)); return __libc_realloc(p, n); }
int posix_memalign(void **out, size_t align, size_t n) {
    count(__builtin_return_address(0));
    void *p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
void *aligned_alloc(size_t align, size_t n) { count(__builtin_return_address(0)); return __libc_memalign(align, n); }

static void report(void) {
    char line[512];
    for (int i = 0; i < SLOTS; i++) {
        void *base = atomic_load(&slots[i].base);
        if (base == NULL) break;
        Dl_info info;
        const char *name = dladdr(base, &info) && info.dli_fname && info.dli_fname[0] ? info.dli_fname : "(executable)";
        int length = snprintf(line, sizeof line, "malloc_by_library: %llu %s\n", atomic_load(&slots[i].count), name);
        if (write(2, line, (size_t)length) < 0) return;
    }
    int length = snprintf(line, sizeof line, "malloc_by_library: %llu (unknown)\n", atomic_load(&unknown));
    if (write(2, line, (size_t)length) < 0) return;
}

static void on_signal(int signal) { report(); (void)signal; }

__attribute__((constructor)) static void install(void) {
    atexit(report);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    action.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &action, NULL);  // kill -USR2 PID prints the counts so far
}
