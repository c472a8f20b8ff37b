#!/usr/bin/env bash
# Bit-for-bit check of a refactoring: two resnet-dist binaries (old, new) train ResNet-20 at seed 1
# on 2 MPI ranks; the first 50 step losses must be identical, and so must every tensor (weights,
# BN statistics, momentum) of the checkpoint after 40 iterations. Same machine, same data.
# usage: bench/same-losses.sh OLD_BINARY NEW_BINARY [DATA_DIR=.data/cifar10]
set -euo pipefail
[ $# -ge 2 ] || { grep -m1 '^# usage:' "$0" | sed 's/^# //' >&2; exit 64; }
OLD=$1; NEW=$2; DATA=${3:-.data/cifar10}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for side in old new; do
  exe=$OLD; [ $side = new ] && exe=$NEW
  RESNET_DIST=$exe "$here/../launch/local.sh" 2 train --arch resnet20 --seed 1 --data "$DATA" --iterations 50 \
    --log-every 1 --output "$work/$side-50" >/dev/null 2>"$work/$side-50.log" || { cat "$work/$side-50.log"; exit 1; }
  RESNET_DIST=$exe "$here/../launch/local.sh" 2 train --arch resnet20 --seed 1 --data "$DATA" --iterations 40 \
    --output "$work/$side-40" >/dev/null 2>"$work/$side-40.log" || { cat "$work/$side-40.log"; exit 1; }
done
python3 - "$work" <<'PY'
import json, struct, sys
work = sys.argv[1]
def losses(run):
    rows = [json.loads(l) for l in open(f"{work}/{run}/metrics.jsonl")]
    return [r["loss"] for r in rows if r["kind"] == "train"]
def tensors(run):
    raw = open(f"{work}/{run}/checkpoint-00000040.safetensors", "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n]); body = raw[8 + n:]
    return {k: body[v["data_offsets"][0]:v["data_offsets"][1]] for k, v in header.items() if k != "__metadata__"}
a, b = losses("old-50"), losses("new-50")
assert len(a) == len(b) == 50, (len(a), len(b))
same = sum(x == y for x, y in zip(a, b))
ta, tb = tensors("old-40"), tensors("new-40")
differing = [k for k in ta if ta[k] != tb.get(k)] + [k for k in tb if k not in ta]
print(f"losses: {same} of 50 identical (first {a[0]!r}, last {a[-1]!r} vs {b[-1]!r})")
print(f"checkpoint after 40 iterations: {len(ta) - len([k for k in differing if k in ta])} of {len(ta)} tensors identical"
      + (f"; differing: {differing[:5]}" if differing else ""))
sys.exit(0 if same == 50 and not differing else 1)
PY
