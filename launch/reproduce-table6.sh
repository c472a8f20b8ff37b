#!/usr/bin/env bash
# Usage: launch/reproduce-table6.sh [--short | --epochs 30] [--data DIR] [--out DIR] [ARCH...]
# The paper's Table 6 (CIFAR-10 test error of ResNet-20/32/44/56/110/1202, option A) with the
# paper's recipe by default (64k iterations; warm-up for 110 and 1202); --epochs N the compressed
# budget of docs/runs (N = 30: lr 0.1 /10 after epochs 15 and 23, per-pixel mean, zero padding,
# seed 1, the paper's warm-up for 110 and 1202, the runs of issue 22); --short gives each network
# 3 epochs on 15,000 training images. Writes the runs, table6.md and table6.svg to --out.
# Paper: 8.75, 7.51, 7.17, 6.97, 6.43, 7.93 (% test error). Ranks: $RANKS (default: cores).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
epochs=""; data=${RESNET_DIST_DATA:-.data/cifar10}; out=runs/table6; short=0; archs=()
while [ $# -gt 0 ]; do
  case "$1" in --epochs|--data|--out) [ $# -ge 2 ] || { echo "$0: $1 needs a value" >&2; exit 64; } ;; esac
  case "$1" in
    --short) short=1; shift ;;
    --epochs) epochs=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -*) echo "usage: $0 [--short | --epochs N] [--data DIR] [--out DIR] [ARCH...]" >&2; exit 64 ;;
    *) archs+=("$1"); shift ;;
  esac
done
[ ${#archs[@]} -gt 0 ] || archs=(resnet20 resnet32 resnet44 resnet56 resnet110 resnet1202)
ranks=${RANKS:-$(nproc)}
if [ -n "$epochs" ]; then
  # The milestones at half and three quarters of the run, in whole epochs (30 -> 15e,23e).
  budget=(--epochs "$epochs" --milestones "$((epochs / 2))e,$(((3 * epochs + 3) / 4))e" --seed 1
          --normalization per-pixel --padding zero --log-every 100)
elif [ $short = 1 ]; then
  budget=(--train-subset 15000 --epochs 3 --eval-every 59 --log-every 10)
else
  budget=(--recipe paper --eval-every 2000 --log-every 100 --checkpoint-every 1000)
fi
dirs=()
for arch in "${archs[@]}"; do
  "$here/supervise.sh" -- "$here/local.sh" "$ranks" train --arch "$arch" --data "$data" "${budget[@]}" --output "$out/$arch"
  dirs+=("$out/$arch")
done
exe=${RESNET_DIST:-$here/../.build/release/resnet-dist}
"$exe" plot "${dirs[@]}" -o "$out/table6.svg" --title "CIFAR-10 ResNets (Table 6)" --table "$out/table6.md"
cat "$out/table6.md"
