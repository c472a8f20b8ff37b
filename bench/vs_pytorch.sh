#!/usr/bin/env bash
# Rounds of resnet-dist and PyTorch (NCHW and channels-last) side by side: ResNet-20 and -110,
# batch 128, 1 and 2 threads. PYTHON must have torch (see bench/compare_pytorch.py).
# usage: PYTHON=/tmp/pt/bin/python bench/vs_pytorch.sh BINARY [rounds=3]
set -euo pipefail
export OPENBLAS_NUM_THREADS=1
cd "$(dirname "$0")/.."
B=$1; ROUNDS=${2:-3}; PY=${PYTHON:-python3}
rate() { python3 -c "import json,sys; d=json.load(sys.stdin); print('%.1f' % d['images_per_s'])"; }
for round in $(seq 1 "$ROUNDS"); do
  for arch in resnet20 resnet110; do
    steps=10; [ $arch = resnet110 ] && steps=6
    for t in 1 2; do
      o=$("$B" bench --arch $arch --batch-size 128 --threads $t --steps $steps --json |
          python3 -c "import json,sys; d=json.load(sys.stdin); print('%.1f %.1f %.1f' % (d['images_per_s'], d['effective_gflops'], d['sgemm_gflops']))")
      n=$("$PY" bench/compare_pytorch.py --arch $arch --threads $t --steps $steps --json | rate)
      c=$("$PY" bench/compare_pytorch.py --arch $arch --threads $t --steps $steps --json --channels-last | rate)
      echo "$(date +%T) round $round $arch ${t}T resnet-dist(images/s effective-GFLOP/s sgemm-GFLOP/s) $o pytorch-nchw $n pytorch-channels-last $c"
    done
  done
done
