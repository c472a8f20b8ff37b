#!/usr/bin/env bash
# Usage: launch/two-hosts-netns.sh [--rate RATE] [--command train|bench] [resnet-dist arguments...]
# Two "hosts" on one machine: network namespaces rd-host-a and rd-host-b joined by a veth pair
# (addresses 10.231.0.1 and 10.231.0.2, used only inside these namespaces), one MPI rank in
# each, started by mpirun through a hostfile of their addresses and an rsh agent that enters the
# other namespace instead of ssh. MPI traffic (daemons and data) goes over TCP on the veth link.
#   --rate RATE  shapes both ends of the link with a token bucket (tc tbf), e.g. 1gbit, 100mbit,
#                to see how training scales over a slow network (no latency emulation: this
#                kernel has no netem).
#   --command    train (default) or bench.
# Each namespace's MPI daemon believes it has the machine to itself and would bind its rank to
# core 0, so both ranks would share one core: mpirun binds nothing here, and each rank is pinned
# to core (rank mod cores) with taskset instead.
# Needs root and iproute2. Cleans up after itself. Prints the run's output (with --json, its JSON).
set -euo pipefail
rate=""
command=train
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=${2:?--rate needs a value like 1gbit}; shift 2 ;;
    --command) command=${2:?--command needs train or bench}; shift 2 ;;
    *) break ;;
  esac
done
case "$command" in train|bench) ;; *) echo "error: --command must be train or bench, got '$command'" >&2; exit 64 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
exe=${RESNET_DIST:-$here/../.build/release/resnet-dist}
[ -x "$exe" ] || { echo "error: $exe not found (swift build -c release)" >&2; exit 1; }
command -v ip >/dev/null || { echo "error: ip not found (apt-get install iproute2)" >&2; exit 1; }
a=rd-host-a; b=rd-host-b
work=$(mktemp -d)
cleanup() { ip netns del $a 2>/dev/null || true; ip netns del $b 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cleanup; work=$(mktemp -d)

ip netns add $a
ip netns add $b
ip link add rd-veth-a netns $a type veth peer name rd-veth-b netns $b
ip -n $a addr add 10.231.0.1/24 dev rd-veth-a
ip -n $b addr add 10.231.0.2/24 dev rd-veth-b
for ns in $a $b; do ip -n $ns link set lo up; done
ip -n $a link set rd-veth-a up
ip -n $b link set rd-veth-b up
if [ -n "$rate" ]; then
  ip netns exec $a tc qdisc add dev rd-veth-a root tbf rate "$rate" burst 1mb latency 100ms \
    || { echo "error: tc could not shape the link to --rate $rate" >&2; exit 1; }
  ip netns exec $b tc qdisc add dev rd-veth-b root tbf rate "$rate" burst 1mb latency 100ms
  echo "two-hosts: link shaped to $rate each way (tc tbf)" >&2
fi

# The "ssh" mpirun uses to start its daemon on the other host: enter that host's namespace.
cat > "$work/agent" <<AGENT
#!/bin/sh
host=\$1; shift
case "\$host" in
  10.231.0.1) ns=$a ;;
  10.231.0.2) ns=$b ;;
  *) echo "netns agent: unknown host \$host" >&2; exit 1 ;;
esac
echo "netns agent: starting the MPI daemon of host \$host in namespace \$ns" >&2
exec ip netns exec \$ns /bin/sh -c "\$*"
AGENT
chmod +x "$work/agent"
# Each rank on its own core (see above).
cat > "$work/pin" <<'PIN'
#!/bin/sh
core=$(( ${OMPI_COMM_WORLD_RANK:-0} % $(nproc --all) ))
echo "two-hosts: rank ${OMPI_COMM_WORLD_RANK:-0} pinned to core $core" >&2
exec taskset -c "$core" "$@"
PIN
chmod +x "$work/pin"
printf '10.231.0.1 slots=1\n10.231.0.2 slots=1\n' > "$work/hostfile"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
ip netns exec $a mpirun -np 2 --hostfile "$work/hostfile" --map-by node --bind-to none \
  --mca plm_rsh_agent "$work/agent" \
  --mca btl tcp,self --mca btl_tcp_if_include 10.231.0.0/24 --mca oob_tcp_if_include 10.231.0.0/24 \
  -x OPENBLAS_NUM_THREADS -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
  "$work/pin" "$exe" "$command" "$@"
