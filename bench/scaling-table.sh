#!/usr/bin/env bash
# Predicted wall time of the paper's CIFAR recipe (64,000 iterations at batch 128) on 1 to 256
# nodes of 32 cores, from `resnet-dist scaling predict` (issue 21). Assumptions, stated in RESULTS:
# one 1-thread rank per core, at most 128 ranks (one image each: the batch caps the ranks), spread
# evenly over the nodes used (at most 128); every core as fast as the one the traces were recorded
# on; network latency LATENCY_US (default 10) per message; shared memory 40 Gbit/s and 2 us.
#
#   bench/scaling-table.sh TRACE_DIR "resnet110 resnet1202" "10 25 100" [ALGORITHM]
#
# TRACE_DIR holds `scaling record` traces NET-bB.json for B = 4, 2, 1 images a rank.
set -euo pipefail
dir=${1:?trace directory}; nets=${2:-"resnet110 resnet1202"}; links=${3:-"10 25 100"}; algorithm=${4:-}
exe=${RESNET_DIST:-$(cd "$(dirname "$0")/.." && pwd)/.build/release/resnet-dist}
nodes_list="1 2 4 8 16 32 64 128 256"
printf "| network | link |"; for n in $nodes_list; do printf " %s |" "$n"; done; echo
printf "| --- | --- |"; for n in $nodes_list; do printf " --- |"; done; echo
for net in $nets; do
  for gbit in $links; do
    printf "| %s | %s Gbit/s |" "$net" "$gbit"
    for nodes in $nodes_list; do
      ranks=$(( 32 * nodes < 128 ? 32 * nodes : 128 ))
      used=$(( nodes < ranks ? nodes : ranks ))
      per=$(( ranks / used )); b=$(( 128 / ranks ))
      seconds=$("$exe" scaling predict --trace "$dir/${net/resnet/r}-b$b.json" --ranks $ranks --ranks-per-host $per \
        --gbit "$gbit" --latency-us "${LATENCY_US:-10}" ${algorithm:+--algorithm $algorithm} --json \
        | python3 -c "import json,sys; print(json.load(sys.stdin)['step_seconds'])")
      python3 -c "print(' %.1f h |' % ($seconds * 64000 / 3600), end='')"
    done
    echo
  done
done
