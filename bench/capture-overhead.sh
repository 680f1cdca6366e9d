#!/bin/sh
# Capture overhead on the veth testbed (issue 2): iperf3 throughput with no capture, with the
# events script, with the windows script, and with `perf record` of the same tracepoints, in
# one run, each printed as a ratio to no capture (median of --reps runs, conditions rotated so
# drift hits all of them alike). Needs root, bpftrace, iperf3, ethtool, perf.
#
#   sh bench/capture-overhead.sh [--reps 5] [--seconds 5] [--pairs 2] [--threaded 0|1]
#                                [--conditions "none events windows perf ftrace"] [--baseline-tree DIR]
#                                [--interleaved] [--bpftrace PATH]
#
# Conditions: none, events and windows (capture.sh with bpftrace; --bpftrace PATH picks the
# bpftrace, e.g. a chroot wrapper of test/live/bpftrace-chroot.sh), perf (a bare perf record of
# the events script's tracepoints), ftrace and perf-capture (capture.sh --tracer ftrace|perf: the
# captures made without bpftrace), node-events and node-windows (`wgtrace capture`, the Node
# wrapper), and bt:FILE (bpftrace FILE, output to a file; an executable FILE is run itself, as a
# wrapper of bpftrace: to compare variants of a script, or ways of reading it, in one run).
#
# Goals: windows <= 5% cost (ratio >= 0.95); events costs no more than perf record
# (ratio_events >= ratio_perf). Figures: bench/README.md, "Capture overhead".
#
# Each repetition runs every condition once (order rotated); a condition's ratio is the median
# over repetitions of its throughput divided by the no-capture throughput of the same
# repetition (paired, so slow drift of the shared machine cancels), and the ratio of the
# medians is printed beside it.
# --interleaved: the flows run once, for the whole bench, and the conditions take turns on
# them (--seconds each, order rotated per repetition); each phase's throughput is the mean of
# iperf3's 1-second intervals that lie wholly inside it, from 0.5 s after the probes attached
# to the moment the tool is stopped (bpftrace's start-up, which compiles the script, is left
# out). Neighbours' load on this shared VM shifts the throughput on a scale of ~10 s, so
# pairing phases a few seconds apart cancels more of it than separate iperf3 runs do;
# bench/overhead-phases.mjs computes the ratios. --baseline-tree DIR adds the condition `windows-base`: the
# windows capture of another checkout (`events-base`, when listed: its events capture; e.g.
# `git worktree add /tmp/base HEAD~3`), to compare
# two versions of the script in one run.
#
# Throughput on a shared 2-core VM is noisy, so the bench also prints what the tracer itself
# burned per second of traffic, which does not depend on the neighbours: the BPF programs' run
# time (kernel.bpf_stats_enabled=1, `run_time_ns` in /proc/<bpftrace>/fdinfo) and bpftrace's own
# user+system CPU (/proc/<pid>/stat), as a share of the machine's CPU capacity. Those come from
# one extra run per bpftrace condition after the throughput runs: BPF statistics add two clock
# reads to every program run, so they stay off while throughput is measured (as on a gateway).
set -eu

REPS=5
SECS=5
PAIRS=2
THREADED=0
CONDS="none events windows perf"
BASE_TREE=
INTERLEAVED=0
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --pairs) PAIRS=$2; shift 2 ;;
    --threaded) THREADED=$2; shift 2 ;;
    --conditions) CONDS=$2; shift 2 ;;
    --baseline-tree) BASE_TREE=$2; shift 2 ;;
    --interleaved) INTERLEAVED=1; shift ;;
    --bpftrace) WGTRACE_BPFTRACE=$2; export WGTRACE_BPFTRACE; shift 2 ;;
    *) echo "usage: $0 [--reps N] [--seconds S] [--pairs N] [--threaded 0|1] [--conditions LIST] [--baseline-tree DIR] [--interleaved] [--bpftrace PATH]" >&2; exit 64 ;;
  esac
done
for c in $CONDS; do
  case "$c" in none|events|windows|perf|ftrace|perf-capture|node-events|node-windows) ;; events-base) [ -n "$BASE_TREE" ] || { echo "capture-overhead: events-base needs --baseline-tree" >&2; exit 64; } ;; bt:*) [ -f "${c#bt:}" ] || { echo "capture-overhead: no script ${c#bt:}" >&2; exit 64; } ;; *) echo "capture-overhead: unknown condition $c" >&2; exit 64 ;; esac
done
case " $CONDS " in *" none "*) ;; *) CONDS="none $CONDS" ;; esac
if [ -n "$BASE_TREE" ]; then
  [ -f "$BASE_TREE/bpftrace-scripts/capture.sh" ] || { echo "capture-overhead: no bpftrace-scripts/capture.sh under $BASE_TREE" >&2; exit 64; }
  CONDS="$CONDS windows-base"
fi

HERE=$(cd "$(dirname "$0")/.." && pwd)
TB="$HERE/test/live/testbed.sh"
CAP="$HERE/bpftrace-scripts/capture.sh"
PREFIX=wgb
WORK=$(mktemp -d /tmp/wgtrace-bench.XXXXXX)
export TESTBED_IPERF_DIR="$WORK"
for c in "${WGTRACE_BPFTRACE:-bpftrace}" iperf3 ethtool; do
  command -v "$c" >/dev/null 2>&1 || { echo "capture-overhead: $c is missing" >&2; exit 2; }
done
echo "capture-overhead: $("${WGTRACE_BPFTRACE:-bpftrace}" --version 2>/dev/null | head -n 1), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
case " $CONDS " in *" perf "*) command -v perf >/dev/null 2>&1 || { echo "capture-overhead: perf is missing" >&2; exit 2; } ;; esac
[ "$(id -u)" = 0 ] || { echo "capture-overhead: must run as root" >&2; exit 2; }

TOOL_PID=
BT_PID=
STATS_WAS=$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null || echo 0)
NCPU=$(getconf _NPROCESSORS_ONLN)
HZ=$(getconf CLK_TCK)
cleanup() {
  echo "$STATS_WAS" > /proc/sys/kernel/bpf_stats_enabled 2>/dev/null || true
  [ -n "$TOOL_PID" ] && kill -TERM "$TOOL_PID" 2>/dev/null && wait "$TOOL_PID" 2>/dev/null
  sh "$TB" down --prefix "$PREFIX"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sh "$TB" up --pairs "$PAIRS" --threaded "$THREADED" --prefix "$PREFIX" >/dev/null
echo 0 > /proc/sys/kernel/bpf_stats_enabled 2>/dev/null || true

# BPF run time (ns) of a process's programs and its user+sys ticks.
bpf_ns() { cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '/^run_time_ns:/ { s += $2 } END { printf "%.0f", s }'; }
cpu_ticks() { awk '{ print $14 + $15 }' /proc/"$1"/stat 2>/dev/null || echo 0; }

# iperf3 servers are one-off (-1): restart them before each measurement.
servers() {
  i=0
  while [ "$i" -lt "$PAIRS" ]; do
    ip netns exec "${PREFIX}b" iperf3 -s -1 -D -B "198.18.$i.2" -p $((5301 + i)) >/dev/null 2>&1 || true
    i=$((i + 1))
  done
  sleep 0.3
}

# Sum of the flows' received bits/s from iperf3 -J.
throughput() {
  i=0; sum=0
  while [ "$i" -lt "$PAIRS" ]; do
    b=$(tr -d ' \t\n' < "$WORK/$PREFIX-iperf-$i.json" | sed -n 's/.*"sum_received":{[^}]*"bits_per_second":\([0-9.e+]*\).*/\1/p')
    sum=$(awk -v a="$sum" -v b="${b:-0}" 'BEGIN { printf "%.0f", a + b }')
    i=$((i + 1))
  done
  echo "$sum"
}

wait_mark() { # file: wait (bounded) until the capture's probes are attached
  n=0
  while [ $n -lt 600 ]; do
    head -c 262144 "$1" 2>/dev/null | grep -q '#@probes_start_boot_ns' && return 0
    n=$((n + 1)); sleep 0.1
  done
  echo "capture-overhead: probes never attached" >&2; return 1
}

start_tool() { # condition
  TOOL_PID=
  case "$1" in
    none) ;;
    events|windows|windows-base|events-base)
      cap=$CAP; mode=$1
      case "$1" in *-base) cap=$BASE_TREE/bpftrace-scripts/capture.sh; mode=${1%-base} ;; esac
      sh "$cap" --mode "$mode" --devices 'vb*' --duration 0 -o "$WORK/$1.txt" --force 2>/dev/null &
      TOOL_PID=$!
      wait_mark "$WORK/$1.txt.partial"
      BT_PID=$(pgrep -P "$TOOL_PID" -x bpftrace | head -n 1)
      ;;
    node-events|node-windows)
      # `wgtrace capture` (src/capture/run.ts), the Node wrapper, with the same bpftrace.
      node "$HERE/bin/wgtrace.js" capture --mode "${1#node-}" --devices 'vb*' --duration 0 -o "$WORK/$1.txt" --force ${WGTRACE_BPFTRACE:+--bpftrace "$WGTRACE_BPFTRACE"} >/dev/null 2>&1 &
      TOOL_PID=$!
      wait_mark "$WORK/$1.txt.partial"
      BT_PID=$(pgrep -P "$TOOL_PID" -x bpftrace | head -n 1)
      ;;
    bt:*)
      # A bare bpftrace script (e.g. a variant of a generated one, to find what a probe costs);
      # its BEGIN must print `#@probes_start_boot_ns`, as the generated scripts do.
      if [ -x "${1#bt:}" ]; then "${1#bt:}" > "$WORK/bt.txt" 2>/dev/null &
      else "${WGTRACE_BPFTRACE:-bpftrace}" "${1#bt:}" > "$WORK/bt.txt" 2>/dev/null &
      fi
      TOOL_PID=$!
      wait_mark "$WORK/bt.txt"
      BT_PID=$TOOL_PID
      ;;
    ftrace|perf-capture)
      tracer=$1; [ "$1" = perf-capture ] && tracer=perf
      sh "$CAP" --tracer "$tracer" --mode events --devices 'vb*' --duration 0 -o "$WORK/$1.txt" --force 2>/dev/null &
      TOOL_PID=$!
      if [ "$tracer" = ftrace ]; then wait_mark "$WORK/$1.txt.partial"; else sleep 2; fi
      ;;
    perf)
      # The events script's tracepoints and filters, as perf filters (kernel/trace/trace_events_filter.c).
      # napi_poll unfiltered: the events script sees every poll (P for the traced devices, PX
      # with the end time for the others).
      perf record -a -q -o "$WORK/perf.data" \
        -e napi:napi_poll \
        -e irq:softirq_entry --filter 'vec == 2 || vec == 3' \
        -e irq:softirq_exit --filter 'vec == 2 || vec == 3' \
        -e sched:sched_switch --filter 'prev_comm ~ "ksoftirqd/*" || prev_comm ~ "napi/*" || next_comm ~ "ksoftirqd/*" || next_comm ~ "napi/*"' \
        -e sched:sched_migrate_task --filter 'comm ~ "napi/*"' \
        >/dev/null 2>&1 &
      TOOL_PID=$!
      sleep 2
      ;;
  esac
}

stop_tool() {
  if [ -n "$TOOL_PID" ]; then
    # A background job of a non-interactive shell starts with SIGINT ignored, and a shell
    # cannot trap a signal ignored at entry (POSIX): capture.sh is stopped with SIGTERM.
    # perf and bpftrace install their own handlers, so SIGINT reaches them.
    kill -TERM "$TOOL_PID" 2>/dev/null || true
    wait "$TOOL_PID" 2>/dev/null || true
    TOOL_PID=
  fi
  rm -f "$WORK"/*.txt "$WORK"/*.partial "$WORK"/perf.data*
}

now_s() { date +%s.%N; }

if [ "$INTERLEAVED" = 1 ]; then
  ncond=$(echo $CONDS | wc -w)
  # Each phase: up to ~3 s of bpftrace start-up, the measured seconds, 1 s to settle.
  total=$((REPS * ncond * (SECS + 5) + 10))
  servers
  i=0
  : > "$WORK/phases"
  echo "$(now_s)" > "$WORK/t0"
  while [ "$i" -lt "$PAIRS" ]; do
    timeout $((total + 30)) ip netns exec "${PREFIX}a" iperf3 -c "198.18.$i.2" -B "198.18.$i.1" \
      -p $((5301 + i)) -t "$total" -i 1 -f m --forceflush > "$WORK/flow-$i.log" 2>&1 &
    i=$((i + 1))
  done
  sleep 2
  r=1
  while [ "$r" -le "$REPS" ]; do
    order=$(echo $CONDS | awk -v k="$r" '{ n = NF; for (i = 0; i < n; i++) printf "%s ", $(((i + k) % n) + 1) }')
    for c in $order; do
      start_tool "$c"
      sleep 0.5
      a=$(now_s)
      sleep "$SECS"
      b=$(now_s)
      stop_tool
      echo "$r $c $a $b" >> "$WORK/phases"
      printf 'rep %d %-12s phase %.1f-%.1f s\n' "$r" "$c" "$(awk -v x="$a" -v t="$(cat "$WORK/t0")" 'BEGIN { print x - t }')" "$(awk -v x="$b" -v t="$(cat "$WORK/t0")" 'BEGIN { print x - t }')" >&2
      sleep 1
    done
    r=$((r + 1))
  done
  # The flows end on their own (-t); wait for their last intervals.
  wait
  echo "capture overhead (interleaved): $PAIRS veth pairs, threaded=$THREADED, $REPS repetitions of ${SECS}s phases on one set of flows"
  node "$HERE/bench/overhead-phases.mjs" "$WORK/t0" "$WORK/phases" "$WORK"/flow-*.log
  exit 0
fi

# One measurement: condition, then "throughput" or "cpu" (the latter with BPF statistics on).
measure() { # condition what
  servers
  BT_PID=
  start_tool "$1"
  if [ "$2" = cpu ] && [ -n "$BT_PID" ]; then b0=$(bpf_ns "$BT_PID"); t0=$(cpu_ticks "$BT_PID"); fi
  sh "$TB" traffic --pairs "$PAIRS" --seconds "$SECS" --prefix "$PREFIX" || true
  if [ "$2" = cpu ] && [ -n "$BT_PID" ]; then
    b1=$(bpf_ns "$BT_PID"); t1=$(cpu_ticks "$BT_PID")
    # share of all CPUs' time during the traffic: BPF programs, bpftrace user space
    echo "$1 $(awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" -v s="$SECS" -v n="$NCPU" -v hz="$HZ" 'BEGIN { printf "%.4f %.4f", b / 1e9 / s / n, t / hz / s / n }')" >> "$WORK/cpu"
  fi
  stop_tool
  t=$(throughput)
  [ "$2" = throughput ] && echo "$r $1 $t" >> "$WORK/results"
  printf 'rep %s %-12s %6.2f Gbit/s%s\n' "$r" "$1" "$(awk -v t="$t" 'BEGIN { print t / 1e9 }')" "$([ "$2" = cpu ] && echo '  (BPF stats on: CPU figures only)')" >&2
}

r=1
while [ "$r" -le "$REPS" ]; do
  # rotate the order each repetition
  order=$(echo $CONDS | awk -v k="$r" '{ n = NF; for (i = 0; i < n; i++) printf "%s ", $(((i + k) % n) + 1) }')
  for c in $order; do measure "$c" throughput; done
  r=$((r + 1))
done
echo 1 > /proc/sys/kernel/bpf_stats_enabled 2>/dev/null || true
r=cpu
for c in $CONDS; do
  case "$c" in events|windows|windows-base|events-base) measure "$c" cpu ;; esac
done
echo 0 > /proc/sys/kernel/bpf_stats_enabled 2>/dev/null || true

echo "capture overhead: $PAIRS veth pairs, threaded=$THREADED, ${SECS}s iperf3 runs, $REPS repetitions"
echo "ratio to no capture: median of per-repetition ratios (paired), and ratio of medians"
awk -v conds="$CONDS" '
  { t[$1, $2] = $3; if (!($1 in seenr)) { seenr[$1] = 1; reps[++nr] = $1 } }
  function median(a, k,   i, j, x) {
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
    return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  END {
    nc = split(conds, order, " ")
    for (i = 1; i <= nc; i++) { c = order[i]; k = 0; split("", v); for (j = 1; j <= nr; j++) if ((reps[j], c) in t) v[++k] = t[reps[j], c]; med[c] = median(v, k) }
    for (i = 1; i <= nc; i++) {
      c = order[i]; k = 0; split("", q)
      for (j = 1; j <= nr; j++) if ((reps[j], c) in t && t[reps[j], "none"] > 0) q[++k] = t[reps[j], c] / t[reps[j], "none"]
      paired[c] = median(q, k)
      printf "%-12s %7.2f Gbit/s  ratio %.3f  (ratio of medians %.3f)\n", c, med[c] / 1e9, paired[c], med[c] / med["none"]
    }
    if ("windows" in paired) printf "goal windows cost <= 5%%: %s (%.1f%%)\n", (paired["windows"] >= 0.95 ? "met" : "NOT met"), 100 * (1 - paired["windows"])
    if (("events" in paired) && ("perf" in paired)) printf "goal events cost <= perf record cost: %s (events %.1f%%, perf %.1f%%)\n", (paired["events"] >= paired["perf"] ? "met" : "NOT met"), 100 * (1 - paired["events"]), 100 * (1 - paired["perf"])
  }' "$WORK/results"
if [ -s "$WORK/cpu" ]; then
  echo "tracer CPU, share of all $NCPU CPUs during one run with BPF statistics on: BPF programs + bpftrace user space"
  awk '{ printf "%-12s BPF %5.1f%%  bpftrace %5.1f%%  total %5.1f%%\n", $1, 100 * $2, 100 * $3, 100 * ($2 + $3) }' "$WORK/cpu"
fi
