#!/usr/bin/env bash
# Checks launch/slurm.sbatch against a real Slurm on this machine (issue 21): a job whose time
# limit is too short is signalled, writes its checkpoint, requeues itself, resumes, and finishes
# with the same final checkpoint bytes as the same job run without interruption.
#
#   launch/slurm-requeue-check.sh [BINARY]     (default .build/release/resnet-dist; about 4 minutes)
#
# Starts Slurm with launch/slurm-one-machine.sh in a temporary directory and stops it at the end.
# Both jobs: 2 tasks x 1 CPU on one node, ResNet-8 on generated data. The cut job has --time=1
# --signal=USR1@45, so Slurm signals it about 20 s in; after the requeue Slurm holds it about 2
# minutes before it runs again. Exit 0 when every check holds, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
exe=$(realpath "${1:-.build/release/resnet-dist}")
work=$(mktemp -d /tmp/slurm-requeue.XXXXXX)
launch/slurm-one-machine.sh start "$work/slurm" || exit 1
trap 'launch/slurm-one-machine.sh stop "$work/slurm"' EXIT
export SLURM_CONF=$work/slurm/slurm.conf
args=(--arch resnet8 --data generated --iterations "${ITERATIONS:-240}" --checkpoint-every 40 --seed 3 --log-every 20)
submit() {  # NAME TIME [extra sbatch flags]
  local name=$1 time=$2
  shift 2
  sbatch --parsable --job-name "$name" --nodes=1 --ntasks=2 --ntasks-per-node=2 --cpus-per-task=1 --time="$time" "$@" \
    --output "$work/$name.log" --export=ALL,OUTPUT="$work/$name",RESNET_DIST="$exe" \
    launch/slurm.sbatch "${args[@]}"
}
wait_for() {  # JOBID: until it leaves the queue for good
  while true; do
    state=$(scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
    case $state in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | "") echo "${state:-gone}"; return ;; esac
    sleep 5
  done
}
start=$(date +%s)
whole=$(submit whole 10) || exit 1
echo "job $whole (whole run, --time=10): $(wait_for "$whole") after $(($(date +%s) - start)) s"
start=$(date +%s)
cut=$(submit cut 1 --signal=USR1@45) || exit 1
echo "job $cut (cut run, --time=1 --signal=USR1@45): $(wait_for "$cut") after $(($(date +%s) - start)) s"
restarts=$(scontrol show job "$cut" 2>/dev/null | grep -o 'Restarts=[0-9]*' | cut -d= -f2)

failures=0
check() {  # DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failures=$((failures + 1)); fi
}
final() { ls "$work/$1"/checkpoint-*.safetensors 2>/dev/null | sort | tail -1; }
echo "--- the cut job's log ($work/cut.log), trimmed:"
grep -E "requeueing|stop|checkpoint|resum|training resnet8|done" "$work/cut.log" | cut -c1-200
echo "---"
check "the cut job was requeued at least once (Restarts=${restarts:-?})" test "${restarts:-0}" -ge 1
check "the cut job stopped with a checkpoint and said it requeues" grep -q "requeueing" "$work/cut.log"
check "the cut job resumed from its checkpoint" grep -q "resum" "$work/cut.log"
check "each task took SLURM_CPUS_PER_TASK=1 thread" grep -q "x 1 thread (default: SLURM_CPUS_PER_TASK=1" "$work/whole.log"
check "both runs reached the same final iteration ($(basename "$(final whole)"), $(basename "$(final cut)"))" \
  test -n "$(final whole)" -a "$(basename "$(final whole)")" = "$(basename "$(final cut)")"
check "the final checkpoints are byte-identical" cmp "$(final whole)" "$(final cut)"
echo "records in $work"
exit $((failures > 0))
