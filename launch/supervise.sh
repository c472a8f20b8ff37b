#!/usr/bin/env bash
# Usage: launch/supervise.sh [--max-restarts N] -- COMMAND...
# Runs a training COMMAND (e.g. `launch/local.sh 2 train ... --output DIR`) with `--resume auto`
# appended, and when it dies (a rank killed, a node lost, the job aborted) starts it again, so
# it continues from the newest good checkpoint in --output. Stops when the command exits 0
# (the run is done) or after N restarts (default 10), with the command's last exit status.
set -uo pipefail
max=10
while [ $# -gt 0 ]; do
  case "$1" in
    --max-restarts) max=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then echo "usage: $0 [--max-restarts N] -- COMMAND..." >&2; exit 2; fi
attempt=0
while true; do
  "$@" --resume auto
  status=$?
  if [ $status -eq 0 ]; then
    [ $attempt -gt 0 ] && echo "supervise: run finished after $attempt restart(s)" >&2
    exit 0
  fi
  if [ $attempt -ge "$max" ]; then
    echo "supervise: giving up after $attempt restart(s); last exit status $status" >&2
    exit $status
  fi
  attempt=$((attempt + 1))
  echo "supervise: job exited with status $status; restart $attempt of $max from the latest checkpoint" >&2
  sleep 1
done
