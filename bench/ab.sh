#!/usr/bin/env bash
# Alternating A/B throughput pairs of two resnet-dist binaries (the machine is noisy: compare pairs).
# usage: [RANKS=N] [BATCH=B] bench/ab.sh BINARY_A BINARY_B [arch=resnet20] [steps=10] [pairs=8] [threads=1]
# With RANKS > 1 each run is N ranks through launch/local.sh (bound to cores), global batch BATCH (128).
set -euo pipefail
[ $# -ge 2 ] || { grep -m1 '^# usage:' "$0" | sed 's/^# //' >&2; exit 64; }
export OPENBLAS_NUM_THREADS=1
A=$1; B=$2; ARCH=${3:-resnet20}; STEPS=${4:-10}; N=${5:-8}; T=${6:-1}
RANKS=${RANKS:-1}; BATCH=${BATCH:-128}
here=$(cd "$(dirname "$0")" && pwd)
rate() {
  local args=(bench --arch "$ARCH" --batch-size "$BATCH" --threads "$T" --steps "$STEPS" --json)
  if [ "$RANKS" -gt 1 ]; then RESNET_DIST=$1 "$here/../launch/local.sh" "$RANKS" "${args[@]}"; else "$1" "${args[@]}"; fi |
    python3 -c "import json,sys; print(json.loads([l for l in sys.stdin if l.startswith('{')][-1])['images_per_s'])"; }
for _ in $(seq 1 "$N"); do echo "$(rate "$A") $(rate "$B")"; done | python3 -c "
import sys, statistics as st
rows = [tuple(map(float, l.split())) for l in sys.stdin]
for a, b in rows: print('%7.1f %7.1f  %.3f' % (a, b, b / a))
print('median A %.1f  B %.1f  median ratio B/A %.3f  (B faster in %d of %d)' % (
    st.median(r[0] for r in rows), st.median(r[1] for r in rows), st.median(r[1] / r[0] for r in rows),
    sum(r[1] > r[0] for r in rows), len(rows)))"
