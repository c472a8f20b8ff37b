#ifndef RESNET_DIST_BUILD_FEATURES_H
#define RESNET_DIST_BUILD_FEATURES_H

/// The instruction-set features (RD_FEATURE_* bits of cpu_features.h) that the kernels were
/// compiled to use: read from the compiler's predefined macros under the kernels' -march.
unsigned rd_build_features(void);

/// The -march / -target-cpu the package was built with ("native", "haswell", ...).
const char *rd_build_target_cpu(void);

#endif
