#!/usr/bin/env bash
# The thread pool's spin (RESNET_DIST_SPIN_US) A/B at 2 threads, in alternating pairs.
# usage: bench/spin-ab.sh BINARY ARCH BATCH [spinA=0] [spinB=100] [steps=20] [pairs=8]
set -euo pipefail
[ $# -ge 3 ] || { grep -m1 '^# usage:' "$0" | sed 's/^# //' >&2; exit 64; }
export OPENBLAS_NUM_THREADS=1
BIN=$1; ARCH=$2; BATCH=$3; A=${4:-0}; B=${5:-100}; STEPS=${6:-20}; N=${7:-8}
rate() { RESNET_DIST_SPIN_US=$1 "$BIN" bench --arch "$ARCH" --batch-size "$BATCH" --threads 2 --steps "$STEPS" --json |
         python3 -c "import json,sys; print(json.load(sys.stdin)['images_per_s'])"; }
for _ in $(seq 1 "$N"); do echo "$(rate "$A") $(rate "$B")"; done | python3 -c "
import sys, statistics as st
rows = [tuple(map(float, l.split())) for l in sys.stdin]
print('%-9s batch %3d  spin %s us %7.1f  spin %s us %7.1f  median ratio %.3f  (pairs: %s)' % ('$ARCH', $BATCH, '$A',
    st.median(r[0] for r in rows), '$B', st.median(r[1] for r in rows), st.median(r[1] / r[0] for r in rows),
    ' '.join('%.2f' % (r[1] / r[0]) for r in rows)))"
