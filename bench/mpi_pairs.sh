#!/usr/bin/env bash
# Alternating pairs of 1 rank and 2 ranks (x 1 thread) on ResNet-110 at global batch 128: the
# speed-up, and the wait after backward split into communication and imbalance.
# usage: bench/mpi_pairs.sh BINARY [pairs=8]
set -euo pipefail
[ $# -ge 1 ] || { grep -m1 '^# usage:' "$0" | sed 's/^# //' >&2; exit 64; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
B=$1; N=${2:-8}
show() { python3 -c "import json,sys; d=json.load(sys.stdin); print('$1', round(d['images_per_s'],2), 'step', round(d['step_seconds_median'],3), 'compute', [round(x,3) for x in d['compute_seconds_per_rank']], 'allreduce%', round(d['allreduce_share']*100,1), 'communication%', round(d['communication_share']*100,3), 'imbalance%', round(d['imbalance_share']*100,1))"; }
for _ in $(seq 1 "$N"); do
  date +%T
  "$B" bench --arch resnet110 --batch-size 128 --threads 1 --steps 6 --json | show 1-rank
  mpirun -np 2 --oversubscribe "$B" bench --arch resnet110 --batch-size 128 --threads 1 --steps 6 --json | show 2-ranks
done
