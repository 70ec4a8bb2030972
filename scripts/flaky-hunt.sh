#!/usr/bin/env bash
# Hunts flaky tests: runs the whole build's tests N times (default 20) while a CPU hog keeps every
# core busy, and lists each test class that failed even once. Run from the repository's root:
#
#   scripts/flaky-hunt.sh [runs [maven arguments...]]
#
# For example, to skip what tests do not need (javadoc and sources jars) and stay offline:
#
#   scripts/flaky-hunt.sh 20 -o -Dmaven.javadoc.skip=true -Dmaven.source.skip=true -Ddokka.skip=true
#
# Each run's log goes to target/flaky-hunt/run-<n>.log. Exits non-zero if any run failed.
set -uo pipefail

runs="${1:-20}"
shift || true
cd "$(dirname "$0")/.."
out=target/flaky-hunt
mkdir -p "$out"

hogs=()
for _ in $(seq "$(nproc)"); do
  ( while :; do :; done ) &
  hogs+=("$!")
done
trap 'kill "${hogs[@]}" 2>/dev/null' EXIT
echo "flaky hunt: $runs runs of ./mvnw -B verify $*, $(nproc) busy loops beside them"

failed=0
for run in $(seq "$runs"); do
  log="$out/run-$run.log"
  start=$(date +%s)
  if ./mvnw -B verify "$@" >"$log" 2>&1; then
    echo "run $run: passed in $(( $(date +%s) - start )) s"
  else
    failed=$((failed + 1))
    echo "run $run: FAILED in $(( $(date +%s) - start )) s:"
    grep -E "<<< (FAILURE|ERROR)!" "$log" | sed 's/^/  /' | sort -u
  fi
done

echo "flaky hunt: $failed of $runs runs failed"
if [ "$failed" -gt 0 ]; then
  echo "test classes that failed:"
  grep -h -E "<<< (FAILURE|ERROR)! -- in " "$out"/run-*.log | sed 's/.* -- in //' | sort | uniq -c
  exit 1
fi
