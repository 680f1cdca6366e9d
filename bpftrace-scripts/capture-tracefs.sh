# capture.sh --tracer ftrace|perf: the events capture without bpftrace. Sourced by capture.sh
# (never run alone) after its checks: root, tracefs, output location and free space, PARTIAL
# created, TMPD made; it uses capture.sh's helpers (list_all_devices, counters, now_boot_ns,
# wall_now, die, write_header, trailer_end, finish) and writes the same header and trailer
# (docs/capture-format.md, "Captures made without bpftrace"). The same safety rules: the file is PARTIAL until complete, SIGINT, SIGTERM
# and SIGHUP end it cleanly (`#@status interrupted`), and the tracing set up here is always
# undone (the tracefs instance removed, perf stopped), whatever ends the capture.
#
# What is recorded, as the bpftrace events script does: napi:napi_poll, NET_TX/NET_RX
# softirq_entry/exit (softirq_raise with --with-raise), sched_switch of ksoftirqd/*, napi/*,
# kworker/* and every switch to or from the idle task (the core's idle time), sched_migrate_task
# of napi/*, and the workqueue events of WireGuard's work functions when the module is loaded.
# Not filtered on the device: every poll ends the previous one's span on its CPU (docs/capture.md,
# "Where a poll starts"), and bpftrace's scripts see every poll too (PX); --devices is recorded
# as #@devices_glob and decides at analysis which NAPIs are tunnels.

TRACEFS_EVENTS="napi/napi_poll irq/softirq_entry irq/softirq_exit sched/sched_switch sched/sched_migrate_task"
[ "$WITH_RAISE" = 1 ] && TRACEFS_EVENTS="$TRACEFS_EVENTS irq/softirq_raise"
# include/linux/interrupt.h: NET_TX_SOFTIRQ 2, NET_RX_SOFTIRQ 3.
VEC_FILTER='vec == 2 || vec == 3'
[ "$WITH_RAISE" = 1 ] && RAISE_FILTER='vec == 3'
SWITCH_FILTER='prev_pid == 0 || next_pid == 0 || prev_comm ~ "ksoftirqd/*" || next_comm ~ "ksoftirqd/*" || prev_comm ~ "napi/*" || next_comm ~ "napi/*" || prev_comm ~ "kworker/*" || next_comm ~ "kworker/*"'
MIGRATE_FILTER='comm ~ "napi/*"'

# WireGuard work functions by address (/proc/kallsyms), as gen-script.sh matches them; none
# without the wireguard module, and then no workqueue event is recorded at all.
WQ_FILTER=
FUNCS=${WGTRACE_WG_FUNCS:-wg_packet_decrypt_worker wg_packet_encrypt_worker wg_packet_tx_worker wg_packet_handshake_receive_worker wg_packet_handshake_send_worker}
NWG=0
for f in $FUNCS; do
  addr=$(awk -v f="$f" '$3 == f && ($2 == "t" || $2 == "T") { print $1; exit }' "${WGTRACE_KALLSYMS:-/proc/kallsyms}" 2>/dev/null)
  case "$addr" in ''|0000000000000000) continue ;; esac
  WQ_FILTER="${WQ_FILTER:+$WQ_FILTER || }function == 0x$addr"
  NWG=$((NWG + 1))
done
[ -n "$WQ_FILTER" ] && TRACEFS_EVENTS="$TRACEFS_EVENTS workqueue/workqueue_queue_work workqueue/workqueue_execute_start workqueue/workqueue_execute_end"

# The same size is perf's per-CPU mmap buffer (perf record -m).
if [ -z "$BUFFER_KB" ]; then
  BUFFER_KB=$((262144 / NCPUS))
  [ "$BUFFER_KB" -le 4096 ] || BUFFER_KB=4096
  [ "$BUFFER_KB" -ge 256 ] || BUFFER_KB=256
fi

if [ "$TRACER" = ftrace ]; then
  TRACER_LINE="#@tracer ftrace (tracefs instance, trace_clock mono, buffer_size_kb $BUFFER_KB per CPU)"
else
  TRACER_LINE="#@tracer perf ($(perf --version 2>/dev/null | head -n 1))"
fi
WG_FUNCS=$NWG
write_header "$TRACER_LINE"

STATUS=complete
STOP=0
READER_PID=
INST=
PERF_PID=
on_signal() { STATUS=interrupted; STOP=1; [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null; }
trap 'on_signal' INT TERM HUP

# The tracing set up here, undone whatever happens (EXIT runs after a signal handler too).
undo() {
  if [ -n "$INST" ] && [ -d "$INST" ]; then
    echo 0 > "$INST/tracing_on" 2>/dev/null
    [ -n "$READER_PID" ] && { kill -KILL "$READER_PID" 2>/dev/null; wait "$READER_PID" 2>/dev/null; }
    for e in $TRACEFS_EVENTS; do echo 0 > "$INST/events/$e/enable" 2>/dev/null; done
    rmdir "$INST" 2>/dev/null || echo "capture.sh: could not remove the tracefs instance $INST" >&2
  fi
  [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null
  rm -rf "$TMPD"
}
trap undo EXIT

# Sleep in short steps so that a signal ends the capture within 0.1 s.
wait_duration() {
  i=0
  while [ "$STOP" = 0 ]; do
    if [ "$DURATION" -gt 0 ] && [ "$i" -ge $((DURATION * 10)) ]; then break; fi
    sleep 0.1 2>/dev/null || sleep 1
    i=$((i + 1))
  done
}

if [ "$TRACER" = ftrace ]; then
  # A private instance (kernel/trace/trace.c: instance_mkdir): its own buffer, events, filters
  # and tracing_on, so the user's own tracing is left as it is.
  INST=$TRACEFS/instances/wgtrace-$$
  mkdir "$INST" 2>/dev/null || { rm -f "$PARTIAL"; die "cannot create the tracefs instance $INST"; }
  # CLOCK_MONOTONIC: the clock of #@start_boot_ns and of bpftrace's nsecs (trace_clock "mono",
  # kernel/trace/trace.c: trace_clocks[]).
  echo mono > "$INST/trace_clock" || { rm -f "$PARTIAL"; die "trace_clock mono is not available in $INST"; }
  # Real NAPI pointers, as bpftrace prints them, not the per-boot hashes of %p (options/hash-ptr).
  [ -e "$INST/options/hash-ptr" ] && echo 0 > "$INST/options/hash-ptr"
  echo "$BUFFER_KB" > "$INST/buffer_size_kb" || { rm -f "$PARTIAL"; die "cannot set buffer_size_kb $BUFFER_KB in $INST"; }
  setf() { echo "$2" > "$INST/events/$1/filter" || { rm -f "$PARTIAL"; die "cannot set the filter of $1 ($2)"; }; }
  setf irq/softirq_entry "$VEC_FILTER"
  setf irq/softirq_exit "$VEC_FILTER"
  [ "$WITH_RAISE" = 1 ] && setf irq/softirq_raise "$RAISE_FILTER"
  setf sched/sched_switch "$SWITCH_FILTER"
  setf sched/sched_migrate_task "$MIGRATE_FILTER"
  if [ -n "$WQ_FILTER" ]; then
    setf workqueue/workqueue_queue_work "$WQ_FILTER"
    setf workqueue/workqueue_execute_start "$WQ_FILTER"
    setf workqueue/workqueue_execute_end "$WQ_FILTER"
  fi
  for e in $TRACEFS_EVENTS; do echo 1 > "$INST/events/$e/enable" || { rm -f "$PARTIAL"; die "cannot enable $e"; }; done
  # trace_pipe is a consuming reader: events leave the buffer as they are written to the file,
  # and an overflow shows where it happened ("CPU:N [LOST M EVENTS]").
  # The reader ignores the terminal's signals (a Ctrl-C must not cut the file short); it is
  # stopped with SIGKILL once the buffer is drained, when it can only be waiting in read().
  echo 1 > "$INST/tracing_on"
  echo "#@probes_start_boot_ns $(now_boot_ns)" >> "$PARTIAL"
  counters before > "$COUNTERS_BEFORE"
  (trap '' INT TERM HUP; exec cat "$INST/trace_pipe") >> "$PARTIAL" &
  READER_PID=$!
  wait_duration
  # The counters are read while the tracer still records, then it stops: every softirq the
  # kernel counted before the read is in the capture. Read after the stop, they also counted
  # what ran in between, which no event shows: on a loaded machine with traffic running, perf
  # stopped 27 ms and its last NET_RX entry came 36 ms before the read, and cpu0 counted 411
  # NET_RX (0.8%) more than the capture held (docs/capture-format.md, "Counters").
  counters after > "$TMPD/counters.after"
  echo 0 > "$INST/tracing_on"
  STOP_NS=$(now_boot_ns)
  # Let the reader drain the buffer (entries: 0 on every CPU), then stop it.
  n=0
  while [ $n -lt 100 ]; do
    left=$(cat "$INST"/per_cpu/cpu*/stats 2>/dev/null | awk '/^entries:/ { s += $2 } END { print s + 0 }')
    [ "$left" = 0 ] && break
    sleep 0.05 2>/dev/null || sleep 1
    n=$((n + 1))
  done
  sleep 0.2 2>/dev/null || sleep 1
  kill -KILL "$READER_PID" 2>/dev/null
  wait "$READER_PID" 2>/dev/null
  READER_PID=
  STATS=$(for f in "$INST"/per_cpu/cpu*/stats; do
    c=${f%/stats}; c=${c##*/cpu}
    awk -v c="$c" -F': *' '{ k = $1; gsub(/ /, "_", k); v[k] = $2 + 0 } END { printf "#@ftrace_cpu %s entries=%d overrun=%d commit_overrun=%d dropped_events=%d read_events=%d\n", c, v["entries"], v["overrun"], v["commit_overrun"], v["dropped_events"], v["read_events"] }' "$f"
  done)
else
  # perf record of the same tracepoints and filters, on CLOCK_MONOTONIC (-k mono), then perf
  # script --ns with its lost-event records (docs/formats.md).
  PERF_DATA=$TMPD/perf.data
  set -- -e napi:napi_poll -e irq:softirq_entry --filter "$VEC_FILTER" -e irq:softirq_exit --filter "$VEC_FILTER" \
    -e sched:sched_switch --filter "$SWITCH_FILTER" -e sched:sched_migrate_task --filter "$MIGRATE_FILTER"
  [ "$WITH_RAISE" = 1 ] && set -- "$@" -e irq:softirq_raise --filter "$RAISE_FILTER"
  if [ -n "$WQ_FILTER" ]; then
    set -- "$@" -e workqueue:workqueue_queue_work --filter "$WQ_FILTER" -e workqueue:workqueue_execute_start --filter "$WQ_FILTER" -e workqueue:workqueue_execute_end --filter "$WQ_FILTER"
  fi
  (trap '' INT TERM HUP; exec perf record -q -a -k mono -m "${BUFFER_KB}K" -o "$PERF_DATA" "$@") > "$TMPD/perf.err" 2>&1 &
  PERF_PID=$!
  # perf opens its events before it counts as started; wait for the data file.
  n=0
  while [ ! -s "$PERF_DATA" ] && [ $n -lt 100 ] && kill -0 "$PERF_PID" 2>/dev/null; do sleep 0.05 2>/dev/null || sleep 1; n=$((n + 1)); done
  kill -0 "$PERF_PID" 2>/dev/null || { rm -f "$PARTIAL"; die "perf record failed: $(tail -n 2 "$TMPD/perf.err" | tr '\n' ' ')" 1; }
  # perf writes its file header before every event is enabled on every CPU: the start mark and
  # the counters come a second later, so that nothing the counters count before them is missed
  # (seen: 3.5% of NET_RX missing with the mark at the file's creation).
  sleep 1
  echo "#@probes_start_boot_ns $(now_boot_ns)" > "$TMPD/start"
  counters before > "$COUNTERS_BEFORE"
  wait_duration
  # Read before perf stops, as for ftrace above.
  counters after > "$TMPD/counters.after"
  kill -INT "$PERF_PID" 2>/dev/null
  STOP_NS=$(now_boot_ns)
  wait "$PERF_PID" 2>/dev/null
  PERF_PID=
  cat "$TMPD/start" >> "$PARTIAL"
  perf script -i "$PERF_DATA" --ns --show-lost-events 2> "$TMPD/perf-script.err" >> "$PARTIAL" \
    || die "perf script failed: $(tail -n 2 "$TMPD/perf-script.err" | tr '\n' ' '); the capture is incomplete, left as $PARTIAL" 1
  # perf script --show-lost-events: "PERF_RECORD_LOST lost N" where the ring buffer overflowed.
  STATS="#@perf_lost $(awk '/PERF_RECORD_LOST/ { for (i = 1; i < NF; i++) if ($i == "lost") s += $(i + 1) } END { print s + 0 }' "$PARTIAL" 2>/dev/null)"
fi
trap - INT TERM HUP

{
  echo "#@probes_stop_boot_ns $STOP_NS"
  [ -n "$STATS" ] && echo "$STATS"
  cat "$COUNTERS_BEFORE"
  cat "$TMPD/counters.after"
  trailer_end
} >> "$PARTIAL" 2>/dev/null || die "cannot write the trailer (disk full?): the capture is incomplete, left as $PARTIAL" 1
finish ", $TRACER"
