#!/usr/bin/env bash
# Coverage-guided fuzzing of the checkpoint reader (libFuzzer through swiftc -sanitize=fuzzer):
# Sources/checkpoint-fuzz, seeded from Tests/Fuzz/checkpoint-corpus (new inputs go to a scratch
# copy, the committed corpus stays as it is). Fails on any crash; the crashing input is kept in
# .build-fuzz/findings/ and printed.
# usage: bench/fuzz-checkpoint.sh [SECONDS=60]
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "$0")/.."
swift build -c release --product checkpoint-fuzz --scratch-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING >/dev/null
work=.build-fuzz/corpus
mkdir -p "$work" .build-fuzz/findings
cp Tests/Fuzz/checkpoint-corpus/* "$work"/
log=.build-fuzz/fuzz.log
status=0
.build-fuzz/release/checkpoint-fuzz "$work" -max_total_time="$seconds" -max_len=700000 -rss_limit_mb=4096 \
  -artifact_prefix=.build-fuzz/findings/ -print_final_stats=1 >"$log" 2>&1 || status=$?
grep -E "^stat::number_of_executed_units|^stat::average_exec_per_sec|^#[0-9]+ +DONE" "$log" || true
if [ $status -ne 0 ]; then
  echo "fuzz-checkpoint: the reader crashed (libFuzzer status $status); the input is in .build-fuzz/findings/" >&2
  grep -E "ERROR|Fatal error|SUMMARY|Test unit written" "$log" | head -20 >&2
  exit 1
fi
echo "fuzz-checkpoint: no crash in ${seconds} s"
