#!/bin/sh
# The capture-overhead bench (bench/capture-overhead.sh --interleaved) once per bpftrace version
# users run (issue 10): this machine's bpftrace (0.17 on Debian 12) and Debian 13's and sid's from
# the chroots of test/live/bpftrace-chroot.sh, plus the captures without bpftrace (ftrace, perf)
# in the first run, and `wgtrace capture` (node-events, node-windows) in every run. Each run
# prints its own table; ratios are to no capture in the same run.
#
#   sh bench/capture-overhead-versions.sh [--reps 5] [--seconds 4] [--suites "trixie sid"]
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
REPS=5
SECS=4
SUITES="trixie sid"
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --suites) SUITES=$2; shift 2 ;;
    *) echo "usage: $0 [--reps N] [--seconds S] [--suites LIST]" >&2; exit 64 ;;
  esac
done
trap 'for s in $SUITES; do sh "$HERE/test/live/bpftrace-chroot.sh" down "$s"; done' EXIT

echo "### $(bpftrace --version | head -n 1) (this machine's), and the captures without bpftrace"
sh "$HERE/bench/capture-overhead.sh" --interleaved --reps "$REPS" --seconds "$SECS" --conditions "events windows perf ftrace perf-capture node-events node-windows"
for s in $SUITES; do
  w=$(sh "$HERE/test/live/bpftrace-chroot.sh" up "$s")
  echo "### $("$w" --version | head -n 1) (Debian $s)"
  sh "$HERE/bench/capture-overhead.sh" --interleaved --reps "$REPS" --seconds "$SECS" --conditions "events windows perf node-events node-windows" --bpftrace "$w"
done
