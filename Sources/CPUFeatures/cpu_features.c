#define _GNU_SOURCE
#include <sched.h>

#include "cpu_features.h"

// Compiled for the baseline target (no -march): it must run on any CPU, to say what is missing.
unsigned rd_cpu_features(void) {
    unsigned bits = 0;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) bits |= RD_FEATURE_SSE42;
    if (__builtin_cpu_supports("avx")) bits |= RD_FEATURE_AVX;
    if (__builtin_cpu_supports("avx2")) bits |= RD_FEATURE_AVX2;
    if (__builtin_cpu_supports("fma")) bits |= RD_FEATURE_FMA;
    if (__builtin_cpu_supports("avx512f")) bits |= RD_FEATURE_AVX512F;
    if (__builtin_cpu_supports("avx512bw")) bits |= RD_FEATURE_AVX512BW;
    if (__builtin_cpu_supports("avx512vl")) bits |= RD_FEATURE_AVX512VL;
    if (__builtin_cpu_supports("avx512dq")) bits |= RD_FEATURE_AVX512DQ;
#elif defined(__aarch64__)
    bits |= RD_FEATURE_NEON;  // Advanced SIMD is part of every AArch64 CPU.
#endif
    return bits;
}

int rd_affinity_cpus(void) {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
    return CPU_COUNT(&set);
#else
    return 0;
#endif
}
