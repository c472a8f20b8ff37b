#!/usr/bin/env bash
# The scaling model and its emulation against the real 2-rank run on a shaped link, measured back to
# back so the host is the same for all three (issue 21). For each network: two `scaling record`
# traces at once, one per core (a rank of a real run computes while the other core computes too),
# then for each link rate the real run (`bench` on 2 ranks in 2 network namespaces,
# launch/netns-hosts.sh), the replay of the first trace on the same 2 namespaces, and the model's
# prediction from it. Prints one Markdown row per point; needs root and 2 cores.
#
#   bench/scaling-real.sh "resnet20 resnet110" "100mbit 1gbit" [STEPS]
#
# BURST_MS=MS passes --burst-ms to launch/netns-hosts.sh (the token bucket's size in ms at the rate).
set -euo pipefail
nets=${1:-"resnet20 resnet110"}; rates=${2:-"100mbit 1gbit"}; steps=${3:-8}
here=$(cd "$(dirname "$0")/.." && pwd)
exe=${RESNET_DIST:-$here/.build/release/resnet-dist}
traces=$(mktemp -d); trap 'rm -rf "$traces"' EXIT
field() { python3 -c "import json,sys; print(json.loads([l for l in sys.stdin.read().splitlines() if l.startswith('{')][-1])['$1'])"; }
compute_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['computeSeconds'])" "$1"; }
echo "| network | link | trace compute, s (two recorders) | real step, s | emulated, s (/ real) | predicted, s (/ real) |"
echo "| --- | --- | --- | --- | --- | --- |"
for net in $nets; do
  trace=$traces/${net/resnet/r}-b64.json
  taskset -c 0 "$exe" scaling record --arch "$net" --images-per-rank 64 --steps 10 --output "$trace" > /dev/null 2>&1 &
  taskset -c 1 "$exe" scaling record --arch "$net" --images-per-rank 64 --steps 10 --output "$traces/second.json" \
    > /dev/null 2>&1
  wait
  compute=$(compute_of "$trace"); second=$(compute_of "$traces/second.json")
  for rate in $rates; do
    case $rate in *gbit) gbit=${rate%gbit} ;; *mbit) gbit=$(python3 -c "print(${rate%mbit} / 1000)") ;; esac
    real=$(RESNET_DIST=$exe "$here/launch/netns-hosts.sh" --hosts 2 --rate "$rate" --burst-ms "${BURST_MS:-2}" -- \
      bench --arch "$net" --batch-size 128 --threads 1 --steps "$steps" --json 2>/dev/null | field step_seconds_median)
    emulated=$(RESNET_DIST=$exe "$here/launch/netns-hosts.sh" --hosts 2 --rate "$rate" --burst-ms "${BURST_MS:-2}" -- \
      scaling replay --trace "$trace" --steps "$steps" --json 2>/dev/null | field step_seconds_median)
    predicted=$("$exe" scaling predict --trace "$trace" --ranks 2 --ranks-per-host 1 --gbit "$gbit" --json \
      | field step_seconds)
    python3 -c "print('| $net | $rate | %.4f / %.4f | %.4f | %.4f (%.3f) | %.4f (%.3f) |' % ($compute, $second, $real, $emulated, $emulated / $real, $predicted, $predicted / $real))"
  done
done
