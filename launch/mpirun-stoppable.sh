#!/usr/bin/env bash
# Usage: launch/mpirun-stoppable.sh [mpirun arguments...]
# mpirun, with stops that end in a checkpoint. A stop (SIGTERM, SIGINT, SIGUSR1) reaches the ranks
# as SIGUSR1, which mpirun forwards and does not act on: every rank finishes its step (or
# evaluation), rank 0 writes a checkpoint, and the job exits 75. mpirun's own SIGTERM/SIGINT
# handling would SIGKILL the ranks one second later (OpenMPI's odls_base_sigkill_timeout), before a
# long step or an evaluation ends. A second stop ends the job at once. Exit status: mpirun's.
mpirun "$@" &
job=$!
stops=0
stop() {
  stops=$((stops + 1))
  if [ $stops -eq 1 ]; then kill -USR1 "$job" 2>/dev/null; else kill -TERM "$job" 2>/dev/null; fi
}
trap stop TERM INT USR1
status=0
wait "$job" || status=$?
# A trapped signal interrupts `wait`: wait again for mpirun's own status.
while kill -0 "$job" 2>/dev/null; do status=0; wait "$job" || status=$?; done
exit $status
