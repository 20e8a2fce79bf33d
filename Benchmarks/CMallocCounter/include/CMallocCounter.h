// Counts heap allocations of the benchmark process (glibc lets an executable define malloc).
#ifndef CMALLOC_COUNTER_H
#define CMALLOC_COUNTER_H
#include <stdint.h>
uint64_t cmalloc_counter_allocations(void);
#endif
