#!/usr/bin/env bash
# Usage: launch/prepare-data.sh [DIR]
# Puts CIFAR-10 in DIR (default ./cifar-10-batches-bin, where `resnet-dist train` looks) from the
# first source that works, and says which:
#   1. the team's shared copy, ../shared/data/cifar10, when it sits beside this repository;
#   2. the official archive from the web (launch/get-cifar10.sh: checksum, resumable);
#   3. neither: training then uses a small generated data set, and says so too.
# Exits 0 whatever the source (the training run after it works either way; the line it prints says
# what it did), 64 for a usage mistake.
set -uo pipefail
# A flag or a second argument is a mistake, not a directory: say so (the one exit that is not 0).
case "${1:-}" in -*) echo "usage: $0 [DIR] (unknown option '$1')" >&2; exit 64 ;; esac
[ $# -le 1 ] || { echo "usage: $0 [DIR] (one directory, got $# arguments)" >&2; exit 64; }
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-cifar-10-batches-bin}
shared="$here/../../shared/data/cifar10"
if [ -x "$shared/unpack.sh" ]; then
  if "$shared/unpack.sh" "$dir" >/dev/null; then
    echo "data: CIFAR-10 from the team's shared copy ($(cd "$shared" && pwd)), unpacked into $dir"
    exit 0
  fi
  echo "data: the shared copy in $shared did not unpack; trying the download" >&2
fi
if "$here/get-cifar10.sh" "$dir"; then
  echo "data: CIFAR-10 downloaded from the web into $dir"
else
  echo "data: no CIFAR-10 (no ../shared copy, and the download failed): the run trains on generated data"
fi
