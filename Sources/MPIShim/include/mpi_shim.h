/// A thin C shim over MPI for Swift: mpi.h's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM)
/// are macros Swift cannot import, so each collective the trainer needs is one function here.
/// Every function returns an MPI error code (0 = success); MPI_COMM_WORLD uses MPI_ERRORS_RETURN,
/// so errors come back instead of aborting inside the library.
#ifndef MPI_SHIM_H
#define MPI_SHIM_H
#include <stddef.h>
#include <stdint.h>

/// Initialises MPI (also as a singleton started without mpirun), thread level FUNNELED.
int rd_mpi_init(void);
/// 1 if MPI was initialised and not yet finalised.
int rd_mpi_is_initialized(void);
int rd_mpi_finalize(void);
int rd_mpi_rank(int *rank);
int rd_mpi_size(int *size);
/// In-place sum over all ranks.
int rd_mpi_allreduce_sum_f32(float *buffer, int64_t count);
int rd_mpi_allreduce_sum_f64(double *buffer, int64_t count);
int rd_mpi_allreduce_sum_i64(int64_t *buffer, int64_t count);
/// Broadcast of raw bytes from `root`.
int rd_mpi_bcast_bytes(void *buffer, int64_t count, int root);
int rd_mpi_barrier(void);
/// Aborts every rank of the job with `code`; does not return.
void rd_mpi_abort(int code);
/// Bytes of one request handle; the caller owns that storage (so starting a request allocates nothing).
size_t rd_mpi_request_size(void);
/// Starts an in-place non-blocking float32 sum whose handle goes into `request` (rd_mpi_request_size bytes).
int rd_mpi_iallreduce_sum_f32(float *buffer, int64_t count, void *request);
/// The same for bfloat16 values (uint16 bit patterns): each pair is added in float32 and rounded
/// back to bfloat16, to nearest even.
int rd_mpi_iallreduce_sum_bf16(uint16_t *buffer, int64_t count, void *request);
/// Lets MPI progress the request (call now and then during backward); `done` is set when it completed.
int rd_mpi_test(void *request, int *done);
/// Waits for the request to complete.
int rd_mpi_wait(void *request);
/// Writes MPI's description of `code` into `buffer` (NUL-terminated).
void rd_mpi_error_string(int code, char *buffer, int capacity);
/// The value MPI runs with of the integer control variable `name` (MPI_T), e.g.
/// "btl_tcp_eager_limit": what the shim's defaults, the environment and `mpirun --mca` made of it.
/// Call after rd_mpi_init.
int rd_mpi_control_variable(const char *name, int64_t *value);

#endif
