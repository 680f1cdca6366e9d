#!/bin/sh
# wgtrace capture for gateways without Node.js: POSIX sh (tested with dash), bpftrace, tracefs.
#
#   capture.sh [--mode events|windows] [--duration SECONDS] [--devices GLOB] [--interval MS]
#              [-o PATH] [--force] [--format text|json] [--netns NAME]... [--with-raise]
#              [--max-tunnels N] [--bpftrace PATH] [--print-script]
#              [--tracer bpftrace|ftrace|perf] [--buffer-kb N]
#
# Writes docs/capture-format.md: header, bpftrace's output, counters, trailer. The capture is
# written to PATH.partial and renamed to PATH only when bpftrace ended cleanly (duration over,
# or SIGINT/SIGTERM/SIGHUP, then `#@status interrupted`). A capture cut off any other way
# (bpftrace killed, disk full, this script killed) keeps the .partial name and has no
# `#@status` line, so nobody mistakes it for a whole one.
#
# Clock: bpftrace's `nsecs` is bpf_ktime_get_ns(), CLOCK_MONOTONIC (kernel/bpf/helpers.c).
# The wrapper reads the same clock from /proc/timer_list ("now at N nsecs" is ktime_get(),
# exact to the ns, a few us late from the read itself); where that is unreadable it falls
# back to /proc/uptime (10 ms steps). The probes' own start and stop come from the script's
# BEGIN and END (`#@probes_start_boot_ns`, `#@probes_stop_boot_ns`), exact.
# Counters (/proc/softirqs, /proc/net/softnet_stat, /proc/stat) are read when the probes are
# attached (a watcher polls the output for the BEGIN mark every 20 ms, and in windows mode the
# output reaches the file in 10 ms turns until then (drain), so the block is at most ~30 ms
# late, ~50 ms seen here; it is written in the trailer as `#@counters before`) and again while the
# probes still run, 200 ms before the script's own exit is due, or by the signal handler before it
# stops bpftrace (`#@counters after`; after bpftrace exited when the watcher was late).
# `wgtrace capture` reads them as the marks arrive on its pipe (the after block at END's mark).
set -u

VERSION=0.1.0
# A newline, for parameter expansions that split a captured output by lines.
NL='
'
FORMAT_VERSION=5
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -r "$HERE/../package.json" ]; then
  v=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$HERE/../package.json" | head -n 1)
  [ -n "$v" ] && VERSION=$v
fi

MODE=events
DURATION=10
DEVICES='wg*'
INTERVAL=10
OUT=
FORCE=0
FMT=text
NETNS=
PRINT_SCRIPT=0
GEN_EXTRA=
# bpftrace (default), or no bpftrace at all: ftrace (tracefs alone) or perf (perf record).
TRACER=bpftrace
# ftrace: per-CPU ring buffer of our tracefs instance, KiB (default: 4 MiB, at most 256 MiB in all).
BUFFER_KB=
WITH_RAISE=0
# WGTRACE_BPFTRACE: another bpftrace binary (a newer static build on an old distribution).
BPFTRACE=${WGTRACE_BPFTRACE:-bpftrace}
# Free space required before probes are attached. Windows mode writes about
# CPUs x 12 lines x ~40 bytes per window when all CPUs are busy; events mode up to ~10 MB/s.
MIN_FREE_KB=1024

die() { echo "capture.sh: $1" >&2; exit "${2:-2}"; }
usage() { sed -n '3,5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 64; }
isnum() { case "$1" in ''|*[!0-9]*) return 1 ;; *) return 0 ;; esac; }

now_boot_ns() {
  n=$(awk '/^now at [0-9]+ nsecs/ { print $3; exit }' /proc/timer_list 2>/dev/null)
  if [ -z "$n" ]; then
    n=$(awk '{ split($1, a, "."); printf "%d%02d0000000\n", a[1], a[2] }' /proc/uptime)
  fi
  echo "$n"
}
wall_now() {
  w=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ 2>/dev/null)
  case "$w" in *N*|'') w=$(date -u +%Y-%m-%dT%H:%M:%SZ) ;; esac
  echo "$w"
}

# One `#@dev` line per network device of the current namespace (docs/capture-format.md).
# kind: wireguard (uevent DEVTYPE=wireguard), veth (driver veth), physical (has a bus device),
# other (lo, ifb, bridges...). irqs: the MSI vectors of the device's bus device.
list_devices() {
  label=$1
  for d in /sys/class/net/*; do
    [ -e "$d" ] || continue
    name=${d##*/}
    # Every namespace has its own lo: only the root namespace's is described (names stay unique).
    [ -n "$label" ] && [ "$name" = lo ] && continue
    devtype=$(sed -n 's/^DEVTYPE=//p' "$d/uevent" 2>/dev/null)
    driver=
    if [ -e "$d/device/driver" ]; then driver=$(basename "$(readlink "$d/device/driver")"); fi
    if [ -z "$driver" ] && command -v ethtool >/dev/null 2>&1; then
      driver=$(ethtool -i "$name" 2>/dev/null | sed -n 's/^driver: //p')
    fi
    if [ "$devtype" = wireguard ] || [ "$driver" = wireguard ]; then kind=wireguard
    elif [ "$driver" = veth ]; then kind=veth
    elif [ -e "$d/device" ]; then kind=physical
    else kind=other
    fi
    threaded=$(cat "$d/threaded" 2>/dev/null || echo -)
    rxq=$(ls -d "$d"/queues/rx-* 2>/dev/null | wc -l | tr -d ' ')
    irqs=
    for m in "$d/device/msi_irqs" "$d/device/../msi_irqs"; do
      if [ -d "$m" ]; then irqs=$(ls "$m" | sort -n | tr '\n' ',' | sed 's/,$//'); break; fi
    done
    irq_cpus=
    if [ -n "$irqs" ]; then
      old_ifs=$IFS; IFS=,
      for i in $irqs; do
        c=$(cat "/proc/irq/$i/effective_affinity_list" 2>/dev/null || echo -)
        irq_cpus="${irq_cpus:+$irq_cpus/}$c"
      done
      IFS=$old_ifs
    fi
    line="#@dev name=$name kind=$kind threaded=$threaded rx_queues=$rxq irqs=${irqs:--}"
    [ -n "$irq_cpus" ] && line="$line irq_cpus=$irq_cpus"
    rps=$(cat "$d/queues/rx-0/rps_cpus" 2>/dev/null | tr -d ',' | sed 's/^0*//')
    [ -n "$rps" ] && line="$line rps_cpus=$rps"
    [ -n "$driver" ] && line="$line driver=$driver"
    # WireGuard Inline fork knobs (docs/facts.md, "WireGuard Inline knobs"), recorded when present.
    for k in inline_en encrypt_cpumask decrypt_cpumask; do
      if [ -r "$d/$k" ]; then line="$line $k=$(tr -d ' \n' < "$d/$k")"; else [ "$k" = inline_en ] && line="$line inline_en=-"; fi
    done
    [ -n "$label" ] && line="$line netns=$label"
    echo "$line"
  done
}

# Every network namespace's devices, not only this one's: a tunnel's device may live in a
# namespace of its own (a container, a VRF-like setup), and its napi_poll events name the device
# without the namespace. Named namespaces (/run/netns, `ip netns`) by name, any other one held by
# a process as `pid<PID>`, each once (by inode). sysfs shows the devices of the namespace it was
# mounted in, so each listing runs in a private mount namespace with sysfs mounted anew there
# (what `ip netns exec` does): nothing of the gateway's mounts changes.
list_ns_devices() { # nsfile label
  if command -v nsenter >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1; then
    nsenter --net="$1" -- unshare --mount --propagation private -- sh -c 'mount -t sysfs sysfs /sys 2>/dev/null && exec sh "$0" --list-devices "$1"' "$0" "$2" 2>/dev/null \
      || echo "#@warning cannot list devices of netns $2"
  else
    echo "#@warning cannot list devices of netns $2 (nsenter and unshare, util-linux, are needed)"
  fi
}
list_all_devices() {
  list_devices ""
  self=$(stat -L -c %i /proc/self/ns/net 2>/dev/null)
  # One `ls` for all processes (a fork per process would take seconds on a busy gateway).
  { ls -l /run/netns/ 2>/dev/null | awk 'NF >= 9 { print "/run/netns/" $NF }' | while read -r f; do echo "$(stat -L -c %i "$f" 2>/dev/null) $f ${f##*/}"; done
    ls -l /proc/[0-9]*/ns/net 2>/dev/null | awk '$(NF-1) == "->" { l = $NF; gsub(/[^0-9]/, "", l); p = $(NF-2); split(p, a, "/"); print l, p, "pid" a[3] }'
  } | awk -v self="$self" '$1 != "" && $1 != self && !seen[$1]++ { print $2, $3 }' | while read -r f label; do
    list_ns_devices "$f" "$label"
  done
}

# `#@counters <label> boot_ns=N` then /proc/softirqs rows, softnet_stat rows (keyed by the CPU id
# in column 13, not the row number: net/core/net-procfs.c: softnet_seq_show), /proc/stat cpuN.
# The stamp is the midpoint of two clock reads around the /proc/softirqs read, all three made by
# one awk: a clock read of its own forks a process (milliseconds on a loaded gateway), and the
# events of those milliseconds counted on either side of the stamp (a stamp taken before the
# read alone: +0.6% NET_RX against the kernel; a midpoint of three processes: +0.7% on a loaded
# machine, docs/capture-format.md, "Counters"). Without /proc/timer_list, now_boot_ns's clock.
counters() {
  snap=$(awk 'function now(   l, a, n) { n = ""; while ((getline l < "/proc/timer_list") > 0) if (l ~ /^now at [0-9]+ nsecs/) { split(l, a, " "); n = a[3]; break }; close("/proc/timer_list"); return n }
    BEGIN { t1 = now(); k = 0; while ((getline l < "/proc/softirqs") > 0) s[k++] = l; close("/proc/softirqs"); t2 = now(); print t1; print t2; for (i = 0; i < k; i++) print s[i] }')
  # Its three parts by parameter expansion (no process: this runs while the capture records).
  t1=${snap%%"$NL"*}
  rest=${snap#*"$NL"}
  t2=${rest%%"$NL"*}
  sirq=${rest#*"$NL"}
  if ! isnum "$t1" || ! isnum "$t2"; then
    t1=$(now_boot_ns)
    sirq=$(cat /proc/softirqs)
    t2=$(now_boot_ns)
  fi
  echo "#@counters $1 boot_ns=$(( (t1 + t2) / 2 ))"
  printf '%s\n' "$sirq" | awk 'NR > 1 { sub(":", "", $1); printf "#@softirqs"; for (i = 1; i <= NF; i++) printf " %s", $i; printf "\n" }'
  awk '{ cpu = NR - 1; if (NF >= 13) { cpu = 0; h = tolower($13); for (i = 1; i <= length(h); i++) cpu = cpu * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1 }
         printf "#@softnet %d", cpu; for (i = 1; i <= NF; i++) printf " %s", $i; printf "\n" }' /proc/net/softnet_stat
  awk '/^cpu[0-9]/ { printf "#@stat %s\n", $0 }' /proc/stat
}

# Internal entry points (used across network namespaces and by tests).
case "${1-}" in
  --list-devices) list_devices "${2-}"; exit 0 ;;
  --list-all-devices) list_all_devices; exit 0 ;;
  --counters) counters "${2:-before}"; exit 0 ;;
esac

while [ $# -gt 0 ]; do
  case "$1" in
    --mode) [ $# -ge 2 ] || usage; MODE=$2; shift 2 ;;
    --duration) [ $# -ge 2 ] || usage; DURATION=$2; shift 2 ;;
    --devices) [ $# -ge 2 ] || usage; DEVICES=$2; shift 2 ;;
    --interval) [ $# -ge 2 ] || usage; INTERVAL=$2; shift 2 ;;
    -o|--output) [ $# -ge 2 ] || usage; OUT=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    --format) [ $# -ge 2 ] || usage; FMT=$2; shift 2 ;;
    --netns) [ $# -ge 2 ] || usage; NETNS="$NETNS $2"; shift 2 ;;
    --print-script) PRINT_SCRIPT=1; shift ;;
    --with-raise) GEN_EXTRA="$GEN_EXTRA --with-raise"; WITH_RAISE=1; shift ;;
    --tracer) [ $# -ge 2 ] || usage; TRACER=$2; shift 2 ;;
    --buffer-kb) [ $# -ge 2 ] || usage; isnum "$2" && [ "$2" -ge 64 ] || die "--buffer-kb must be a whole number >= 64" 64; BUFFER_KB=$2; shift 2 ;;
    --bpftrace) [ $# -ge 2 ] || usage; BPFTRACE=$2; shift 2 ;;
    --max-tunnels) [ $# -ge 2 ] || usage; isnum "$2" || die "--max-tunnels must be a whole number" 64; GEN_EXTRA="$GEN_EXTRA --max-tunnels $2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "capture.sh: unknown option $1" >&2; usage ;;
  esac
done

case "$MODE" in events|windows) ;; *) die "--mode must be events or windows" 64 ;; esac
case "$FMT" in text|json) ;; *) die "--format must be text or json" 64 ;; esac
case "$TRACER" in
  bpftrace) ;;
  ftrace|perf)
    # In-kernel aggregation needs BPF maps: only bpftrace can do windows mode.
    [ "$MODE" = events ] || die "--mode windows needs bpftrace (in-kernel aggregation); --tracer $TRACER records events" 64
    [ "$FMT" = text ] || die "--format json is bpftrace's; --tracer $TRACER writes text" 64 ;;
  *) die "--tracer must be bpftrace, ftrace or perf" 64 ;;
esac
isnum "$DURATION" || die "--duration must be a whole number of seconds (0: until Ctrl-C)" 64
isnum "$INTERVAL" && [ "$INTERVAL" -ge 1 ] || die "--interval must be a whole number of ms >= 1" 64
[ "$OUT" != - ] || die "-o -: a capture goes to a file (written as FILE.partial and renamed when complete), not to stdout; give a file name" 64

# The generator asks this bpftrace for its version (gen-script.sh).
WGTRACE_BPFTRACE=$BPFTRACE
export WGTRACE_BPFTRACE
CPUS_LIST=$(cat /sys/devices/system/cpu/online 2>/dev/null || echo 0)
NCPUS=$(getconf _NPROCESSORS_CONF 2>/dev/null || echo 1)
GEN="$HERE/gen-script.sh"

if [ "$PRINT_SCRIPT" = 1 ]; then
  # shellcheck disable=SC2086
  exec sh "$GEN" --mode "$MODE" --devices "$DEVICES" --interval "$INTERVAL" --duration "$DURATION" --cpus "$NCPUS" $GEN_EXTRA
fi

# --- what is missing, all at once, before anything is attached ---
missing=
[ "$(id -u)" = 0 ] || missing="$missing
  - root (bpftrace loads BPF programs: run with sudo)"
if [ "$TRACER" = bpftrace ]; then
  command -v "$BPFTRACE" >/dev/null 2>&1 || missing="$missing
  - bpftrace (Debian/Ubuntu: apt-get install bpftrace) or --bpftrace PATH; or --tracer ftrace (tracefs alone)"
elif [ "$TRACER" = perf ]; then
  command -v perf >/dev/null 2>&1 || missing="$missing
  - perf (Debian: apt-get install linux-perf); or --tracer ftrace (tracefs alone)"
fi
TRACEFS=/sys/kernel/tracing
if [ ! -d "$TRACEFS/events" ] && [ "$(id -u)" = 0 ]; then
  mount -t tracefs nodev "$TRACEFS" 2>/dev/null || true
fi
if [ ! -d "$TRACEFS/events" ] && [ -d /sys/kernel/debug/tracing/events ]; then TRACEFS=/sys/kernel/debug/tracing; fi
if [ -d "$TRACEFS/events" ]; then
  for tp in napi/napi_poll irq/softirq_entry irq/softirq_exit irq/softirq_raise sched/sched_switch sched/sched_migrate_task workqueue/workqueue_execute_start workqueue/workqueue_execute_end workqueue/workqueue_queue_work; do
    [ -d "$TRACEFS/events/$tp" ] || missing="$missing
  - tracepoint $tp (kernel built without it?)"
  done
else
  missing="$missing
  - tracefs (mount -t tracefs nodev /sys/kernel/tracing)"
fi
[ -z "$missing" ] || die "cannot capture, missing:$missing"

# Events mode on bpftrace before 0.18: every printed record goes through per-CPU perf buffers
# that bcc's bpf_open_perf_buffer opens with wakeup_events = 1, so each one wakes bpftrace (about
# 8 us of BPF time per record on the testbed); 0.18 and later print through one ring buffer.
# Measured (bench/README.md, "Per bpftrace version"): 0.17's events mode kept 0.53 to 0.66 of the
# testbed's uncaptured throughput, perf record of the same events 0.95 to 0.98. Said before the
# probes attach, so the user can choose; src/capture/run.ts (eventsCostNote) says the same.
if [ "$TRACER" = bpftrace ] && [ "$MODE" = events ]; then
  btminor=$("$BPFTRACE" --version 2>/dev/null | sed -n 's/^bpftrace v\{0,1\}0\.\([0-9][0-9]*\)\..*/\1/p' | head -n 1)
  if isnum "${btminor:-x}" && [ "$btminor" -lt 18 ]; then
    echo "capture.sh: note: bpftrace 0.$btminor prints every event through per-CPU perf buffers that wake it on each record: events mode can slow this gateway by a third or more (0.53 to 0.66 of the packet rate kept on our 2-core testbed, against 0.95 to 0.98 for perf record of the same events; bench/README.md). For less, use --mode windows, a bpftrace from 0.18 on (--bpftrace PATH), or --tracer perf" >&2
  fi
fi

# --- output: never overwrite unless --force; writable and with space, checked up front ---
[ -n "$OUT" ] || OUT="wgtrace-$(hostname 2>/dev/null || echo host)-$(date -u +%Y%m%dT%H%M%SZ).$MODE.txt"
PARTIAL="$OUT.partial"
if [ "$FORCE" = 0 ]; then
  [ ! -e "$OUT" ] || die "$OUT exists (use --force to overwrite)"
  [ ! -e "$PARTIAL" ] || die "$PARTIAL exists, left by an earlier capture (use --force to overwrite)"
fi
OUTDIR=$(dirname "$OUT")
[ -d "$OUTDIR" ] || die "$OUTDIR: no such directory"
( : > "$PARTIAL" ) 2>/dev/null || die "$OUTDIR is not writable (cannot create $PARTIAL)"
avail=$(df -Pk "$OUTDIR" 2>/dev/null | awk 'NR == 2 { print $4 }')
if isnum "${avail:-x}" && [ "$avail" -lt "$MIN_FREE_KB" ]; then
  rm -f "$PARTIAL"
  die "$OUTDIR has ${avail} KiB free, a capture needs at least $MIN_FREE_KB KiB"
fi

TMPD=$(mktemp -d "${TMPDIR:-/tmp}/wgtrace-capture.XXXXXX") || die "cannot create a temporary directory"
SCRIPT="$TMPD/$MODE.bt"
BT_ERR="$TMPD/bpftrace.err"
COUNTERS_BEFORE="$TMPD/counters.before"
COUNTERS_AFTER="$TMPD/counters.after"
MISSES="$TMPD/misses"
cleanup() { rm -rf "$TMPD"; }
trap cleanup EXIT

# The header (docs/capture-format.md), for every tracer; $1 is the tracer's own line
# (`#@bpftrace <version>` or `#@tracer ...`). MAP_KEYS (bpftrace only) and WG_FUNCS are set by
# the caller.
write_header() {
  {
    echo "#@wgtrace-capture $FORMAT_VERSION"
    echo "#@tool_version $VERSION"
    echo "#@wrapper capture.sh"
    echo "#@hostname $(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"
    echo "#@kernel $(uname -r)"
    echo "$1"
    echo "#@cpus $CPUS_LIST"
    echo "#@mode $MODE"
    [ "$MODE" = windows ] && echo "#@interval_ms $INTERVAL"
    echo "#@devices_glob $DEVICES"
    echo "#@duration_s $DURATION"
    echo "#@output_format $FMT"
    [ "$TRACER" = bpftrace ] && echo "#@map_keys_max ${MAP_KEYS:--}"
    echo "#@wg_functions_matched ${WG_FUNCS:-0}"
    echo "#@start_wall $(wall_now)"
    echo "#@start_boot_ns $(now_boot_ns)"
    # Every namespace's devices (list_all_devices); --netns is kept for old command lines.
    list_all_devices
  } >> "$PARTIAL" 2>/dev/null || { rm -f "$PARTIAL"; die "cannot write the header to $PARTIAL (disk full?)"; }
}

# The trailer's last lines, and the rename that makes the capture complete (both tracers).
trailer_end() {
  echo "#@end_wall $(wall_now)"
  echo "#@end_boot_ns $(now_boot_ns)"
  echo "#@status $STATUS"
}
finish() { # what wrote it, for the message
  mv -f "$PARTIAL" "$OUT" || die "cannot rename $PARTIAL to $OUT" 1
  echo "capture.sh: wrote $OUT ($STATUS$1)" >&2
  [ "$STATUS" = complete ] && exit 0
  exit 130
}

if [ "$TRACER" != bpftrace ]; then
  . "$HERE/capture-tracefs.sh"
  exit $?
fi

# shellcheck disable=SC2086
sh "$GEN" --mode "$MODE" --devices "$DEVICES" --interval "$INTERVAL" --duration "$DURATION" --cpus "$NCPUS" $GEN_EXTRA > "$SCRIPT" || { rm -f "$PARTIAL"; exit 64; }
# shellcheck disable=SC2086
BT_ENV=$(sh "$GEN" --mode "$MODE" --cpus "$NCPUS" $GEN_EXTRA --print-env | tr '\n' ' ')
MAP_KEYS=$(printf '%s\n' $BT_ENV | sed -n 's/^BPFTRACE_MAP_KEYS_MAX=//p')
[ -n "$MAP_KEYS" ] || MAP_KEYS=$(sed -n 's/.*max_map_keys = \([0-9]*\).*/\1/p' "$SCRIPT" | head -n 1)
WG_FUNCS=$(grep -c 'function == [(uint64)]*0x' "$SCRIPT" 2>/dev/null || true)

# --- header ---
write_header "#@bpftrace $("$BPFTRACE" --version 2>/dev/null | head -n 1)"

# --- run ---
STATUS=complete
BT_PID=
on_signal() {
  STATUS=interrupted
  if [ -n "$BT_PID" ]; then
    bpf_misses "$BT_PID" "$MISSES.s"
    # The after counters while the probes are still attached (see the watcher).
    [ -s "$COUNTERS_AFTER" ] || { counters after > "$COUNTERS_AFTER.s" && mv "$COUNTERS_AFTER.s" "$COUNTERS_AFTER"; }
    kill -INT "$BT_PID" 2>/dev/null
  fi
}
trap 'on_signal' INT TERM HUP

# The kernel accounts BPF memory to the cgroup (5.11+); the old RLIMIT_MEMLOCK only matters
# on older kernels, where bpftrace itself asks for it.
ulimit -l unlimited 2>/dev/null || true
fmt_opt=
[ "$FMT" = json ] && fmt_opt="-f json"
# Output buffering: bpftrace line-buffers stdout by default, one write(2) per line. Into the
# windows filter's FIFO each write woke the filter (about 700 wake-ups a second here), which cost
# about 9% of the veth testbed's throughput; `-B full` (every version from 0.17) writes once per
# stdio buffer, st_blksize bytes: 4 KiB on a pipe. The scripts' BEGIN prints an 8 KiB comment
# line after the start mark, so the mark still reaches the file as soon as the probes attach. In
# events mode bpftrace writes the file itself: full buffering there only if the file system's
# block size (what stdio sizes its buffer by) is at most 8 KiB, else the mark would wait in the
# buffer (NFS reports 1 MiB).
buf_opt="-B full"
if [ "$MODE" = events ]; then
  blk=$(stat -c %o "$PARTIAL" 2>/dev/null || echo 0)
  isnum "$blk" && [ "$blk" -gt 0 ] && [ "$blk" -le 8192 ] || buf_opt=
fi
FILTER_PID=
# drain FIFO: copies the FIFO to stdout until bpftrace closes it, without being woken by every
# write. A reader blocked in read(2) is woken by each of bpftrace's writes, and that alone cost
# the testbed 10 to 14% of its throughput (bench/README.md, "Output buffering"): bpftrace 0.17
# and 0.23 write per 4 KiB with `-B full`, but 0.24 and later flush after every print(), twice
# per window whatever -B says. So the FIFO is read in turns: whatever is there, taken with a
# non-blocking dd (GNU coreutils; its exit status is 0 at end of file, 1 on EAGAIN), then a
# sleep: 10 ms until the watcher has seen the start mark (the "before" counters wait for it),
# then 250 ms, 50 ms after a turn that brought 8 KiB or more, none after 32 KiB (64 KiB fill the
# pipe and hold bpftrace back; src/capture/run.ts reads the same way). Where dd has no
# iflag=nonblock (busybox), a plain cat does the copy.
drain() {
  if ! dd if=/dev/null of=/dev/null iflag=nonblock 2>/dev/null; then exec cat < "$1"; fi
  exec 3< "$1"
  while :; do
    if dd bs=65536 iflag=nonblock <&3 2> "$TMPD/dd.err"; then break; fi
    _b=$(sed -n 's/^\([0-9]*\) bytes.*/\1/p' "$TMPD/dd.err")
    if [ "${_b:-0}" -ge 32768 ]; then continue; fi
    if [ ! -e "$TMPD/attached" ]; then sleep 0.01 2>/dev/null || sleep 1
    elif [ "${_b:-0}" -ge 8192 ]; then sleep 0.05 2>/dev/null || sleep 1
    else sleep 0.25 2>/dev/null || sleep 1; fi
  done
}
if [ "$MODE" = windows ]; then
  # windows-filter.awk drops the zero and repeated lines of zeroed maps (windows.bt.in says
  # why). It reads a FIFO so that $! stays bpftrace's pid, and ignores the terminal's signals
  # so that a Ctrl-C cannot cut bpftrace's output short.
  mkfifo "$TMPD/out" || die "cannot create a FIFO in $TMPD"
  if [ "$FMT" = text ]; then
    (trap '' INT TERM HUP; drain "$TMPD/out" | awk -f "$HERE/windows-filter.awk") >> "$PARTIAL" &
  else
    # JSON: only the state maps printed at exit are dropped (unchanged totals stay; the
    # importer takes differences either way).
    (trap '' INT TERM HUP; drain "$TMPD/out" | awk '!/"data": \{"@(rx_t|tx_t|poll_t|crypt_t|win_t)"/ { print; fflush() }') >> "$PARTIAL" &
  fi
  FILTER_PID=$!
  BT_OUT="$TMPD/out"
else
  BT_OUT="$PARTIAL"
fi
# shellcheck disable=SC2086
env $BT_ENV "$BPFTRACE" $buf_opt $fmt_opt "$SCRIPT" >> "$BT_OUT" 2> "$BT_ERR" &
BT_PID=$!

# Watcher: read the counters as soon as the BEGIN mark shows the probes are attached, then keep
# the kernel's count of skipped BPF runs up to date: a tracepoint program is not run while
# another BPF program is running on that CPU (kernel/trace/bpf_trace.c: trace_call_bpf ->
# bpf_prog_inc_misses_counter). Those events are lost without any "Lost N events" line;
# /proc/<pid>/fdinfo of each program fd has `recursion_misses` (5.12+).
# The watcher runs beside the traffic for the whole capture, so it samples cheaply: one grep
# over the fdinfo files (dash's read builtin reads a byte per system call), parsed with
# builtins, once a second, every 50 ms in the last second of a timed capture; the signal
# handler takes one last sample before it stops bpftrace. (It used to run awk, sed, tr and grep
# five times a second: about 50 processes a second beside the traffic.)
# Programs are closed one by one at exit: a sample is kept only if it saw at least as many
# programs as the best one so far.
bpf_misses() { # pid file: writes the #@bpf_prog_ids and #@recursion_misses lines if kept
  _ids=; _n=0; _k=0; _id=
  _out=$(grep -h -e '^prog_id:' -e '^recursion_misses:' /proc/"$1"/fdinfo/* 2>/dev/null)
  for _w in $_out; do
    case "$_w" in
      prog_id:) _next=id ;;
      recursion_misses:) _next=n ;;
      *)
        case "${_next-}" in
          id) _id=$_w ;;
          n) _n=$((_n + _w)); _k=$((_k + 1)); _ids="$_ids${_ids:+,}$_id" ;;
        esac
        _next= ;;
    esac
  done
  [ "$_k" -gt 0 ] && [ "$_k" -ge "${MISSES_BEST:-0}" ] || return 0
  MISSES_BEST=$_k
  printf '#@bpf_prog_ids %s\n#@recursion_misses %d\n' "$_ids" "$_n" > "$2"
}
# A timed capture's after counters are read by the watcher 200 ms before the script's own
# exit is due (its interval probe fires DURATION s after the probes attached), while the probes
# still run: every softirq the kernel counted before the read is in the capture. Read after
# bpftrace had exited, as before, they also counted what ran in between, which no event shows:
# 139 ms (events) and 434 ms (windows) of a 3 s capture with traffic running (docs/capture-format.md,
# "Counters"). A watcher late for it (bpftrace gone) leaves the read to the end, as before.
(
  started=0
  i=0
  due=
  while kill -0 "$BT_PID" 2>/dev/null; do
    if [ $started = 0 ]; then
      if head -c 262144 "$PARTIAL" 2>/dev/null | grep -q '#@probes_start_boot_ns'; then
        counters before > "$COUNTERS_BEFORE.tmp" && mv "$COUNTERS_BEFORE.tmp" "$COUNTERS_BEFORE"
        : > "$TMPD/attached"
        started=1
        s0=$(head -c 262144 "$PARTIAL" 2>/dev/null | sed -n 's/.*#@probes_start_boot_ns \([0-9][0-9]*\).*/\1/p' | head -n 1)
        if [ "$DURATION" -gt 0 ] && isnum "${s0:-x}"; then due=$((s0 + DURATION * 1000000000 - 200000000)); fi
      fi
      sleep 0.02 2>/dev/null || sleep 1
    else
      if [ -n "$due" ] && [ ! -s "$COUNTERS_AFTER" ] && [ "$(now_boot_ns)" -ge "$due" ]; then
        counters after > "$COUNTERS_AFTER.tmp"
        # Kept only if bpftrace was still running once it was read.
        if kill -0 "$BT_PID" 2>/dev/null; then mv "$COUNTERS_AFTER.tmp" "$COUNTERS_AFTER"; else rm -f "$COUNTERS_AFTER.tmp"; fi
      fi
      bpf_misses "$BT_PID" "$MISSES.w"
      i=$((i + 1))
      if [ "$DURATION" -gt 0 ] && [ "$i" -ge "$DURATION" ]; then
        sleep 0.05 2>/dev/null || sleep 1
      else
        sleep 1
      fi
    fi
  done
) &
WATCH_PID=$!

BT_RC=0
while kill -0 "$BT_PID" 2>/dev/null; do
  wait "$BT_PID"
  BT_RC=$?
done
# The watcher ends by itself within a second of bpftrace (not killed: it may be writing).
wait "$WATCH_PID" 2>/dev/null
# The filter ends when bpftrace closes the FIFO.
[ -n "$FILTER_PID" ] && wait "$FILTER_PID" 2>/dev/null
trap - INT TERM HUP

# bpftrace's messages: "Lost N events" goes into the capture (stdout in 0.17, stderr from 0.18);
# the start-up chatter about RLIMIT_MEMLOCK is not an error on 5.11+ kernels.
grep '^Lost [0-9]* events' "$BT_ERR" >> "$PARTIAL" 2>/dev/null
# 0.27 also warns that available_filter_functions is unreadable: only kprobes and fentry need it.
grep -v -e '^Lost [0-9]* events' -e 'RLIMIT_MEMLOCK' -e 'available_filter_functions' -e '^If this is expected, use --traceable-functions' "$BT_ERR" >&2

if [ "$BT_RC" != 0 ]; then
  if grep -q '#@probes_start_boot_ns' "$PARTIAL" 2>/dev/null; then
    die "bpftrace ended abnormally (exit $BT_RC): the capture is incomplete, left as $PARTIAL" 1
  fi
  rm -f "$PARTIAL"
  die "bpftrace failed (exit $BT_RC) before the probes were attached; nothing captured" 1
fi

# A capture is never silently empty: the scripts list the devices they saw polled but left out
# (`@untraced[cpu, dev]`, printed at END, so near the end of the file); when no poll of the
# filter's devices was recorded at all, say so now and in the trailer.
UNTRACED_DEVS=
MATCHED=1
if [ "$DEVICES" != '*' ]; then
  UNTRACED_DEVS=$(tail -c 4194304 "$PARTIAL" 2>/dev/null | {
    if [ "$FMT" = json ]; then grep -o '"[0-9]*,[^"]*": 1' | sed 's/^"[0-9]*,//; s/": 1$//'
    else sed -n 's/^@untraced\[[0-9]*, \(.*\)\]: 1$/\1/p'; fi; } | sort -u | tr '\n' ',' | sed 's/,$//')
  case "$MODE/$FMT" in
    # P, and PS: a traced poll that also carries its NET_RX softirq's entry (format 5).
    events/text) pat='^PS\{0,1\} ' ;;
    events/json) pat='"data": "PS\{0,1\} ' ;;
    windows/text) pat='^@napi\[' ;;
    *) pat='"@napi"' ;;
  esac
  grep -q -m 1 -e "$pat" "$PARTIAL" 2>/dev/null || MATCHED=0
  if [ "$MATCHED" = 0 ] && [ -n "$UNTRACED_DEVS" ]; then
    echo "capture.sh: warning: the device filter '$DEVICES' matched no NAPI poll, while polls of $UNTRACED_DEVS were seen: this capture holds no tunnel (use --devices to name the tunnels' devices)" >&2
  fi
fi

{
  if [ "$DEVICES" != '*' ]; then
    echo "#@devices_matched $MATCHED"
    [ -n "$UNTRACED_DEVS" ] && echo "#@devices_untraced $UNTRACED_DEVS"
  fi
  [ -s "$COUNTERS_BEFORE" ] && cat "$COUNTERS_BEFORE"
  # The watcher's last kept sample or the signal handler's, whichever saw more programs (the
  # handler's is the later one when they tie).
  for f in "$MISSES.w" "$MISSES.s"; do
    [ -s "$f" ] || continue
    k=$(sed -n 's/^#@bpf_prog_ids //p' "$f" | tr ',' '\n' | grep -c '[0-9]')
    if [ "$k" -ge "${best_k:-0}" ]; then best_k=$k; cp "$f" "$MISSES"; fi
  done
  if [ -s "$MISSES" ]; then
    cat "$MISSES"
    # Events the kernel skipped are lost events too (docs/capture-format.md).
    n=$(sed -n 's/^#@recursion_misses //p' "$MISSES")
    if isnum "${n:-x}" && [ "$n" -gt 0 ]; then
      if [ "$FMT" = json ]; then echo "{\"type\": \"lost_events\", \"data\": {\"events\": $n}}"; else echo "Lost $n events"; fi
    fi
  fi
  if [ -s "$COUNTERS_AFTER" ]; then cat "$COUNTERS_AFTER"; else counters after; fi
  trailer_end
} >> "$PARTIAL" 2>/dev/null || die "cannot write the trailer (disk full?): the capture is incomplete, left as $PARTIAL" 1
finish ""
