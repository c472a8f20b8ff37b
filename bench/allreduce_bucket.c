/* Blocking MPI_Allreduce of one 1 MiB gradient bucket between 2 ranks: the transfer time the
 * bucketed all-reduce cannot hide. Optional tool, not part of the build:
 *   mpicc -O2 bench/allreduce_bucket.c -o /tmp/allreduce_bucket && mpirun -np 2 --oversubscribe /tmp/allreduce_bucket
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank; MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int n = 262144; /* 1 MiB of floats */
    float *buf = malloc(n * sizeof(float));
    for (int i = 0; i < n; i++) buf[i] = 1.0f;
    double t[60];
    for (int r = 0; r < 60; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        t[r] = MPI_Wtime() - t0;
    }
    qsort(t + 10, 50, sizeof(double), cmp);
    if (rank == 0) printf("1 MiB MPI_Allreduce, 2 ranks: median %.3f ms, min %.3f ms, max %.3f ms\n", t[35] * 1e3, t[10] * 1e3, t[59] * 1e3);
    MPI_Finalize();
    return 0;
}
