import COpenBLAS

/// Row-major single-precision GEMM on OpenBLAS: `C = alpha * op(A) * op(B) + beta * C`,
/// where op(A) is M x K, op(B) is K x N and C is M x N with leading dimension `ldc`.
@inlinable
public func sgemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
        transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
        beta, c, Int32(ldc))
}

/// OpenBLAS's own thread count. The trainer parallelises over images itself and keeps BLAS at one
/// thread per worker, because a spinning BLAS pool slows many-fold on a shared machine.
public enum BLASThreads {
    public static func set(_ count: Int) { openblas_set_num_threads(Int32(count)) }
    public static var current: Int { Int(openblas_get_num_threads()) }
}
