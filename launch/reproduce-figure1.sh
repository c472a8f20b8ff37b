#!/usr/bin/env bash
# Usage: launch/reproduce-figure1.sh [--short | --epochs 30] [--data DIR] [--out DIR]
# The degradation experiment (the paper's Figures 1 and 6, left and middle): plain-20 and plain-56
# against ResNet-20 and ResNet-56 on CIFAR-10, the paper's recipe (64k iterations) by default;
# --epochs N is the compressed budget of docs/runs (N = 30: lr 0.1 /10 after epochs N/2 and 3N/4,
# i.e. 15e,23e, per-pixel mean, zero padding, seed 1, the runs of issue 22);
# --short trains each for 3 epochs on 15,000 training images, which fits on a laptop. Writes the
# runs, figure1.svg (training error thin, test error bold) and table.md to --out.
# Ranks: $RANKS (default: the number of cores), through launch/local.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
epochs=""; data=${RESNET_DIST_DATA:-.data/cifar10}; out=runs/figure1; short=0
while [ $# -gt 0 ]; do
  case "$1" in --epochs|--data|--out) [ $# -ge 2 ] || { echo "$0: $1 needs a value" >&2; exit 64; } ;; esac
  case "$1" in
    --short) short=1; shift ;;
    --epochs) epochs=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--short | --epochs N] [--data DIR] [--out DIR]" >&2; exit 64 ;;
  esac
done
ranks=${RANKS:-$(nproc)}
if [ -n "$epochs" ]; then
  # The milestones at half and three quarters of the run, in whole epochs (30 -> 15e,23e).
  budget=(--epochs "$epochs" --milestones "$((epochs / 2))e,$(((3 * epochs + 3) / 4))e" --seed 1
          --normalization per-pixel --padding zero --log-every 100)
elif [ $short = 1 ]; then
  budget=(--train-subset 15000 --epochs 3 --eval-every 59 --log-every 10)
else
  budget=(--recipe paper --eval-every 2000 --log-every 100 --checkpoint-every 2000)
fi
for arch in plain20 plain56 resnet20 resnet56; do
  "$here/supervise.sh" -- "$here/local.sh" "$ranks" train --arch "$arch" --data "$data" "${budget[@]}" --output "$out/$arch"
done
exe=${RESNET_DIST:-$here/../.build/release/resnet-dist}
"$exe" plot "$out/plain20" "$out/plain56" "$out/resnet20" "$out/resnet56" -o "$out/figure1.svg" --layout paper \
  --title "CIFAR-10: plain vs residual, 20 and 56 layers" --table "$out/table.md"
cat "$out/table.md"
