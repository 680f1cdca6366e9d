#!/bin/sh
# What-if validation on the veth testbed (issue 12): predict threaded NAPI from a softirq-mode
# capture alone, then switch threaded NAPI on and measure what it really changed.
#
#   sh bench/whatif-validation.sh [--experiments "E1 E2 E3 E4 E5"] [--reps 5] [--out DIR]
#                                 [--bpftrace PATH] [--mode windows|events] [--table FILE]
#                                 [--calibration "E2 E5"]
#
# Experiments (issue 12):
#   E1  2 pairs, the senders (iperf3 clients) pinned to cpu 0: veth schedules the peer's NAPI on
#       the sending CPU (drivers/net/veth.c: veth_xmit -> __veth_xdp_flush), so in softirq mode
#       both polls run on cpu 0 beside the senders; napi kthreads may run on cpu 1.
#   E2  3 pairs, unpinned.
#   E3  E2 plus a CPU hog pinned to cpu 1.
#   E4  1, 2, 3 and 4 pairs, unpinned (E4-1 .. E4-4).
#   E5  E4-1's setup (1 pair) run apart: the calibration of the regime where the senders hold
#       the flows and the kthreads find idle CPUs (src/replay/parameters.ts, *_IDLE).
#
# Each experiment is one testbed and one set of iperf3 flows running for the whole experiment;
# threaded NAPI is switched off and on under them (/sys/class/net/<dev>/threaded), --reps times,
# alternating. Each repetition: off, 1 s to settle, 3 s measured; a capture of 3 s (softirq
# mode: the capture the prediction is made from); on, 1 s to settle, 3 s measured. Measured
# throughput is the receiving devices' rx_packets (/sys/class/net/vb<i>/statistics) over the
# measured seconds, with no tracer running; /proc/stat is read at the same instants, so the
# measured per-core utilization of each phase is the kernel's. The experiments the veth threaded
# parameters are calibrated on (--calibration, E2 and E5 by default: src/replay/parameters.ts) also get
# a capture with threaded NAPI on after each "on" phase (capture-threaded-N.txt): the kthread's
# own cost per packet, which bench/whatif-calibrate.mjs reads with the rest of that experiment;
# the experiments that are checked get none (their threaded runs must not inform the model).
# Everything is written to DIR:
# samples.txt (one line per sample: label, wall-clock ns (date +%s%N), packets per device, /proc/stat
# cpu lines), the captures, and the replay results; bench/whatif-validation.mjs reads them,
# prints the table and, with --table FILE, writes it between the markers of FILE
# (docs/models.md).
#
# Needs root, bpftrace, iperf3, ethtool; one testbed at a time (two share the 2 cores).
set -eu

EXPS="E1 E2 E3 E4 E5"
REPS=5
OUT=bench/out/whatif
MODE=windows
TABLE=
CALIBRATION="E2 E5"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
while [ $# -gt 0 ]; do
  case "$1" in
    --experiments) EXPS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --bpftrace) export WGTRACE_BPFTRACE="$2"; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --table) TABLE=$2; shift 2 ;;
    --calibration) CALIBRATION=$2; shift 2 ;;
    *) echo "whatif-validation.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$REPS" in ''|*[!0-9]*) echo "whatif-validation.sh: --reps must be a whole number" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "whatif-validation.sh: must run as root" >&2; exit 2; }
for t in iperf3 ethtool; do command -v $t >/dev/null || { echo "whatif-validation.sh: $t is missing" >&2; exit 2; }; done

PREFIX=wgv
TB="sh $ROOT/test/live/testbed.sh"
HOG=
cleanup() {
  [ -n "$HOG" ] && kill "$HOG" 2>/dev/null || true
  $TB down --prefix $PREFIX
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

mkdir -p "$OUT"

# role_cpu ROLE PID...: " role:ROLE,RUN,WAIT,SLICES", the schedstat of every thread of those
# processes summed (Documentation/scheduler/sched-stats.rst: time on the cpu, time waiting on a
# runqueue, both in ns, and timeslices run). The roles (the iperf3 clients and servers by their
# namespace, the napi kthreads, ksoftirqd) say where each phase's CPU went: not used by the
# checks, read for the diagnosis of the model's per-core utilization (docs/models.md).
role_cpu() {
  role=$1; shift
  for p in "$@"; do cat /proc/$p/task/*/schedstat 2>/dev/null || true; done |
    awk -v r="$role" '{ a += $1; b += $2; c += $3 } END { printf " role:%s,%.0f,%.0f,%.0f", r, a, b, c }'
}

# sample LABEL: one line with the time, each receiving device's rx_packets, and /proc/stat's
# per-cpu lines (fields joined by commas).
sample() {
  {
    printf '%s %s' "$1" "$(date +%s%N)"
    i=0
    while [ "$i" -lt "$PAIRS" ]; do
      printf ' vb%d=%s' "$i" "$(ip netns exec ${PREFIX}b cat /sys/class/net/vb$i/statistics/rx_packets)"
      i=$((i + 1))
    done
    awk '/^cpu[0-9]/ { printf " %s", $1; for (i = 2; i <= NF; i++) printf ",%s", $i }' /proc/stat
    # The iperf3 clients still running: a flow that ended inside a repetition makes its ratio
    # mean nothing (whatif-samples.mjs: repetitionRatio leaves it out).
    clients=$(ip netns pids ${PREFIX}a)
    printf ' flows:%s' "$(for p in $clients; do cat /proc/$p/comm 2>/dev/null; done | grep -c '^iperf3$' || true)"
    role_cpu client $clients
    role_cpu server $(ip netns pids ${PREFIX}b)
    role_cpu napi $(pgrep '^napi/' || true)
    role_cpu ksoftirqd $(pgrep '^ksoftirqd/' || true)
    printf '\n'
  } >>"$DIR/samples.txt"
}

set_threaded() {
  i=0
  while [ "$i" -lt "$PAIRS" ]; do
    ip netns exec ${PREFIX}b sh -c "echo $1 > /sys/class/net/vb$i/threaded"
    i=$((i + 1))
  done
}

run_experiment() { # NAME PAIRS PIN HOG
  NAME=$1; PAIRS=$2; PIN=$3; HOGCPU=$4
  DIR=$OUT/$NAME
  rm -rf "$DIR"; mkdir -p "$DIR"
  echo "== $NAME: $PAIRS pairs${PIN:+, senders on cpu $PIN}${HOGCPU:+, hog on cpu $HOGCPU}, $REPS repetitions" >&2
  printf 'experiment %s pairs %s pin %s hog %s reps %s mode %s\n' "$NAME" "$PAIRS" "${PIN:--}" "${HOGCPU:--}" "$REPS" "$MODE" >"$DIR/samples.txt"
  $TB up --pairs "$PAIRS" --prefix $PREFIX >/dev/null
  # One repetition: 4 s off (settle, measure), the capture (3 s, plus bpftrace's start-up and
  # exit: about 9.5 s with 0.17 here), 4 s on: about 18 s, and up to 26 s with 4 pairs (the run
  # of 2026-12-03 08:17: E4-4's flows ended inside its fifth "on" phase with 22 s allowed); the
  # flows outlast it with a margin (they are stopped when the last repetition ends).
  CALIB=0
  for c in $CALIBRATION; do [ "$c" = "$NAME" ] && CALIB=1; done
  TOTAL=$((REPS * (32 + 10 * CALIB) + 15))
  if [ -n "$HOGCPU" ]; then
    timeout $((TOTAL + 5)) taskset -c "$HOGCPU" sh -c 'while :; do :; done' &
    HOG=$!
  fi
  TESTBED_IPERF_DIR=$DIR $TB traffic --pairs "$PAIRS" --seconds $TOTAL --prefix $PREFIX ${PIN:+--pin $PIN} &
  TPID=$!
  sleep 2
  r=1
  while [ "$r" -le "$REPS" ]; do
    set_threaded 0
    sleep 1
    sample "off-start $r"
    sleep 3
    sample "off-end $r"
    sample "capture-start $r"
    node "$ROOT/bin/wgtrace.js" capture --mode "$MODE" --devices 'vb*' --duration 3 \
      --netns ${PREFIX}b --netns ${PREFIX}a --force -o "$DIR/capture-$r.txt" 2>"$DIR/capture-$r.log"
    sample "capture-end $r"
    set_threaded 1
    sleep 1
    sample "on-start $r"
    sleep 3
    sample "on-end $r"
    if [ "$CALIB" = 1 ]; then
      node "$ROOT/bin/wgtrace.js" capture --mode "$MODE" --devices 'vb*' --duration 3 \
        --netns ${PREFIX}b --netns ${PREFIX}a --force -o "$DIR/capture-threaded-$r.txt" 2>"$DIR/capture-threaded-$r.log"
    fi
    r=$((r + 1))
  done
  set_threaded 0
  kill "$TPID" 2>/dev/null || true
  wait "$TPID" 2>/dev/null || true
  [ -n "$HOG" ] && { kill "$HOG" 2>/dev/null || true; wait "$HOG" 2>/dev/null || true; HOG=; }
  $TB down --prefix $PREFIX
}

for e in $EXPS; do
  case "$e" in
    E1) run_experiment E1 2 0 "" ;;
    E2) run_experiment E2 3 "" "" ;;
    E3) run_experiment E3 3 "" 1 ;;
    E4) for n in 1 2 3 4; do run_experiment "E4-$n" "$n" "" ""; done ;;
    E4-[1-4]) run_experiment "$e" "${e#E4-}" "" "" ;;
    # E4-1's setup run on its own, for the regime where the senders hold the flows
    # (parameters.ts: VETH_THREAD_*_IDLE are calibrated on it, and checked on E4-1).
    E5) run_experiment E5 1 "" "" ;;
    *) echo "whatif-validation.sh: unknown experiment $e" >&2; exit 2 ;;
  esac
done

node "$ROOT/bench/whatif-validation.mjs" --out "$OUT" ${TABLE:+--table "$TABLE"}
