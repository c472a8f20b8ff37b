#!/usr/bin/env bash
# Usage: launch/local.sh [--oversubscribe] N [resnet-dist arguments...]
# Runs `resnet-dist` as N MPI ranks on this machine (a stop signal becomes a checkpoint, below), e.g.
#   launch/local.sh 2 train --arch resnet20 --data .data/cifar10 --epochs 1 --output runs/r20-np2
# Each rank is bound to its own cores (--bind-to core; with `--threads T` in the arguments, T
# cores each), so ranks never share a core or wander between them. N x T must not exceed the
# cores this process may use, unless --oversubscribe is given: then ranks are not bound and may
# share cores (slower: for tests and trying things out). One BLAS thread per rank (a spinning BLAS
# pool slows many-fold on shared cores). The binary is $RESNET_DIST or .build/release/resnet-dist;
# $MPIRUN_ARGS is passed on to mpirun.
set -euo pipefail
oversubscribe=""
if [ "${1:-}" = "--oversubscribe" ]; then oversubscribe=1; shift; fi
if [ $# -lt 1 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [--oversubscribe] N [resnet-dist arguments...]  (N: ranks, a number >= 1)" >&2; exit 64
fi
ranks=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
exe=${RESNET_DIST:-$here/../.build/release/resnet-dist}
if [ ! -x "$exe" ]; then echo "error: $exe not found: build with 'swift build -c release' or set RESNET_DIST" >&2; exit 1; fi
threads=$("$here/threads-of.sh" "$@")
cores=$(nproc)
if [ -n "$oversubscribe" ]; then
  placement=(--oversubscribe --bind-to none)
elif [ $((ranks * threads)) -le "$cores" ]; then
  placement=(--map-by "slot:PE=$threads" --bind-to core)
else
  echo "error: $ranks rank(s) x $threads thread(s) need $((ranks * threads)) cores, and this machine gives $cores: use fewer ranks or --threads, or pass --oversubscribe to share cores" >&2
  exit 64
fi
# mpirun refuses to run as root unless told; this machine runs everything as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# A stop (SIGTERM, SIGINT, SIGUSR1) reaches the ranks as a checkpoint: see mpirun-stoppable.sh.
exec "$here/mpirun-stoppable.sh" -np "$ranks" "${placement[@]}" ${MPIRUN_ARGS:-} -x OPENBLAS_NUM_THREADS "$exe" "$@"
