// LD_PRELOAD allocation-size histogram: every malloc-family size, counted while armed (SIGPWR toggles),
// printed to stderr on SIGUSR2 (sizes seen more than 500 times). Benchmarks/memory/idle-census.py drives it:
//   cc -O2 -shared -fPIC -o malloc_sizes.so malloc_sizes.c -ldl
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <signal.h>
#include <unistd.h>
#include <string.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void*);
static _Atomic long hist[8192];
static _Atomic int on;
static void rec(size_t n) { if (!on) return; size_t b = n < 8191 ? n : 8191; hist[b]++; }
void *malloc(size_t n) { rec(n); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { rec(a*b); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { rec(n); return __libc_realloc(p, n); }
int posix_memalign(void **p, size_t al, size_t n) { rec(n); *p = __libc_memalign(al, n); return *p ? 0 : 12; }
void *aligned_alloc(size_t al, size_t n) { rec(n); return __libc_memalign(al, n); }
void *memalign(size_t al, size_t n) { rec(n); return __libc_memalign(al, n); }
static void dump(int sig) {
    char buf[128];
    for (int i = 0; i < 8192; i++) if (hist[i] > 500) { int k = snprintf(buf, sizeof buf, "%d: %ld\n", i, hist[i]); write(2, buf, k); }
    _exit(0);
}
static void start(int sig) { on = !on; }
__attribute__((constructor)) static void init(void) { signal(SIGUSR2, dump); signal(SIGPWR, start); }
