#!/usr/bin/env bash
# Usage: launch/local.sh N [resnet-dist arguments...]
# Runs `resnet-dist` as N MPI ranks on this machine, e.g.
#   launch/local.sh 2 train --arch resnet20 --data .data/cifar10 --epochs 1 --output runs/r20-np2
# One BLAS thread per rank (a spinning BLAS pool slows many-fold on shared cores); more ranks than
# cores are allowed (--oversubscribe). The binary is $RESNET_DIST or .build/release/resnet-dist.
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 N [resnet-dist arguments...]" >&2; exit 2; fi
ranks=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
exe=${RESNET_DIST:-$here/../.build/release/resnet-dist}
if [ ! -x "$exe" ]; then echo "error: $exe not found: build with 'swift build -c release' or set RESNET_DIST" >&2; exit 1; fi
# mpirun refuses to run as root unless told; this machine runs everything as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
exec mpirun -np "$ranks" --oversubscribe ${MPIRUN_ARGS:-} -x OPENBLAS_NUM_THREADS "$exe" "$@"
