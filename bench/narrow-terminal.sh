#!/usr/bin/env bash
# Usage: bench/narrow-terminal.sh [COLUMNS] [BINARY]
# The live line in a narrow terminal, without a screenshot: runs a short training (ResNet-56 on
# generated data, with an evaluation) in a detached tmux window COLUMNS wide (default 50),
# captures the pane's last line 4 times a second, and prints each new one. The live line must fit
# (no wrapped, stale copies) and show the evaluation's progress; the whole pane is printed at the end.
set -euo pipefail
cols=${1:-50}
bin=${2:-.build/release/resnet-dist}
command -v tmux >/dev/null || { echo "tmux is not installed (apt-get install -y tmux)" >&2; exit 1; }
out=$(mktemp -d)
session=narrow-$$
tmux new-session -d -s "$session" -x "$cols" -y 12 \
  "$bin train --arch resnet56 --data generated --iterations 40 --batch-size 64 --log-every 20 --eval-every 40 --output $out/run; echo EXIT=\$?; sleep 30"
last=""
for i in $(seq 1 400); do
  sleep 0.25
  pane=$(tmux capture-pane -p -t "$session")
  line=$(echo "$pane" | sed '/^$/d' | tail -1)
  if [ "$line" != "$last" ]; then printf '%6.2fs |%s|\n' "$(echo "$i / 4" | bc -l)" "$line"; last=$line; fi
  if grep -q 'EXIT=' <<< "$pane"; then break; fi
done
tmux kill-session -t "$session"
echo "--- the whole pane at the end ($cols columns):"
echo "$pane" | sed '/^$/d'
widest=$(echo "$pane" | awk '{ if (length($0) > m) m = length($0) } END { print m }')
echo "widest captured line: $widest characters in $cols columns"
rm -rf "$out"
