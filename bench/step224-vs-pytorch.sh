#!/usr/bin/env bash
# A ResNet-18/34 training step at 224x224, batch 32: resnet-dist against PyTorch (NCHW and
# channels-last, torchvision's models), alternating, at 1 and 2 threads (issue 23).
#   bench/step224-vs-pytorch.sh BINARY [ROUNDS=1] [PYTHON=/tmp/pt/bin/python]
# Prints images/s of each and the ratio to PyTorch's faster layout. Needs torch and torchvision
# in PYTHON's environment (README: PyTorch for side-by-side checks).
set -euo pipefail
B=${1:?usage: $0 BINARY [ROUNDS] [PYTHON]}; rounds=${2:-1}; py=${3:-/tmp/pt/bin/python}
export OPENBLAS_NUM_THREADS=1
cd "$(dirname "$0")/.."
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print('%.2f' % d['$1'])"; }
for round in $(seq "$rounds"); do
  for arch in resnet18 resnet34; do
    for t in 1 2; do
      args=(--arch $arch --batch-size 32 --threads $t --steps 3 --warmup-steps 1 --json)
      ours=$("$B" bench "${args[@]}" | field images_per_s)
      cl=$("$py" bench/compare_pytorch.py "${args[@]}" --channels-last | field images_per_s)
      n=$("$py" bench/compare_pytorch.py "${args[@]}" | field images_per_s)
      echo "$(date +%T) round $round $arch threads $t resnet-dist $ours pytorch-channels-last $cl pytorch-nchw $n ratio $(python3 -c "print('%.2f' % ($ours / max($cl, $n)))")"
    done
  done
done
