#!/usr/bin/env bash
# Usage: launch/two-hosts-netns.sh [resnet-dist train arguments...]
# Two "hosts" on one machine: network namespaces rd-host-a and rd-host-b joined by a veth pair
# (addresses 10.231.0.1 and 10.231.0.2, used only inside these namespaces), one MPI rank in
# each, started by mpirun through a hostfile of their addresses and an rsh agent that enters the
# other namespace instead of ssh. MPI traffic (daemons and data) goes over TCP on the veth link.
# Needs root and iproute2. Cleans up after itself. Prints the run's JSON result.
set -euo pipefail
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
printf '10.231.0.1 slots=1\n10.231.0.2 slots=1\n' > "$work/hostfile"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
ip netns exec $a mpirun -np 2 --hostfile "$work/hostfile" --map-by node \
  --mca plm_rsh_agent "$work/agent" \
  --mca btl tcp,self --mca btl_tcp_if_include 10.231.0.0/24 --mca oob_tcp_if_include 10.231.0.0/24 \
  -x OPENBLAS_NUM_THREADS -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
  "$exe" train "$@"
