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
#
# TIME_SCALE=K (default 1) dilates time (`scaling replay --time-scale K`): the links are shaped to
# 1/K of RATE and every recorded moment is replayed K times later, so the machine's own work per
# byte and per message, which dozens of ranks share on two cores here, weighs K times less. The
# token buckets' queues wait K times as long (the same bytes), and the
# namespaces' per-message latency shrinks by K with it: the model is then given LATENCY_US / K
# (LATENCY_US: the per-message latency the undilated comparison assumes, default the model's 50).
# POLL_US (default 100): wall microseconds between a waiting rank's polls (`scaling replay --poll-us`).
# CONGESTION_CONTROL: TCP congestion control in the namespaces; default reno when TIME_SCALE > 1
# (BBR runs on wall-clock timers that dilation does not stretch: docs/RESULTS.md), else the machine's.
set -euo pipefail
dir=${1:?trace directory}; nets=${2:-"resnet20 resnet110"}; rates=${3:-"100mbit 1gbit"}; counts=${4:-"2 4 8 16 32"}
steps=${5:-5}
k=${TIME_SCALE:-1}; latency=${LATENCY_US:-50}; poll=${POLL_US:-100}
congestion=${CONGESTION_CONTROL-$([ "${TIME_SCALE:-1}" != 1 ] && echo reno || true)}
case $k in ''|*[!0-9]*|0) echo "error: TIME_SCALE must be a whole number >= 1, got '$k'" >&2; exit 64 ;; esac
log=$(mktemp)
here=$(cd "$(dirname "$0")/.." && pwd)
exe=${RESNET_DIST:-$here/.build/release/resnet-dist}
field() { python3 -c "import json,sys; print(json.loads([l for l in sys.stdin.read().splitlines() if l.startswith('{')][-1])['$1'])"; }
echo "| network | link | ranks (hosts x per host) | images a rank | emulated step, s | predicted, s | predicted / emulated |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for net in $nets; do
  short=${net/resnet/r}
  for rate in $rates; do
    case $rate in *gbit) mbit=$(( ${rate%gbit} * 1000 )) ;; *mbit) mbit=${rate%mbit} ;; esac
    gbit=$(python3 -c "print($mbit / 1000)")
    (( mbit % k == 0 )) || { echo "error: $rate is not a whole number of mbit at TIME_SCALE=$k" >&2; exit 64; }
    shaped=$(( mbit / k ))mbit
    for n in $counts; do
      hosts=$n; per=1; b=$(( 128 / n ))
      trace=$dir/$short-b$b.json
      [ -f "$trace" ] || { echo "missing $trace" >&2; exit 1; }
      emulated=$(RESNET_DIST=$exe "$here/launch/netns-hosts.sh" --hosts $hosts --ranks-per-host $per --rate $shaped --queue-ms $(( 100 * k )) \
        ${congestion:+--congestion-control $congestion} -- \
        scaling replay --trace "$trace" --steps $steps --time-scale $k --poll-us $poll --json 2>"$log" | field step_seconds_median)
      predicted=$("$exe" scaling predict --trace "$trace" --ranks $n --ranks-per-host $per --gbit $gbit \
        --latency-us $(python3 -c "print($latency / $k)") --json | field step_seconds)
      python3 -c "print('| $net | $rate | $n ($hosts x $per) | $b | %.4f | %.4f | %.3f |' % ($emulated, $predicted, $predicted / $emulated))"
    done
  done
done
