#!/usr/bin/env bash
# Usage: bench/netns-rates.sh [ROUNDS] [RATES...]
# Two ranks (1 thread each) in two network namespaces over TCP (launch/two-hosts-netns.sh), the link
# unshaped and shaped to each RATE (default: 10gbit 1gbit 100mbit): `bench` of ResNet-20 and
# ResNet-110 at global batch 128 (64 per rank); prints one line per run: network, rate, images/s (median
# step), the all-reduce's share of the step. Rounds alternate the rates, ROUNDS times (default 2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=${1:-2}; shift || true
rates=("${@:-}")
[ -n "${rates[0]}" ] || rates=(10gbit 1gbit 100mbit)
for round in $(seq 1 "$rounds"); do
  for arch in resnet20 resnet110; do
    for rate in none "${rates[@]}"; do
      shaping=(); [ "$rate" = none ] || shaping=(--rate "$rate")
      json=$("$here/../launch/two-hosts-netns.sh" "${shaping[@]}" --command bench --arch "$arch" --batch-size 128 \
        --steps 8 --json 2>/dev/null | grep '^{' | tail -1)
      python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("round %s  %-9s  %-8s  %7.1f images/s  all-reduce %4.1f%% of the step" % (sys.argv[2], sys.argv[3], sys.argv[4], r["images_per_s"], 100*r["allreduce_share"]))' "$json" "$round" "$arch" "$rate"
    done
  done
done
