// Counts heap allocations of the benchmark process (glibc lets an executable define malloc).
#ifndef CMALLOC_COUNTER_H
#define CMALLOC_COUNTER_H
#include <stdint.h>
uint64_t cmalloc_counter_allocations(void);
/// exit(2), for usage errors.
void cmalloc_counter_exit_failure(void) __attribute__((noreturn));
#endif
