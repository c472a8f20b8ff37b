#!/usr/bin/env bash
# Gradient bucket size (--bucket-mb) against step speed, 2 ranks bound to cores (launch/local.sh),
# global batch 128, sizes interleaved round by round (the machine is noisy): median images/s and
# the median share of the step spent waiting for the all-reduce.
# usage: bench/bucket-sizes.sh BINARY [archs="resnet20 resnet110"] [sizes="0.25 1 4 64"] [rounds=5] [ranks=2]
set -euo pipefail
[ $# -ge 1 ] || { grep -m1 '^# usage:' "$0" | sed 's/^# //' >&2; exit 64; }
BIN=$1; ARCHS=${2:-"resnet20 resnet110"}; SIZES=${3:-"0.25 1 4 64"}; ROUNDS=${4:-5}; RANKS=${5:-2}
here=$(cd "$(dirname "$0")" && pwd)
for arch in $ARCHS; do
  for _ in $(seq 1 "$ROUNDS"); do
    for mb in $SIZES; do
      RESNET_DIST=$BIN "$here/../launch/local.sh" "$RANKS" bench --arch "$arch" --batch-size 128 --threads 1 --steps 8 \
        --bucket-mb "$mb" --json | python3 -c "
import json,sys; d=json.loads([l for l in sys.stdin if l.startswith('{')][-1]); print('$mb', d['images_per_s'], d['allreduce_share'])"
    done
  done | python3 -c "
import sys, statistics as st, collections
rows = collections.defaultdict(list)
for l in sys.stdin:
    mb, rate, share = l.split(); rows[mb].append((float(rate), float(share)))
for mb, r in rows.items():
    print('%-9s --bucket-mb %-5s median %7.1f images/s  all-reduce wait %.1f%% of the step  (runs: %s)' % ('$arch', mb,
        st.median(x[0] for x in r), 100 * st.median(x[1] for x in r), ' '.join('%.0f' % x[0] for x in r)))"
done
