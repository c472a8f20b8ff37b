#!/usr/bin/env bash
# A two-node Slurm cluster on this one machine: a slurmd per network namespace ("node0", "node1"),
# each with its own address, hostname and /etc/hosts, so Slurm and MPI see two hosts joined by a
# network, as on a cluster (Debian's Slurm is not built with --enable-multiple-slurmd).
#
#   launch/slurm-two-nodes.sh start DIR [--rate RATE]   # both nodes idle; RATE shapes each link (tc tbf)
#   launch/slurm-two-nodes.sh run DIR COMMAND...         # a client command (sbatch, srun, sinfo) on node0
#   launch/slurm-two-nodes.sh stop DIR
#
# Namespaces rd-slurm-0/1 hold the nodes (10.233.0.1 and .2, joined by a bridge in rd-slurm-sw);
# slurmctld runs beside node0's slurmd. Every daemon and client runs in a private UTS and mount
# namespace where the hostname is the node's name, DIR/hosts is /etc/hosts and DIR/tmp-NODE is
# /tmp, so Slurm's and OpenMPI's idea of "this host" match the node (DIR must not be under /tmp;
# a job's files go outside /tmp too). Config as slurm-one-machine.sh (auth/none, root,
# task/none), each node CPUs=1. Needs root, iproute2, unshare and Debian's slurmctld, slurmd and
# slurm-client (22.05; its mpi_pmix_v4 plugin makes `srun --mpi=pmix` wire OpenMPI across nodes).
set -euo pipefail
usage="usage: $0 start DIR [--rate RATE] | run DIR COMMAND... | stop DIR"
action=${1:?$usage}
dir=${2:?$usage}
shift 2
nodes=2

# Runs COMMAND as node N: its network namespace, its hostname, DIR/hosts as /etc/hosts and
# DIR/tmp-nodeN as /tmp (node-local, as on a cluster: the PMIx plugin and OpenMPI keep per-node
# directories of fixed names there).
as_node() {  # N COMMAND...
  local n=$1
  shift
  # nsenter, not `ip netns exec`: that mounts a fresh /sys, without the cgroups slurmd needs.
  nsenter --net=/run/netns/rd-slurm-$n unshare --uts --mount /bin/sh -c \
    'mount --bind "$0/hosts" /etc/hosts && mount --bind "$0/tmp-$1" /tmp && hostname "$1" && shift && exec "$@"' \
    "$dir" node$n "$@"
}

case $action in
start)
  rate=""
  if [ "${1:-}" = --rate ]; then rate=${2:?--rate needs a value like 1gbit}; shift 2; fi
  [ $# -eq 0 ] || { echo "$usage" >&2; exit 64; }
  for tool in slurmctld slurmd sinfo unshare; do
    command -v $tool >/dev/null || { echo "$0: $tool not found: apt-get install slurmctld slurmd slurm-client" >&2; exit 69; }
  done
  mkdir -p "$dir/state"
  dir=$(cd "$dir" && pwd)
  case $dir/ in /tmp/*) echo "$0: DIR must not be under /tmp, which is node-local here: got $dir" >&2; exit 64 ;; esac
  for n in $(seq 0 $((nodes - 1))); do ip netns del rd-slurm-$n 2>/dev/null || true; done
  ip netns del rd-slurm-sw 2>/dev/null || true
  ip netns add rd-slurm-sw
  ip -n rd-slurm-sw link add rd-sbr type bridge
  ip -n rd-slurm-sw link set rd-sbr up
  {
    echo "127.0.0.1 localhost"
    for n in $(seq 0 $((nodes - 1))); do echo "10.233.0.$((n + 1)) node$n"; done
  } > "$dir/hosts"
  for n in $(seq 0 $((nodes - 1))); do
    ip netns add rd-slurm-$n
    ip link add rd-sn$n netns rd-slurm-$n type veth peer name rd-ss$n netns rd-slurm-sw
    ip -n rd-slurm-$n addr add 10.233.0.$((n + 1))/24 dev rd-sn$n
    ip -n rd-slurm-$n link set lo up
    ip -n rd-slurm-$n link set rd-sn$n up
    ip -n rd-slurm-sw link set rd-ss$n master rd-sbr
    ip -n rd-slurm-sw link set rd-ss$n up
    if [ -n "$rate" ]; then
      ip netns exec rd-slurm-$n tc qdisc add dev rd-sn$n root tbf rate "$rate" burst 256kb latency 100ms
      ip netns exec rd-slurm-sw tc qdisc add dev rd-ss$n root tbf rate "$rate" burst 256kb latency 100ms
    fi
    mkdir -p "$dir/spool-node$n" "$dir/tmp-node$n"
    chmod 1777 "$dir/tmp-node$n"
  done
  cat > "$dir/slurm.conf" <<CONF
ClusterName=resnetdist2
SlurmctldHost=node0(10.233.0.1)
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
JobRequeue=1
ReturnToService=2
MpiDefault=none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool-%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd-%n.log
NodeName=node0 NodeAddr=10.233.0.1 CPUs=1 RealMemory=4000 State=UNKNOWN
NodeName=node1 NodeAddr=10.233.0.2 CPUs=1 RealMemory=4000 State=UNKNOWN
PartitionName=two Nodes=node0,node1 Default=YES MaxTime=INFINITE State=UP
CONF
  as_node 0 slurmctld -f "$dir/slurm.conf" -i
  for n in $(seq 0 $((nodes - 1))); do as_node $n slurmd -f "$dir/slurm.conf" -N node$n; done
  for _ in $(seq 60); do
    idle=$(as_node 0 env SLURM_CONF="$dir/slurm.conf" sinfo -h -N -o %t 2>/dev/null | grep -c '^idle' || true)
    if [ "$idle" = $nodes ]; then echo "slurm: $nodes nodes idle ($0 run $dir COMMAND...)"; exit 0; fi
    sleep 1
  done
  echo "$0: the nodes did not become idle in 60 s; see $dir/slurmctld.log and $dir/slurmd-node*.log" >&2
  exit 1
  ;;
run)
  [ $# -gt 0 ] || { echo "$usage" >&2; exit 64; }
  dir=$(cd "$dir" && pwd)
  as_node 0 env SLURM_CONF="$dir/slurm.conf" "$@"
  ;;
stop)
  for pid in "$dir"/slurmd-node*.pid "$dir"/slurmctld.pid; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
  done
  sleep 1
  for n in $(seq 0 $((nodes - 1))); do ip netns del rd-slurm-$n 2>/dev/null || true; done
  ip netns del rd-slurm-sw 2>/dev/null || true
  ;;
*) echo "$usage" >&2; exit 64 ;;
esac
