#!/usr/bin/env bash
# 2 threads against 1 at small per-rank batches, in alternating pairs (the machine is noisy).
# usage: bench/threads-ratio.sh BINARY [archs="resnet20 resnet110"] [batches="1 2 4 8 64"] [steps=10] [pairs=5]
# One rank; the batch is the per-rank batch. Prints one line per (arch, batch): the median images/s
# at 1 and 2 threads and the median of the pairs' ratios.
set -euo pipefail
[ $# -ge 1 ] || { grep -m1 '^# usage:' "$0" | sed 's/^# //' >&2; exit 64; }
export OPENBLAS_NUM_THREADS=1
BIN=$1; ARCHS=${2:-"resnet20 resnet110"}; BATCHES=${3:-"1 2 4 8 64"}; STEPS=${4:-10}; N=${5:-5}
rate() { "$BIN" bench --arch "$1" --batch-size "$2" --threads "$3" --steps "$STEPS" --json |
         python3 -c "import json,sys; print(json.load(sys.stdin)['images_per_s'])"; }
for arch in $ARCHS; do
  for batch in $BATCHES; do
    for _ in $(seq 1 "$N"); do echo "$(rate "$arch" "$batch" 1) $(rate "$arch" "$batch" 2)"; done | python3 -c "
import sys, statistics as st
rows = [tuple(map(float, l.split())) for l in sys.stdin]
print('%-9s batch %3d  1 thread %7.1f  2 threads %7.1f  median ratio %.3f  (pairs: %s)' % ('$arch', $batch,
    st.median(r[0] for r in rows), st.median(r[1] for r in rows), st.median(r[1] / r[0] for r in rows),
    ' '.join('%.2f' % (r[1] / r[0]) for r in rows)))"
  done
done
