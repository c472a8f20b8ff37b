#!/usr/bin/env bash
# Usage: launch/supervise.sh [--max-restarts N] [--max-backoff S] -- COMMAND...
# Runs a training COMMAND (e.g. `launch/local.sh 2 train ... --output DIR`) with `--resume auto`
# appended, and when it fails in a way a restart can fix (a rank killed, a node lost, an MPI
# error, an I/O error, a stop signal to the job alone) starts it again, after 1, 2, 4 ... seconds
# (at most --max-backoff, default 60), so it continues from the newest good checkpoint in --output.
# It does not restart:
#   - a job that is done (status 0);
#   - a job that failed in a way that would fail again: bad flags (64), bad input, a checkpoint of
#     another run, a diverged loss (65);
#   - when the supervisor itself is told to stop (SIGTERM, SIGINT, SIGUSR1): it passes the signal on
#     (the trainer finishes its step and writes a checkpoint) and exits with the job's status.
# Default: at most 10 restarts. Exit status: the job's last.
set -uo pipefail
max=10
max_backoff=60
while [ $# -gt 0 ]; do
  case "$1" in
    --max-restarts) max=$2; shift 2 ;;
    --max-backoff) max_backoff=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then echo "usage: $0 [--max-restarts N] [--max-backoff S] -- COMMAND..." >&2; exit 64; fi
child=""
stop=""
forward() {
  stop=$1
  # The trainer treats SIGTERM, SIGINT and SIGUSR1 alike. USR1, because mpirun forwards it to the
  # ranks and does nothing else, while on SIGTERM it kills the ranks a second later, before a long
  # step or an evaluation has ended and the checkpoint is written.
  if [ -n "$child" ]; then kill -USR1 "$child" 2>/dev/null; fi
}
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward USR1' USR1
attempt=0
backoff=1
while true; do
  "$@" --resume auto < /dev/null &
  child=$!
  wait "$child"; status=$?
  # A trapped signal interrupts `wait`: wait again for the job's own status.
  while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done
  child=""
  if [ $status -eq 0 ]; then
    [ $attempt -gt 0 ] && echo "supervise: run finished after $attempt restart(s)" >&2
    exit 0
  fi
  if [ -n "$stop" ]; then
    echo "supervise: stopped by SIG$stop (job status $status); not restarting. Run the same command again to continue." >&2
    exit $status
  fi
  case $status in
    64|65) echo "supervise: the job failed with status $status (bad flags or input: a restart would fail again); not restarting" >&2
           exit $status ;;
  esac
  if [ $attempt -ge "$max" ]; then
    echo "supervise: giving up after $attempt restart(s); last exit status $status" >&2
    exit $status
  fi
  attempt=$((attempt + 1))
  echo "supervise: job exited with status $status; restart $attempt of $max from the latest checkpoint in ${backoff}s" >&2
  sleep "$backoff" & wait $!
  [ -n "$stop" ] && { echo "supervise: stopped by SIG$stop while waiting; not restarting" >&2; exit $status; }
  backoff=$((backoff * 2 > max_backoff ? max_backoff : backoff * 2))
done
