#!/usr/bin/env bash
# Usage: launch/reproduce-large-batch.sh [--data DIR] [--out DIR] [--ranks N] RUN [train arguments...]
# The large-batch runs of issue 21 (docs/runs/resnet20-b*): ResNet-20 on CIFAR-10 with the 30-epoch
# recipe of docs/runs/resnet20-30e (per-pixel mean, zero padding, seed 1) and ghost batch norm over
# 128 images, so that each run normalises as a cluster of 128-image ranks would. RUN is one of
#   lars4096  LARS, trust coefficient 0.008 and lr 3, cosine decay, 2 warm-up epochs, label
#             smoothing 0.1 (docs/runs/lars-sweep-b4096: the best rates of its probes; 15.61% at
#             30 epochs, against 16.39% without label smoothing, 17.93% with poly decay and 19.16%
#             for the earlier trust 0.002 / lr 6 with poly decay: add `--label-smoothing 0`, and
#             `--trust-coefficient 0.002 --lr 6 --schedule poly`, for the earlier records' runs)
#   sgd4096   SGD + linear scaling (Goyal et al. 2017): lr 0.1 x 4096/128 = 3.2, 5 warm-up epochs
#             from 0.1, /10 after epochs 15 and 23
#   lars8192  LARS at 8,192 with lars4096's rates, without label smoothing (the trust ratio takes
#             the gradient's scale out of each layer's step; docs/runs/lars-sweep-b8192 for the
#             rates probed there);
#             pretrained/resnet20-cifar10-b8192 is `lars8192 --epochs 90 --drop-last` (14.20%; 60 epochs: 16.29%,
#             and 15.49% / 15.04% / 15.70% for seeds 1 / 2 / 3 with `--label-smoothing 0.1`; 50 epochs with it: 16.91%)
#   sgd8192   SGD + linear scaling at 8,192 (lr 6.4), as sgd4096
#   bf16      the batch-128 run of docs/runs/resnet20-30e with gradients all-reduced in bfloat16
# Further train arguments are appended and win (e.g. --epochs 40, --lr 12 --trust-coefficient 0.001).
# Runs under launch/supervise.sh, so run it again (or after a stop) and it resumes. Output: --out/RUN.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${RESNET_DIST_DATA:-.data/cifar10}; out=runs/large-batch; ranks=${RANKS:-$(nproc)}
while [ $# -gt 0 ]; do
  case "$1" in --data|--out|--ranks) [ $# -ge 2 ] || { echo "$0: $1 needs a value" >&2; exit 64; } ;; esac
  case "$1" in
    --data) data=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    *) break ;;
  esac
done
usage="usage: $0 [--data DIR] [--out DIR] [--ranks N] lars4096|sgd4096|lars8192|sgd8192|bf16 [train arguments...]"
[ $# -ge 1 ] || { echo "$usage" >&2; exit 64; }
run=$1; shift
recipe=(--arch resnet20 --data "$data" --epochs 30 --seed 1 --normalization per-pixel --padding zero)
large=(--bn-group 128 --log-every 5)
lars=(--optimizer lars --trust-coefficient 0.008 --lr 3 --schedule cosine --warmup-epochs 2)
sgd=(--lr 0.1 --lr-scaling linear --warmup-epochs 5 --milestones 15e,23e)
case "$run" in
  lars4096) args=("${large[@]}" --batch-size 4096 "${lars[@]}" --label-smoothing 0.1) ;;
  sgd4096) args=("${large[@]}" --batch-size 4096 "${sgd[@]}") ;;
  lars8192) args=("${large[@]}" --batch-size 8192 "${lars[@]}") ;;
  sgd8192) args=("${large[@]}" --batch-size 8192 "${sgd[@]}") ;;
  bf16) args=(--log-every 100 --milestones 15e,23e --allreduce-precision bf16) ;;
  *) echo "$usage" >&2; exit 64 ;;
esac
exec "$here/supervise.sh" -- "$here/local.sh" "$ranks" train "${recipe[@]}" "${args[@]}" "$@" --output "$out/$run"
