#!/usr/bin/env bash
# The scaling model against its emulation (issue 21): for each network, link rate and rank count,
# `resnet-dist scaling replay` on ranks spread over network namespaces (launch/netns-hosts.sh)
# against `resnet-dist scaling predict` for the same trace, plan and layout.
#
#   bench/scaling-emulation.sh TRACE_DIR "resnet20 resnet110" "100mbit 1gbit" "2 4 8 16 32" [STEPS]
#
# TRACE_DIR holds `scaling record` traces named NET-bB.json (B = 128 / ranks images a rank, the
# paper's global batch). One rank a host (several ranks in namespaces that share a hostname and /dev/shm
# crash OpenMPI's shared-memory transport). Needs root; prints
# one Markdown row per point: emulated and predicted step, their ratio.
set -euo pipefail
dir=${1:?trace directory}; nets=${2:-"resnet20 resnet110"}; rates=${3:-"100mbit 1gbit"}; counts=${4:-"2 4 8 16 32"}
steps=${5:-5}
log=$(mktemp)
here=$(cd "$(dirname "$0")/.." && pwd)
exe=${RESNET_DIST:-$here/.build/release/resnet-dist}
field() { python3 -c "import json,sys; print(json.loads([l for l in sys.stdin.read().splitlines() if l.startswith('{')][-1])['$1'])"; }
echo "| network | link | ranks (hosts x per host) | images a rank | emulated step, s | predicted, s | predicted / emulated |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for net in $nets; do
  short=${net/resnet/r}
  for rate in $rates; do
    case $rate in *gbit) gbit=${rate%gbit} ;; *mbit) gbit=$(python3 -c "print(${rate%mbit} / 1000)") ;; esac
    for n in $counts; do
      hosts=$n; per=1; b=$(( 128 / n ))
      trace=$dir/$short-b$b.json
      [ -f "$trace" ] || { echo "missing $trace" >&2; exit 1; }
      emulated=$(RESNET_DIST=$exe "$here/launch/netns-hosts.sh" --hosts $hosts --ranks-per-host $per --rate $rate -- \
        scaling replay --trace "$trace" --steps $steps --json 2>"$log" | field step_seconds_median)
      predicted=$("$exe" scaling predict --trace "$trace" --ranks $n --ranks-per-host $per --gbit $gbit --json | field step_seconds)
      python3 -c "print('| $net | $rate | $n ($hosts x $per) | $b | %.4f | %.4f | %.3f |' % ($emulated, $predicted, $predicted / $emulated))"
    done
  done
done
