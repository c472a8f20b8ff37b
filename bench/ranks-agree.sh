#!/usr/bin/env bash
# The same losses at every world size: ResNet-20, sync BN, global batch 128, 20 steps on the first
# 1,155 CIFAR-10 training images (9 full batches, then one of 3 images: at every epoch's end all
# but 3 ranks sit idle; steps 10 and 20 are such steps). Prints each world size's 20 losses'
# largest relative difference from 1 rank's, per step.
# usage: bench/ranks-agree.sh BINARY DATA_DIR [ranks="1 3 4 8 16 32"] [lr=0.1]
set -euo pipefail
[ $# -ge 2 ] || { grep -m1 '^# usage:' "$0" | sed 's/^# //' >&2; exit 64; }
BIN=$1; DATA=$2; RANKS=${3:-"1 3 4 8 16 32"}; LR=${4:-0.1}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
out=$(mktemp -d)
for n in $RANKS; do
  start=$(date +%s.%N)
  mpirun -np "$n" --oversubscribe --bind-to none "$BIN" train --arch resnet20 --data "$DATA" --train-subset 1155 \
    --batch-size 128 --iterations 20 --lr "$LR" --sync-bn --threads 1 --eval-every 1000 --seed 1 --json \
    > "$out/$n.json" 2> "$out/$n.err" || { echo "$n ranks: exit $?"; tail -5 "$out/$n.err"; }
  echo "$n ranks: $(python3 -c "print('%.1f' % ($(date +%s.%N) - $start))") s"
done
python3 - "$out" $RANKS <<'PY'
import json, sys
out, ranks = sys.argv[1], sys.argv[2:]
runs = {n: json.loads([l for l in open(f"{out}/{n}.json") if l.startswith("{")][-1]) for n in ranks}
ref = runs[ranks[0]]["first_losses"]
print("step " + " ".join("%11s" % f"{n} ranks" for n in ranks))
for i in range(len(ref)):
    print("%4d " % (i + 1) + " ".join("%11.7f" % runs[n]["first_losses"][i] for n in ranks))
for n in ranks[1:]:
    d = [abs(a - b) / a for a, b in zip(ref, runs[n]["first_losses"])]
    print(f"{n:>3} ranks: identical replicas {runs[n]['replicas_identical']}, largest relative difference {max(d):.2e} "
          f"(steps 1-9: {max(d[:9]):.2e}), first step {d[0]:.2e}")
PY
