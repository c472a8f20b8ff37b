#include <stdlib.h>
#include "mpi_shim.h"
#include <mpi.h>
#include <string.h>

// MPI counts are int: large buffers are sent in chunks of at most this many elements.
static const int64_t chunk = 1 << 30;

// bfloat16: the upper 16 bits of a float32, rounded to nearest even (NaN stays NaN).
static inline float bf16_to_f32(uint16_t value) {
    uint32_t bits = (uint32_t)value << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t f32_to_bf16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40);
    return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// The sum of two bfloat16 buffers, each pair added in float32 and rounded once.
static void bf16_sum(void *in, void *inout, int *len, MPI_Datatype *type) {
    (void)type;
    const uint16_t *a = (const uint16_t *)in;
    uint16_t *b = (uint16_t *)inout;
    for (int i = 0; i < *len; i++) b[i] = f32_to_bf16(bf16_to_f32(a[i]) + bf16_to_f32(b[i]));
}

static MPI_Op bf16_sum_op = MPI_OP_NULL;

int rd_mpi_init(void) {
    /* The gradient buckets are summed in place by MPI_Iallreduce, and OpenMPI 4.1's libnbc then
       always takes its binomial tree: every bucket climbs to rank 0 and comes back down whole,
       2 log2(p) full copies in a row. Its ring moves 2 (p-1)/p of a copy over each link, however
       many ranks share a node: at 8 ranks over 100 Mbit a ResNet-110 step took 3.67 s with the
       default and 1.41 s with the ring (docs/RESULTS.md, issue 21). A value the user sets
       (mpirun --mca, the environment) wins. */
    setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", 0);
    /* Over TCP, OpenMPI sends a message above btl_tcp_eager_limit (64 KiB) by rendezvous: the first
       64 KiB, then the rest only after the receiver's answer, and that answer leaves through the
       receiver's own link, queued behind the round it is sending itself. A ring round of a 1 MiB
       bucket is 128-512 KiB at 2-8 ranks, so every round paid that wait: on 4 emulated hosts at
       100 Mbit a raw ring of ResNet-20's 1.09 MB took 200 ms with the default and 148 ms with the
       rounds sent eagerly (131 ms of wire time), and the emulated ResNet-20 step 0.252 against
       0.211 s (docs/RESULTS.md, issue 21). Shared memory and other transports are not affected; a value
       the user sets wins. */
    setenv("OMPI_MCA_btl_tcp_eager_limit", "1048576", 0);
    int provided = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return rc;
    rc = MPI_Op_create(bf16_sum, 1, &bf16_sum_op);
    if (rc != MPI_SUCCESS) return rc;
    return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

int rd_mpi_is_initialized(void) {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

int rd_mpi_finalize(void) { return MPI_Finalize(); }
int rd_mpi_rank(int *rank) { return MPI_Comm_rank(MPI_COMM_WORLD, rank); }
int rd_mpi_size(int *size) { return MPI_Comm_size(MPI_COMM_WORLD, size); }

static int allreduce(void *buffer, int64_t count, MPI_Datatype type, size_t width, MPI_Op op) {
    char *p = (char *)buffer;
    while (count > 0) {
        int n = (int)(count < chunk ? count : chunk);
        int rc = MPI_Allreduce(MPI_IN_PLACE, p, n, type, op, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
        p += (size_t)n * width;
        count -= n;
    }
    return MPI_SUCCESS;
}

int rd_mpi_allreduce_sum_f32(float *b, int64_t n) { return allreduce(b, n, MPI_FLOAT, 4, MPI_SUM); }
int rd_mpi_allreduce_sum_f64(double *b, int64_t n) { return allreduce(b, n, MPI_DOUBLE, 8, MPI_SUM); }
int rd_mpi_allreduce_sum_i64(int64_t *b, int64_t n) { return allreduce(b, n, MPI_INT64_T, 8, MPI_SUM); }

int rd_mpi_bcast_bytes(void *buffer, int64_t count, int root) {
    char *p = (char *)buffer;
    while (count > 0) {
        int n = (int)(count < chunk ? count : chunk);
        int rc = MPI_Bcast(p, n, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
        p += n;
        count -= n;
    }
    return MPI_SUCCESS;
}

int rd_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
void rd_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

size_t rd_mpi_request_size(void) { return sizeof(MPI_Request); }

int rd_mpi_iallreduce_sum_bf16(uint16_t *buffer, int64_t count, void *request) {
    if (count > chunk) return MPI_ERR_COUNT;
    return MPI_Iallreduce(MPI_IN_PLACE, buffer, (int)count, MPI_UINT16_T, bf16_sum_op, MPI_COMM_WORLD, (MPI_Request *)request);
}

int rd_mpi_iallreduce_sum_f32(float *buffer, int64_t count, void *request) {
    if (count > chunk) return MPI_ERR_COUNT;
    return MPI_Iallreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, (MPI_Request *)request);
}

int rd_mpi_test(void *request, int *done) {
    return MPI_Test((MPI_Request *)request, done, MPI_STATUS_IGNORE);
}

int rd_mpi_wait(void *request) {
    return MPI_Wait((MPI_Request *)request, MPI_STATUS_IGNORE);
}

void rd_mpi_error_string(int code, char *buffer, int capacity) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) {
        strncpy(text, "unknown MPI error", sizeof(text));
        text[sizeof(text) - 1] = 0;
    }
    if (capacity > 0) {
        strncpy(buffer, text, (size_t)capacity - 1);
        buffer[capacity - 1] = 0;
    }
}

int rd_mpi_control_variable(const char *name, int64_t *value) {
    int provided = 0;
    int rc = MPI_T_init_thread(MPI_THREAD_SINGLE, &provided);
    if (rc != MPI_SUCCESS) return rc;
    int index = 0;
    rc = MPI_T_cvar_get_index(name, &index);
    if (rc == MPI_SUCCESS) {
        char cvar_name[256], description[1024];
        int name_length = sizeof cvar_name, description_length = sizeof description;
        int verbosity = 0, binding = 0, scope = 0, count = 0, width = 0;
        MPI_Datatype type;
        MPI_T_enum enumtype;
        rc = MPI_T_cvar_get_info(index, cvar_name, &name_length, &verbosity, &type, &enumtype, description,
                                 &description_length, &binding, &scope);
        if (rc == MPI_SUCCESS) rc = MPI_Type_size(type, &width);
        /* Integer variables only: MPI_INT, MPI_UNSIGNED (4 bytes) or their long forms (8). */
        if (rc == MPI_SUCCESS && width != 4 && width != 8) rc = MPI_T_ERR_INVALID;
        MPI_T_cvar_handle handle;
        if (rc == MPI_SUCCESS) rc = MPI_T_cvar_handle_alloc(index, NULL, &handle, &count);
        if (rc == MPI_SUCCESS) {
            int64_t wide = 0;
            int32_t narrow = 0;
            rc = MPI_T_cvar_read(handle, width == 8 ? (void *)&wide : (void *)&narrow);
            *value = width == 8 ? wide : narrow;
            MPI_T_cvar_handle_free(&handle);
        }
    }
    MPI_T_finalize();
    return rc;
}
