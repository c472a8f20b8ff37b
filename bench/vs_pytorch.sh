#!/usr/bin/env bash
# Rounds of resnet-dist and PyTorch (NCHW and channels-last) side by side: ResNet-20 and -110,
# global batch 128: 1 process x 1 thread, 1 process x 2 threads, and 2 processes x 1 thread
# (resnet-dist: 2 MPI ranks through launch/local.sh; PyTorch: DistributedDataParallel over gloo).
# PYTHON must have torch (see bench/compare_pytorch.py). Each line: images/s of each, and the
# ratio of resnet-dist to PyTorch's faster layout.
# usage: PYTHON=/tmp/pt/bin/python bench/vs_pytorch.sh BINARY [rounds=3]
set -euo pipefail
[ $# -ge 1 ] || { grep -m1 '^# usage:' "$0" | sed 's/^# //' >&2; exit 64; }
export OPENBLAS_NUM_THREADS=1
cd "$(dirname "$0")/.."
B=$1; ROUNDS=${2:-3}; PY=${PYTHON:-python3}
# PyTorch's DDP over gloo aborts now and then (SIGABRT in a worker); such a run is retried once.
pytorch() { "$PY" bench/compare_pytorch.py "$@" || { echo "vs_pytorch: PyTorch failed; retrying once" >&2; "$PY" bench/compare_pytorch.py "$@"; }; }
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print('%.1f' % d['$1'])"; }
for round in $(seq 1 "$ROUNDS"); do
  for arch in resnet20 resnet110; do
    steps=10; [ $arch = resnet110 ] && steps=6
    for setup in 1x1 1x2 2x1; do
      procs=${setup%x*}; t=${setup#*x}
      if [ "$procs" = 1 ]; then
        json=$("$B" bench --arch $arch --batch-size 128 --threads $t --steps $steps --json)
      else
        json=$(RESNET_DIST=$B launch/local.sh "$procs" bench --arch $arch --batch-size 128 --threads $t --steps $steps --json 2>/dev/null)
      fi
      ours=$(field images_per_s <<< "$json"); eff=$(field effective_gflops <<< "$json"); peak=$(field sgemm_gflops <<< "$json")
      n=$(pytorch --arch $arch --threads $t --ddp "$procs" --steps $steps --json | field images_per_s)
      c=$(pytorch --arch $arch --threads $t --ddp "$procs" --steps $steps --json --channels-last | field images_per_s)
      ratio=$(python3 -c "print('%.2f' % ($ours / max($n, $c)))")
      echo "$(date +%T) round $round $arch ${procs}proc x ${t}T resnet-dist $ours (effective $eff GFLOP/s, sgemm $peak) pytorch-nchw $n pytorch-channels-last $c ratio $ratio"
    done
  done
done
