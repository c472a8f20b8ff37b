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
# A stop (SIGTERM, SIGINT, SIGUSR1) reaches the ranks as SIGUSR1, which mpirun forwards and
# does not act on: every rank finishes its step (or evaluation), rank 0 writes a checkpoint, and
# the job exits 75. mpirun's own SIGTERM/SIGINT handling would SIGKILL the ranks one second later,
# before a long step or an evaluation ends. A second Ctrl-C ends the job at once.
mpirun -np "$ranks" "${placement[@]}" ${MPIRUN_ARGS:-} -x OPENBLAS_NUM_THREADS "$exe" "$@" &
job=$!
stops=0
stop() {
  stops=$((stops + 1))
  if [ $stops -eq 1 ]; then kill -USR1 "$job" 2>/dev/null; else kill -TERM "$job" 2>/dev/null; fi
}
trap stop TERM INT USR1
status=0
wait "$job" || status=$?
# A trapped signal interrupts `wait`: wait again for mpirun's own status.
while kill -0 "$job" 2>/dev/null; do status=0; wait "$job" || status=$?; done
exit $status
