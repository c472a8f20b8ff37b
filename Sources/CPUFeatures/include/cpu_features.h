#ifndef RESNET_DIST_CPU_FEATURES_H
#define RESNET_DIST_CPU_FEATURES_H

/// Instruction-set features as bits, the same in both C targets: what this CPU has
/// (CPUFeatures, built for the baseline so it runs anywhere) and what the kernels were compiled
/// to use (BuildFeatures, built with the kernels' -march).
enum {
    RD_FEATURE_SSE42 = 1u << 0,
    RD_FEATURE_AVX = 1u << 1,
    RD_FEATURE_AVX2 = 1u << 2,
    RD_FEATURE_FMA = 1u << 3,
    RD_FEATURE_AVX512F = 1u << 4,
    RD_FEATURE_AVX512BW = 1u << 5,
    RD_FEATURE_AVX512VL = 1u << 6,
    RD_FEATURE_AVX512DQ = 1u << 7,
    RD_FEATURE_NEON = 1u << 8,
};

/// The features this CPU has (cpuid through the compiler's runtime).
unsigned rd_cpu_features(void);

/// The CPUs in this process's affinity mask (sched_getaffinity); 0 if it cannot be read.
int rd_affinity_cpus(void);

/// A hint inside a spin-wait loop (x86 `pause`, Arm `yield`): the core slows the loop and, under a
/// hypervisor, lets it see that the vCPU is only waiting.
static inline void rd_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
