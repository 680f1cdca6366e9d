#!/bin/sh
# Re-makes the bundled real captures on the veth testbed (root, bpftrace, iperf3, ethtool).
# For each: build the testbed, start the capture, wait until its probes are attached (bpftrace
# needs 3 to 15 s to compile on a loaded 2-core machine), then run one bounded iperf3 flow per
# pair for the capture's duration plus 2 s, and remove the testbed (trap).
# traces/README.md lists each file with its line below.
#   sh traces/make-traces.sh [NAME...]    only the named files (e.g. windows-format2-softirq-3pairs.txt)
set -eu
cd "$(dirname "$0")/.."
TB=test/live/testbed.sh
trap 'sh "$TB" down --prefix wgt' EXIT INT TERM

ONLY=" $* "
one() { # name pairs threaded duration capture-command...
  name=$1 pairs=$2 threaded=$3 secs=$4
  [ "$ONLY" = "  " ] || case "$ONLY" in *" $name "*) ;; *) return 0 ;; esac
  shift 4
  rm -f "traces/$name" "traces/$name.gz" "traces/$name.partial"
  sh "$TB" up --pairs "$pairs" --threaded "$threaded" --prefix wgt >/dev/null
  sh -c "$*" &
  cap=$!
  n=0
  until head -c 262144 "traces/$name.partial" 2>/dev/null | grep -q '#@probes_start_boot_ns'; do
    n=$((n + 1)); [ $n -lt 600 ] || { echo "probes never attached" >&2; exit 1; }
    sleep 0.1
  done
  sh "$TB" traffic --pairs "$pairs" --seconds $((secs + 2)) --prefix wgt
  wait "$cap"
  sh "$TB" down --prefix wgt
  gzip -9 -n "traces/$name"
}

one events-softirq-3pairs.txt 3 0 2 \
  'sh bpftrace-scripts/capture.sh --mode events --devices "vb*" --duration 2 --netns wgtb --netns wgta -o traces/events-softirq-3pairs.txt'
one events-threaded-2pairs.txt 2 1 2 \
  'node bin/wgtrace.js capture --mode events --devices "vb*" --duration 2 --netns wgtb --netns wgta -o traces/events-threaded-2pairs.txt'
one windows-softirq-3pairs.txt 3 0 10 \
  'node bin/wgtrace.js capture --mode windows --devices "vb*" --duration 10 --interval 10 --netns wgtb --netns wgta -o traces/windows-softirq-3pairs.txt'
one windows-threaded-3pairs.txt 3 1 10 \
  'sh bpftrace-scripts/capture.sh --mode windows --devices "vb*" --duration 10 --interval 10 --netns wgtb --netns wgta -o traces/windows-threaded-3pairs.txt'
one windows-softirq-4pairs.json 4 0 4 \
  'sh bpftrace-scripts/capture.sh --mode windows --format json --devices "vb*" --duration 4 --interval 20 --netns wgtb --netns wgta -o traces/windows-softirq-4pairs.json'
# Format 2 (windows maps as totals, one tuple per key): the windows captures above are format 1
# and stay, as the golden test's inputs and as a check that format 1 is still read.
one windows-format2-softirq-3pairs.txt 3 0 5 \
  'sh bpftrace-scripts/capture.sh --mode windows --devices "vb*" --duration 5 --interval 10 --netns wgtb --netns wgta -o traces/windows-format2-softirq-3pairs.txt'
ls -la traces/
