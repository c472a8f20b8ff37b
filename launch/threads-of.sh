#!/usr/bin/env bash
# Usage: launch/threads-of.sh [resnet-dist arguments...]
# Prints the --threads value among resnet-dist arguments (1 when absent or not a number >= 1:
# resnet-dist itself then names a bad value), for the launchers' core placement.
threads=1
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --threads) threads=${args[i + 1]:-1} ;;
    --threads=*) threads=${args[i]#--threads=} ;;
  esac
done
[[ $threads =~ ^[1-9][0-9]*$ ]] || threads=1
echo "$threads"
