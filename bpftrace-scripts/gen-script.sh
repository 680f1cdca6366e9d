#!/bin/sh
# Emits the wgtrace bpftrace script for this bpftrace version and this kernel, from the
# templates events.bt.in / windows.bt.in beside this file. Used by capture.sh and by
# `wgtrace capture` (src/capture/), so both run exactly the same program.
#
#   gen-script.sh --mode events|windows [--devices GLOB] [--interval MS] [--duration S]
#                 [--cpus N] [--max-tunnels N] [--with-raise] [--bpftrace-version X.Y] [--print-env]
#
# --devices: comma-separated list of NAME, PREFIX* or * (bpftrace 0.17 has no glob match on
#   strings, so each pattern becomes an exact compare or a strncmp prefix compare; `*` alone
#   means no filter). Other glob forms are refused.
# --duration 0: no time limit (runs until SIGINT/SIGTERM).
# --max-tunnels: NAPI instances (WireGuard peers, NIC queues...) the windows maps must hold on
#   every CPU within one window (default 1024): windows maps get CPUs x max-tunnels entries, so
#   no key is ever refused (docs/capture.md, "Map bounds", works out the memory).
# --with-raise: events mode also records irq:softirq_raise for NET_RX (`SR`); off by default.
# --print-env: print the environment (KEY=VALUE lines) bpftrace must run with, not the script.
# --portable: the ready-to-run scripts checked in beside this file (wgtrace-*.bt): nothing read
#   from this machine's tracefs or /proc/kallsyms; WireGuard's work functions resolved by
#   bpftrace's kaddr() when the script starts, a napi thread's comm for sched_migrate_task taken
#   from its last switch-in (its own comm field changed type across kernels), maps sized for
#   64 CPUs x 1024 tunnels (windows) and no duration limit (Ctrl-C ends it).
#
# What differs and how it is detected:
# - bpftrace 0.17 only accepts `args->field`; 0.19 added `args.field` and deprecated the arrow
#   (bpftrace PR #2578; `args.` had rough edges in 0.19.0, issue #2771). 0.20 added the
#   `config = { ... }` block and renamed the settings (PR #2815: max_map_keys, max_strlen), and
#   refuses to start when the old BPFTRACE_STRLEN / BPFTRACE_MAP_KEYS_MAX are set. So: up to
#   0.19, `args->` and the old environment variables; from 0.20, `args.` and a config block.
# - sched_migrate_task.comm is a __data_loc string on 6.x kernels (str(args->comm)) and a
#   char[16] before; workqueue_queue_work.workqueue a string since 5.12 (a pointer before);
#   workqueue_execute_end.function exists since 5.16. Read from the tracefs format files.
# - WireGuard work functions are matched by address from /proc/kallsyms (bpftrace cannot
#   compare ksym() strings in BPF); without the wireguard module those probes are left out.
# Environment for tests: WGTRACE_TRACEFS (default /sys/kernel/tracing), WGTRACE_KALLSYMS
# (default /proc/kallsyms), WGTRACE_WG_FUNCS (space-separated function names to match
# instead of the WireGuard ones), WGTRACE_PERF_RB_PAGES (output buffer pages per CPU).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
MODE=events
DEVICES='wg*'
INTERVAL_MS=10
DURATION_S=10
CPUS=
MAX_TUNNELS=1024
BT_VERSION=
PRINT_ENV=0
WITH_RAISE=0
PORTABLE=0
TRACEFS=${WGTRACE_TRACEFS:-/sys/kernel/tracing}
KALLSYMS=${WGTRACE_KALLSYMS:-/proc/kallsyms}

die() { echo "gen-script.sh: $*" >&2; exit 64; }
isnum() { case "$1" in ''|*[!0-9]*) return 1 ;; *) return 0 ;; esac; }

while [ $# -gt 0 ]; do
  case "$1" in
    --mode) MODE=${2-}; shift 2 || die "--mode needs a value" ;;
    --devices) DEVICES=${2-}; shift 2 || die "--devices needs a value" ;;
    --interval) INTERVAL_MS=${2-}; shift 2 || die "--interval needs a value" ;;
    --duration) DURATION_S=${2-}; shift 2 || die "--duration needs a value" ;;
    --cpus) CPUS=${2-}; shift 2 || die "--cpus needs a value" ;;
    --max-tunnels) MAX_TUNNELS=${2-}; shift 2 || die "--max-tunnels needs a value" ;;
    --bpftrace-version) BT_VERSION=${2-}; shift 2 || die "--bpftrace-version needs a value" ;;
    --print-env) PRINT_ENV=1; shift ;;
    --with-raise) WITH_RAISE=1; shift ;;
    --portable) PORTABLE=1; shift ;;
    *) die "unknown option $1" ;;
  esac
done

case "$MODE" in events|windows) ;; *) die "--mode must be events or windows" ;; esac
isnum "$INTERVAL_MS" && [ "$INTERVAL_MS" -ge 1 ] || die "--interval must be a whole number of ms >= 1"
isnum "$DURATION_S" || die "--duration must be a whole number of seconds"
isnum "$MAX_TUNNELS" && [ "$MAX_TUNNELS" -ge 1 ] || die "--max-tunnels must be >= 1"

if [ -z "$CPUS" ]; then
  CPUS=$(getconf _NPROCESSORS_CONF 2>/dev/null || echo 1)
fi
isnum "$CPUS" && [ "$CPUS" -ge 1 ] || die "--cpus must be >= 1"

if [ -z "$BT_VERSION" ]; then
  BT_VERSION=$("${WGTRACE_BPFTRACE:-bpftrace}" --version 2>/dev/null | sed -n 's/^bpftrace v\{0,1\}\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n 1)
  [ -n "$BT_VERSION" ] || die "cannot tell the bpftrace version (is bpftrace installed?)"
fi
BT_MAJOR=${BT_VERSION%%.*}
BT_MINOR=${BT_VERSION#*.}; BT_MINOR=${BT_MINOR%%.*}
isnum "$BT_MAJOR" && isnum "$BT_MINOR" || die "bad bpftrace version '$BT_VERSION'"
MODERN=0
if [ "$BT_MAJOR" -gt 0 ] || [ "$BT_MINOR" -ge 20 ]; then MODERN=1; fi

# Map sizes. bpftrace gives every map the same max_entries. Window maps keyed by (cpu, dev, napi)
# hold at most CPUs x tunnels entries in one window (they are cleared every interval), so that is
# the size that can never refuse a key; per-CPU maps need CPUs entries, @crypt_t/@wgk one per
# kworker busy with wg work. src/capture/map-bound.ts computes the same and the memory it costs.
if [ "$PORTABLE" = 1 ]; then CPUS=64; fi
if [ "$MODE" = windows ]; then
  MAP_KEYS=$((CPUS * MAX_TUNNELS))
  [ "$MAP_KEYS" -ge 4096 ] || MAP_KEYS=4096
  # dev names are at most IFNAMSIZ-1 = 15 chars (include/uapi/linux/if.h).
  STRLEN=16
else
  MAP_KEYS=$((CPUS * 16))
  [ "$MAP_KEYS" -ge 4096 ] || MAP_KEYS=4096
  # workqueue names: WQ_NAME_LEN is 32 (include/linux/workqueue.h), e.g. wg-crypt-<dev>.
  STRLEN=32
fi

# Output buffers: events mode prints one record per event through per-CPU perf buffers (0.17,
# 64 pages each by default) or one ring buffer (0.18+): a bigger buffer rides out bursts
# instead of losing them, bounded to 64 MiB in all (4 KiB pages).
if [ -n "${WGTRACE_PERF_RB_PAGES-}" ]; then
  RB_PAGES=$WGTRACE_PERF_RB_PAGES  # tests: tiny buffers to force "Lost N events"
elif [ "$MODE" = events ]; then
  RB_PAGES=$((16384 / CPUS))
  [ "$RB_PAGES" -le 1024 ] || RB_PAGES=1024
  [ "$RB_PAGES" -ge 64 ] || RB_PAGES=64
  # perf buffers need a power of two
  p=64; while [ $((p * 2)) -le "$RB_PAGES" ]; do p=$((p * 2)); done; RB_PAGES=$p
else
  RB_PAGES=64
fi

if [ "$PRINT_ENV" = 1 ]; then
  echo "BPFTRACE_PERF_RB_PAGES=$RB_PAGES"
  if [ "$MODERN" = 0 ]; then
    echo "BPFTRACE_MAP_KEYS_MAX=$MAP_KEYS"
    echo "BPFTRACE_STRLEN=$STRLEN"
  fi
  exit 0
fi

# delete() returns a value from bpftrace 0.24 (PR #4186 "Add return value to delete"), and
# discarding it is warned about on every run ("WARNING: Return value discarded", PR #4191/#4836);
# before 0.24 a delete() inside an assignment does not compile. So: an assignment from 0.24 on.
if [ "$BT_MAJOR" -gt 0 ] || [ "$BT_MINOR" -ge 24 ]; then DEL='$_del = delete'; else DEL='delete'; fi
# bpftrace 0.27's own standard library (stdlib/meta.bt) holds messages longer than 16 bytes and
# refuses to compile under a smaller max_strlen ("String is too long (over 16 bytes)"). The
# windows script's strings are all fixed char[16] arrays on 0.20+ (DEV_READ below), so a longer
# max_strlen costs it nothing there.
if [ "$MODERN" = 1 ] && [ "$STRLEN" -lt 80 ]; then STRLEN=80; fi

if [ "$MODERN" = 1 ]; then
  A='args.'
  CONFIG="config = { max_map_keys = $MAP_KEYS; max_strlen = $STRLEN }"
else
  A='args->'
  CONFIG="// bpftrace $BT_VERSION: map size and string length come from BPFTRACE_MAP_KEYS_MAX=$MAP_KEYS BPFTRACE_STRLEN=$STRLEN"
fi

# --devices -> the napi_poll program's test on $dev, the device name it copied once (both
# scripts see every poll: the untraced ones still end the previous poll's span).
NAPI_ALL=
NAPI_MATCH=
old_ifs=$IFS; IFS=,
set -f  # the patterns are not file names: no pathname expansion
for pat in $DEVICES; do
  IFS=$old_ifs
  case "$pat" in
    '*') NAPI_ALL=1; break ;;
    '') die "--devices: empty pattern" ;;
  esac
  stem=${pat%\*}
  case "$stem" in
    *[!A-Za-z0-9_.:@-]*) die "--devices: '$pat' is not NAME, PREFIX* or * (bpftrace 0.17 cannot match other globs)" ;;
  esac
  [ ${#stem} -le 15 ] || die "--devices: '$pat' is longer than a device name (15 chars)"
  if [ "$stem" != "$pat" ]; then
    term="strncmp(\$dev, \"$stem\", ${#stem}) == 0"
  else
    term="\$dev == \"$pat\""
  fi
  if [ -z "$NAPI_MATCH" ]; then NAPI_MATCH=$term; else NAPI_MATCH="$NAPI_MATCH || $term"; fi
done
IFS=$old_ifs
set +f
[ -n "$NAPI_ALL$NAPI_MATCH" ] || die "--devices: no pattern"
[ -z "$NAPI_ALL" ] || NAPI_MATCH=1

# The polled device's name (include/trace/events/napi.h: napi_poll's dev_name is
# `napi->dev ? napi->dev->name : NO_DEV`, NO_DEV being "(no_device)", the per-CPU backlog).
# bpftrace 0.17 reads the __data_loc string with str(args->dev_name). bpftrace 0.23 reads it at
# the wrong offset and gets an empty string (codegen used i32 instead of i8 as the GEP type after
# "codegen: use preserve_static_offset intrinsic"; bpftrace PR #4238 "codegen: Fix __data_loc
# reads"), so every poll would fail the device filter. From 0.20 on, with kernel BTF, the name is
# read from the struct instead (args.napi is a typed `struct napi_struct *` through BTF): the
# same string the tracepoint copies, on every version from 0.20 to 0.27, with or without that bug.
# Without BTF (WGTRACE_BTF overrides the path, for tests) the __data_loc read stays.
# The same bug makes every other __data_loc read empty on 0.23.2 (seen here: sched_migrate_task's
# comm, workqueue_queue_work's workqueue). The breaking commit (06a8972510) predates 0.24's fix
# and 0.21 and 0.22 were not run here, so 0.21 to 0.23 are all taken as affected: there the
# napi thread's comm comes from its switch-in (MIGRATE_COMM below) and the workqueue name is "-".
DATALOC_BROKEN=0
if [ "$BT_MAJOR" = 0 ] && [ "$BT_MINOR" -ge 21 ] && [ "$BT_MINOR" -le 23 ]; then DATALOC_BROKEN=1; fi
BTF=${WGTRACE_BTF:-/sys/kernel/btf/vmlinux}
if [ "$MODERN" = 1 ] && { [ -r "$BTF" ] || [ "$PORTABLE" = 1 ]; }; then
  DEV_READ="\$dev = ${A}napi->dev->name; if (${A}napi->dev == 0) { \$dev = \"(no_device)\"; }"
else
  [ "$DATALOC_BROKEN" = 0 ] || [ "$PRINT_ENV" = 1 ] || die "bpftrace $BT_VERSION reads __data_loc strings at a wrong offset (fixed in 0.24, bpftrace PR #4238) and this kernel has no BTF to read the device name from: every poll's device would be empty. Use bpftrace 0.17 to 0.20, or 0.24 and later"
  DEV_READ="\$dev = str(${A}dev_name);"
fi
# Devices polled but left out by --devices, once per (cpu, device): a lookup per untraced poll,
# an update only the first time. Printed at END (`@untraced[cpu, dev]: 1`), so that a filter that
# matched nothing is told from a gateway where nothing polled (the wrappers say so, the
# importer reports it). A tuple key: 0.27 prints a single string key "(no_device)" without its
# parentheses.
UNTRACED="if (@untraced[cpu, \$dev] == 0) { @untraced[cpu, \$dev] = 1; }"
fmt() { cat "$TRACEFS/events/$1/format" 2>/dev/null || true; }
# sched_migrate_task's comm is a char[16] or a __data_loc string depending on the kernel, and
# unreadable on 0.21-0.23: the ready-to-run scripts and those versions take a napi thread's comm
# from its last switch-in instead (@napit[pid], set in the sched_switch program).
# The portable scripts assume kernels 5.16 and later: workqueue names are strings (5.12),
# workqueue_execute_end has the function.
NAPIT=0
if [ "$PORTABLE" = 1 ] || [ "$DATALOC_BROKEN" = 1 ]; then
  NAPIT=1
  MIGRATE_COMM="@napit[(uint64)${A}pid]"
elif fmt sched/sched_migrate_task | grep -q '__data_loc char\[\] comm'; then
  MIGRATE_COMM="str(${A}comm)"
else
  MIGRATE_COMM="${A}comm"
fi
if [ "$DATALOC_BROKEN" = 1 ]; then
  WQ_NAME='"-"'
elif [ "$PORTABLE" = 1 ] || fmt workqueue/workqueue_queue_work | grep -q '__data_loc char\[\] workqueue'; then
  WQ_NAME="str(${A}workqueue)"
else
  WQ_NAME='"-"'
fi
if [ "$PORTABLE" = 1 ] || fmt workqueue/workqueue_execute_end | grep -q 'function;'; then
  WE_FUNC="ksym(${A}function)"
else
  WE_FUNC='"-"'
fi

# The workqueue name, a field in the middle of the WQ record: "-" when unknown or read empty (a
# portable script run by bpftrace 0.21-0.23, see DATALOC_BROKEN), so the record keeps its fields.
case "$WQ_NAME" in
  '"-"') WQ_READ='$wq = "-";' ;;
  *) WQ_READ="\$wq = $WQ_NAME; if (\$wq == \"\") { \$wq = \"-\"; }" ;;
esac

# Events mode: a NET_RX softirq's entry, kept in @net_rx_t by softirq_entry, printed before the
# first record inside the softirq that is not a poll (events.bt.in, softirq_entry, says why).
NET_RX_ENTRY='$rx = @net_rx_t[cpu]; if ($rx) { printf("SE %llu %u 3 %d %s\n", $rx, cpu, pid, comm); @net_rx_t[cpu] = (uint64)0; }'

# WireGuard work functions (drivers/net/wireguard/{receive,send}.c); windows mode only needs
# the crypt workers.
if [ -n "${WGTRACE_WG_FUNCS-}" ]; then
  FUNCS=$WGTRACE_WG_FUNCS
elif [ "$MODE" = windows ]; then
  FUNCS="wg_packet_decrypt_worker wg_packet_encrypt_worker"
else
  FUNCS="wg_packet_decrypt_worker wg_packet_encrypt_worker wg_packet_tx_worker wg_packet_handshake_receive_worker wg_packet_handshake_send_worker"
fi
# A kernel address literal is above INT64_MAX: 0.17 needs the (uint64) cast to compare it
# unsigned; 0.27 types hex literals as unsigned and warns about the cast ("Unnecessary cast").
if [ "$BT_MAJOR" -gt 0 ] || [ "$BT_MINOR" -ge 27 ]; then HEXCAST=; else HEXCAST='(uint64)'; fi
WG_FUNC_PRED=
for f in $FUNCS; do
  if [ "$PORTABLE" = 1 ]; then
    # kaddr() resolves the symbol when bpftrace compiles the script (it needs the module loaded).
    term="(uint64)${A}function == kaddr(\"$f\")"
    if [ -z "$WG_FUNC_PRED" ]; then WG_FUNC_PRED=$term; else WG_FUNC_PRED="$WG_FUNC_PRED || $term"; fi
    continue
  fi
  addr=$(awk -v f="$f" '$3 == f && ($2 == "t" || $2 == "T") { print $1; exit }' "$KALLSYMS" 2>/dev/null || true)
  case "$addr" in ''|0000000000000000) continue ;; esac
  term="(uint64)${A}function == ${HEXCAST}0x$addr"
  if [ -z "$WG_FUNC_PRED" ]; then WG_FUNC_PRED=$term; else WG_FUNC_PRED="$WG_FUNC_PRED || $term"; fi
done
if [ -n "$WG_FUNC_PRED" ]; then
  WG=1
  WGK_PREV=" || @wgk[(uint64)\$prev_pid]"
  WGK_NEXT=" || @wgk[(uint64)\$next_pid]"
else
  WG=0
  WGK_PREV=
  WGK_NEXT=
fi

# sed replacement text must not contain the delimiter | or unescaped & and \.
esc() { printf '%s' "$1" | sed 's/[&\\|]/\\&/g'; }

# Sections between //@NAME-begin and //@NAME-end markers are kept (markers dropped) or removed.
section() { # name keep(0|1)
  if [ "$2" = 1 ]; then
    printf '%s\n' "/^[[:space:]]*\/\/@$1-begin/d" "/^[[:space:]]*\/\/@$1-end/d"
  else
    printf '%s\n' "/^[[:space:]]*\/\/@$1-begin/,/^[[:space:]]*\/\/@$1-end/d"
  fi
}
KEEP_DUR=1; [ "$DURATION_S" = 0 ] && KEEP_DUR=0

KEEP_UNTRACED=1; [ -n "$NAPI_ALL" ] && KEEP_UNTRACED=0
{ section wg "$WG"; section duration "$KEEP_DUR"; section raise "$WITH_RAISE"; section untraced "$KEEP_UNTRACED"; section napit "$NAPIT"; } > "${TMPDIR:-/tmp}/wgtrace-gen.$$.sed"
trap 'rm -f "${TMPDIR:-/tmp}/wgtrace-gen.$$.sed"' EXIT
if [ "$PORTABLE" = 1 ]; then
  if [ "$MODERN" = 1 ]; then RUN="bpftrace -B full bpftrace-scripts/wgtrace-$MODE.bt"; FOR="bpftrace 0.20 and later (Debian 13, Ubuntu 24.04, current releases), kernel BTF"
  else RUN="BPFTRACE_MAP_KEYS_MAX=$MAP_KEYS BPFTRACE_STRLEN=$STRLEN BPFTRACE_PERF_RB_PAGES=$RB_PAGES bpftrace -B full bpftrace-scripts/wgtrace-$MODE-0.17.bt"; FOR="bpftrace 0.17 to 0.19 (Debian 12)"; fi
  cat <<BANNER
// Ready to run, for $FOR: generated by
// \`sh bpftrace-scripts/gen-script.sh --portable --mode $MODE --bpftrace-version $BT_VERSION --devices '$DEVICES' --duration 0\`
// (test/unit/capture-script.test.ts keeps this file equal to that output).
//
//   $RUN > capture.txt      (as root; Ctrl-C ends it)
//   wgtrace analyze capture.txt
//
// Needs the wireguard module loaded (its work functions are found by kaddr() when bpftrace
// starts). Records the NAPI polls of devices named $DEVICES; edit the napi_poll program's test
// on \$dev for others. Without the wrappers' header the capture lacks the online CPUs, the
// devices' kinds and threaded flags and the /proc counters (wgtrace says so);
// bpftrace-scripts/capture.sh records them, fits the script to the bpftrace and kernel at hand,
// and needs nothing but sh.$( [ "$MODERN" = 1 ] && printf '\n%s' "// bpftrace 0.24 and later warn \"Return value discarded\" about its delete() calls once, at start: harmless (capture.sh writes the form each version wants).")
BANNER
fi
sed -f "${TMPDIR:-/tmp}/wgtrace-gen.$$.sed" "$HERE/$MODE.bt.in" | sed \
  -e "s|{{CONFIG}}|$(esc "$CONFIG")|" \
  -e "s|{{NAPI_MATCH}}|$(esc "$NAPI_MATCH")|" \
  -e "s|{{MIGRATE_COMM}}|$(esc "$MIGRATE_COMM")|g" \
  -e "s|{{WQ_READ}}|$(esc "$WQ_READ")|g" \
  -e "s|{{WE_FUNC}}|$(esc "$WE_FUNC")|g" \
  -e "s|{{WG_FUNC_PRED}}|$(esc "$WG_FUNC_PRED")|g" \
  -e "s|{{WGK_PREV}}|$(esc "$WGK_PREV")|g" \
  -e "s|{{WGK_NEXT}}|$(esc "$WGK_NEXT")|g" \
  -e "s|{{INTERVAL_MS}}|$INTERVAL_MS|g" \
  -e "s|{{DURATION_S}}|$DURATION_S|g" \
  -e "s|{{DEL}}|$(esc "$DEL")|g" \
  -e "s|{{DEV_READ}}|$(esc "$DEV_READ")|g" \
  -e "s|{{UNTRACED}}|$(esc "$UNTRACED")|g" \
  -e "s|{{NET_RX_ENTRY}}|$(esc "$NET_RX_ENTRY")|g" \
  -e "s|{{A}}|$(esc "$A")|g"
