#!/usr/bin/env bash
# Checks the multi-node path for real (issue 21): launch/slurm.sbatch on two Slurm nodes, each in
# its own network namespace (launch/slurm-two-nodes.sh), one task per node wired by
# `srun --mpi=pmix`, MPI kept off shared memory (OMPI_MCA_btl=^vader: TCP between the "nodes", as
# between real ones), must finish with the same final checkpoint bytes as the same run on 2 local
# ranks, and its gradients must have crossed node0's link.
#
#   launch/slurm-two-nodes-check.sh [BINARY] [--rate RATE]   (default .build/release/resnet-dist; ~1 minute)
#
# ResNet-8 on generated data, 60 iterations. With --rate (e.g. 100mbit) the links are shaped
# (tc tbf), and the job's images/s show what the link costs. Exit 0 when every check holds.
set -uo pipefail
cd "$(dirname "$0")/.."
binary=.build/release/resnet-dist
rate=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=(--rate "${2:?--rate needs a value like 100mbit}"); shift 2 ;;
    -*) echo "usage: $0 [BINARY] [--rate RATE]" >&2; exit 64 ;;
    *) binary=$1; shift ;;
  esac
done
exe=$(realpath "$binary")
[ -x "$exe" ] || { echo "$0: $binary not found (swift build -c release)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/slurm-two-nodes.XXXXXX)
launch/slurm-two-nodes.sh start "$work/slurm" "${rate[@]}" || exit 1
trap 'launch/slurm-two-nodes.sh stop "$work/slurm"' EXIT
args=(--arch resnet8 --data generated --iterations 60 --checkpoint-every 20 --seed 3 --log-every 20)
job=$(launch/slurm-two-nodes.sh run "$work/slurm" sbatch --parsable --job-name two-nodes --nodes=2 \
  --ntasks-per-node=1 --cpus-per-task=1 --time=10 --output "$work/two-nodes.log" \
  --export=ALL,OUTPUT="$work/two-nodes",RESNET_DIST="$exe",OMPI_MCA_btl=^vader launch/slurm.sbatch "${args[@]}") || exit 1
start=$(date +%s)
while true; do
  info=$(launch/slurm-two-nodes.sh run "$work/slurm" scontrol show job "$job" 2>/dev/null)
  state=$(grep -o 'JobState=[A-Z_]*' <<<"$info" | cut -d= -f2)
  case $state in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | "") break ;; esac
  [ $(($(date +%s) - start)) -lt 600 ] || { echo "$0: job $job still $state after 600 s" >&2; break; }
  sleep 2
done
nodes=$(grep -o ' NodeList=[^ ]*' <<<"$info" | cut -d= -f2)
# Bytes node0 sent over its link. A ring all-reduce on 2 ranks sends each rank's whole gradient once
# a step: at least 60 x 75,290 float32 (ResNet-8's parameters) = 18.1 MB.
sent=$(ip -n rd-slurm-0 -s link show dev rd-sn0 | awk '/TX:/ { getline; print $1 }')
echo "job $job (2 nodes x 1 task, btl ^vader): ${state:-gone} after $(($(date +%s) - start)) s on $nodes"
RESNET_DIST="$exe" launch/local.sh 2 train "${args[@]}" --output "$work/local" > "$work/local.log" 2>&1
echo "--- the job's log ($work/two-nodes.log), trimmed:"
grep -E "training resnet8|step  *60|done" "$work/two-nodes.log" | cut -c1-200
echo "---"
failures=0
check() {  # DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failures=$((failures + 1)); fi
}
final() { ls "$1"/checkpoint-*.safetensors 2>/dev/null | sort | tail -1; }
check "the job completed (${state:-gone})" test "$state" = COMPLETED
check "it ran on both nodes (NodeList=$nodes)" test "$nodes" = "node[0-1]"
check "as one MPI world of 2 ranks" grep -q "on 2 ranks" "$work/two-nodes.log"
check "to the same final iteration as 2 local ranks ($(basename "$(final "$work/two-nodes")"))" \
  test -n "$(final "$work/two-nodes")" -a "$(basename "$(final "$work/two-nodes")")" = "$(basename "$(final "$work/local")")"
check "node0 sent the gradients over its link ($sent bytes, at least 18,067,200)" test "${sent:-0}" -ge 18067200
check "with a byte-identical final checkpoint" cmp "$(final "$work/two-nodes")" "$(final "$work/local")"
echo "records in $work"
exit $((failures > 0))
