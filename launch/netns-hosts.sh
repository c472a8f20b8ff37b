#!/usr/bin/env bash
# Usage: launch/netns-hosts.sh --hosts H [--ranks-per-host M] [--rate RATE [--queue-ms MS] [--burst-ms MS]]
#        [--congestion-control NAME] -- resnet-dist-arguments...
# H "hosts" on one machine: network namespaces rd-host-0..H-1, each joined to a switch (a bridge in
# namespace rd-switch) by a veth pair, addresses 10.232.0.1..H (used only inside these namespaces).
# mpirun starts M ranks on each (ranks 0..M-1 on the first: by slot), through a hostfile of the
# addresses and an rsh agent that enters a namespace instead of ssh. Between hosts MPI goes over
# TCP through the switch; inside a host over shared memory, as on a cluster.
#   --rate RATE  shapes every host's link both ways with a token bucket (tc tbf), e.g. 1gbit,
#                100mbit (no latency emulation: this kernel has no netem). The bucket holds 2 ms
#                at the rate (at least 16 kB), so a burst cannot pass a whole gradient bucket
#                at the veth's own speed.
#   --burst-ms MS  the token bucket holds MS ms at the rate instead of 2: fewer, larger releases,
#                so less of the shaping's timer and softirq work lands on the cores that compute.
#   --congestion-control NAME  TCP congestion control inside the hosts (default: the machine's,
#                often bbr). A time-dilated emulation wants reno: BBR paces and probes on
#                wall-clock timers (PROBE_RTT, its 10 s min-RTT filter) that dilation does not
#                stretch, Reno only on ACKs and losses, which it does.
#   --queue-ms MS  the most a packet may wait in a token bucket's queue before it is dropped
#                (tbf latency, default 100): a time-dilated emulation (bench/scaling-emulation.sh
#                TIME_SCALE=K) shapes to 1/K of the rate and gives K times this, so the queue holds
#                the same bytes.
# For `resnet-dist scaling replay` (ranks that sleep instead of computing): ranks are not bound,
# more ranks than cores are allowed, and a rank waiting in a blocking collective yields its core
# (mpi_yield_when_idle) instead of spinning: dozens of spinning ranks on two cores would keep the
# ranks that have data to move from running. Needs root, iproute2 and the bridge module.
set -euo pipefail
hosts=""; per=1; rate=""; queue=100; burst_ms=2; congestion=""
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) hosts=${2:?--hosts needs a number}; shift 2 ;;
    --ranks-per-host) per=${2:?--ranks-per-host needs a number}; shift 2 ;;
    --rate) rate=${2:?--rate needs a value like 1gbit}; shift 2 ;;
    --queue-ms) queue=${2:?--queue-ms needs a number of milliseconds}; shift 2 ;;
    --burst-ms) burst_ms=${2:?--burst-ms needs a number of milliseconds}; shift 2 ;;
    --congestion-control) congestion=${2:?--congestion-control needs a name, e.g. reno}; shift 2 ;;
    --) shift; break ;;
    *) echo "error: unknown option '$1' (resnet-dist's arguments go after --)" >&2; exit 64 ;;
  esac
done
[[ "$hosts" =~ ^[1-9][0-9]*$ && "$hosts" -le 64 ]] || { echo "error: --hosts must be 1..64, got '$hosts'" >&2; exit 64; }
[[ "$per" =~ ^[1-9][0-9]*$ ]] || { echo "error: --ranks-per-host must be a positive number, got '$per'" >&2; exit 64; }
[[ "$queue" =~ ^[1-9][0-9]*$ ]] || { echo "error: --queue-ms must be a positive whole number, got '$queue'" >&2; exit 64; }
[[ "$burst_ms" =~ ^[1-9][0-9]*$ ]] || { echo "error: --burst-ms must be a positive whole number, got '$burst_ms'" >&2; exit 64; }
[[ -z "$congestion" || "$congestion" =~ ^[a-z0-9_]+$ ]] || { echo "error: --congestion-control must be a name like reno, got '$congestion'" >&2; exit 64; }
here=$(cd "$(dirname "$0")" && pwd)
exe=${RESNET_DIST:-$here/../.build/release/resnet-dist}
[ -x "$exe" ] || { echo "error: $exe not found (swift build -c release)" >&2; exit 1; }
work=$(mktemp -d)
cleanup() {
  for i in $(seq 0 $((hosts - 1))); do ip netns del rd-host-$i 2>/dev/null || true; done
  ip netns del rd-switch 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cleanup; work=$(mktemp -d)

burst=16384
if [ -n "$rate" ]; then
  case $rate in
    *gbit) bits=$(( ${rate%gbit} * 1000000000 )) ;;
    *mbit) bits=$(( ${rate%mbit} * 1000000 )) ;;
    *) echo "error: --rate must be a whole number of mbit or gbit (100mbit, 1gbit), got '$rate'" >&2; exit 64 ;;
  esac
  burst=$(( bits / 8 * burst_ms / 1000 > 16384 ? bits / 8 * burst_ms / 1000 : 16384 ))
fi
ip netns add rd-switch
ip -n rd-switch link add rd-br type bridge
ip -n rd-switch link set rd-br up
: > "$work/hostfile"
for i in $(seq 0 $((hosts - 1))); do
  ns=rd-host-$i
  ip netns add $ns
  ip link add rd-h$i netns $ns type veth peer name rd-s$i netns rd-switch
  ip -n $ns addr add 10.232.0.$((i + 1))/24 dev rd-h$i
  ip -n $ns link set lo up
  if [ -n "$congestion" ]; then
    ip netns exec $ns sysctl -qw net.ipv4.tcp_congestion_control="$congestion" \
      || { echo "error: --congestion-control $congestion is not allowed in a network namespace here (try reno)" >&2; exit 1; }
  fi
  ip -n $ns link set rd-h$i up
  ip -n rd-switch link set rd-s$i master rd-br
  ip -n rd-switch link set rd-s$i up
  if [ -n "$rate" ]; then
    ip netns exec $ns tc qdisc add dev rd-h$i root tbf rate "$rate" burst "$burst" latency ${queue}ms \
      || { echo "error: tc could not shape the link to --rate $rate" >&2; exit 1; }
    ip netns exec rd-switch tc qdisc add dev rd-s$i root tbf rate "$rate" burst "$burst" latency ${queue}ms
  fi
  echo "10.232.0.$((i + 1)) slots=$per" >> "$work/hostfile"
done
[ -n "$rate" ] && echo "netns-hosts: $hosts hosts x $per ranks, every link shaped to $rate each way (tc tbf)" >&2

cat > "$work/agent" <<'AGENT'
#!/bin/sh
host=$1; shift
i=$(( ${host##*.} - 1 ))
# Every namespace shares the hostname and /tmp: each host's daemon gets a session directory of its own.
mkdir -p /tmp/rd-host-$i
exec ip netns exec rd-host-$i env OMPI_MCA_orte_tmpdir_base=/tmp/rd-host-$i /bin/sh -c "$*"
AGENT
chmod +x "$work/agent"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
ip netns exec rd-host-0 mpirun -np $((hosts * per)) --hostfile "$work/hostfile" --map-by slot --bind-to none \
  --oversubscribe --mca mpi_yield_when_idle 1 --mca plm_rsh_agent "$work/agent" \
  --mca btl tcp,vader,self --mca btl_tcp_if_include 10.232.0.0/24 --mca oob_tcp_if_include 10.232.0.0/24 \
  -x OPENBLAS_NUM_THREADS -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM ${MCA:+$MCA} \
  "$exe" "$@"
