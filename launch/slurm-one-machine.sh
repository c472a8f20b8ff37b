#!/usr/bin/env bash
# A real Slurm on this one machine (Debian's slurmctld and slurmd, auth/none, everything as root),
# to try launch/slurm.sbatch for real rather than against stand-ins:
#
#   launch/slurm-one-machine.sh start DIR    # DIR/slurm.conf, slurmctld and slurmd started, node idle
#   SLURM_CONF=DIR/slurm.conf sbatch ...     # clients need the config
#   launch/slurm-one-machine.sh stop DIR
#
# Needs `apt-get install slurmctld slurmd slurm-client` (Slurm 22.05 on bookworm). The node is
# this machine as `slurmd -C` describes it. TaskPlugin=task/none: Slurm does not bind tasks to cores
# (every task sees all of them; resnet-dist then takes SLURM_CPUS_PER_TASK threads). A requeued job
# becomes eligible again about 2 minutes later (Slurm's BeginTime after a requeue).
set -euo pipefail
action=${1:?usage: $0 start|stop DIR}
dir=${2:?usage: $0 start|stop DIR}
case $action in
start)
  for tool in slurmctld slurmd sinfo; do
    command -v $tool >/dev/null || { echo "$0: $tool not found: apt-get install slurmctld slurmd slurm-client" >&2; exit 69; }
  done
  mkdir -p "$dir/state" "$dir/spool"
  dir=$(cd "$dir" && pwd)
  host=$(hostname -s)
  node=$(slurmd -C | head -1)
  cat > "$dir/slurm.conf" <<CONF
ClusterName=resnetdist
SlurmctldHost=$host
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobRequeue=1
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
$node
PartitionName=one Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  slurmctld -f "$dir/slurm.conf" -i
  slurmd -f "$dir/slurm.conf"
  export SLURM_CONF=$dir/slurm.conf
  for _ in $(seq 60); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -1)
    if [ "$state" = idle ]; then echo "slurm: node $host idle (SLURM_CONF=$dir/slurm.conf)"; exit 0; fi
    sleep 1
  done
  echo "$0: the node did not become idle in 60 s (state '${state:-none}'); see $dir/slurmctld.log and $dir/slurmd.log" >&2
  exit 1
  ;;
stop)
  for daemon in slurmd slurmctld; do
    if [ -f "$dir/$daemon.pid" ]; then kill "$(cat "$dir/$daemon.pid")" 2>/dev/null || true; fi
  done
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 64 ;;
esac
