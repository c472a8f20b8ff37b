#!/usr/bin/env bash
# Usage: launch/run.sh [--nproc-per-node N] [--nnodes M --hosts H1,H2,...|--hostfile F] [--] resnet-dist arguments...
# torchrun's flags over mpirun, for people who know torchrun:
#   launch/run.sh --nproc-per-node 2 train --arch resnet20 --data cifar-10-batches-bin --epochs 30 --output runs/r20
#   launch/run.sh --nproc-per-node 4 --nnodes 2 --hosts node01,node02 train --recipe paper --arch resnet110 ...
#   launch/run.sh --nproc-per-node 4 --hostfile launch/hostfile.example train ...   (the file's hosts; --nnodes
#                                                                                   from its lines)
# One mpirun starts every rank from this node (no command per node as with torchrun; ssh to the
# other nodes, as for any mpirun). --nproc-per-node defaults to the cores of this node divided by
# --threads (given among the resnet-dist arguments, default 1). Ranks are bound to cores. The
# binary is $RESNET_DIST or .build/release/resnet-dist, at the same path on every node.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
usage() { echo "usage: $0 [--nproc-per-node N] [--nnodes M --hosts H1,H2,...|--hostfile F] [--] resnet-dist arguments..." >&2; exit 64; }
per_node=""; nodes=""; hosts=""; hostfile=""
while [ $# -gt 0 ]; do
  case "$1" in
    --nproc-per-node|--nproc_per_node) per_node=${2:-}; shift 2 ;;
    --nnodes) nodes=${2:-}; shift 2 ;;
    --hosts) hosts=${2:-}; shift 2 ;;
    --hostfile) hostfile=${2:-}; shift 2 ;;
    --node-rank|--node_rank|--master-addr|--master_addr|--master-port|--master_port|--rdzv-endpoint|--rdzv_endpoint)
      echo "error: $1 is not needed: mpirun starts every node's ranks from here (launch/run.sh --help)" >&2; exit 64 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) echo "error: unknown option '$1' before the resnet-dist arguments" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || usage
exe=${RESNET_DIST:-$here/../.build/release/resnet-dist}
[ -x "$exe" ] || { echo "error: $exe not found: build with 'swift build -c release' or set RESNET_DIST" >&2; exit 1; }
threads=$("$here/threads-of.sh" "$@")
if [ -z "$per_node" ]; then per_node=$(( $(nproc) / threads )); [ "$per_node" -ge 1 ] || per_node=1; fi
[[ $per_node =~ ^[1-9][0-9]*$ ]] || { echo "error: --nproc-per-node must be a number >= 1, got '$per_node'" >&2; exit 64; }
host_list=()
if [ -n "$hostfile" ]; then
  [ -r "$hostfile" ] || { echo "error: --hostfile $hostfile cannot be read" >&2; exit 64; }
  mapfile -t host_list < <(sed -e 's/#.*//' "$hostfile" | awk 'NF { print $1 }')
elif [ -n "$hosts" ]; then
  IFS=, read -r -a host_list <<< "$hosts"
fi
if [ -n "$nodes" ]; then
  [[ $nodes =~ ^[1-9][0-9]*$ ]] || { echo "error: --nnodes must be a number >= 1, got '$nodes'" >&2; exit 64; }
  if [ "$nodes" -gt 1 ] && [ ${#host_list[@]} -eq 0 ]; then
    echo "error: --nnodes $nodes needs the nodes' names: --hosts H1,H2,... or --hostfile F" >&2; exit 64
  fi
  if [ ${#host_list[@]} -gt 0 ] && [ ${#host_list[@]} -ne "$nodes" ]; then
    echo "error: --nnodes $nodes, but ${#host_list[@]} host(s) given" >&2; exit 64
  fi
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
if [ ${#host_list[@]} -le 1 ] && [ -z "${host_list[0]:-}" ]; then
  exec "$here/local.sh" "$per_node" "$@"
fi
forward=(-x OPENBLAS_NUM_THREADS)
[ -z "${RESNET_DIST_DATA:-}" ] || forward+=(-x RESNET_DIST_DATA)
spec=$(printf "%s:$per_node," "${host_list[@]}"); spec=${spec%,}
exec "$here/mpirun-stoppable.sh" -np $(( per_node * ${#host_list[@]} )) --host "$spec" --map-by "ppr:$per_node:node:PE=$threads" --bind-to core \
  ${MPIRUN_ARGS:-} "${forward[@]}" "$exe" "$@"
