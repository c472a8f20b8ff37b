#include "build_features.h"
#include <cpu_features.h>

// Built with the kernels' -march: its macros say what the kernels may use. No vector code here.
unsigned rd_build_features(void) {
    unsigned bits = 0;
#ifdef __SSE4_2__
    bits |= RD_FEATURE_SSE42;
#endif
#ifdef __AVX__
    bits |= RD_FEATURE_AVX;
#endif
#ifdef __AVX2__
    bits |= RD_FEATURE_AVX2;
#endif
#ifdef __FMA__
    bits |= RD_FEATURE_FMA;
#endif
#ifdef __AVX512F__
    bits |= RD_FEATURE_AVX512F;
#endif
#ifdef __AVX512BW__
    bits |= RD_FEATURE_AVX512BW;
#endif
#ifdef __AVX512VL__
    bits |= RD_FEATURE_AVX512VL;
#endif
#ifdef __AVX512DQ__
    bits |= RD_FEATURE_AVX512DQ;
#endif
#if defined(__aarch64__) && defined(__ARM_NEON)
    bits |= RD_FEATURE_NEON;
#endif
    return bits;
}

#ifndef RD_TARGET_CPU
#define RD_TARGET_CPU "default"
#endif

const char *rd_build_target_cpu(void) { return RD_TARGET_CPU; }
