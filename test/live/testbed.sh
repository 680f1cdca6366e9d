#!/bin/sh
# The project's own test hosts: two network namespaces joined by N veth pairs, with veth NAPI
# on the receiving side, and bounded iperf3 flows over 198.18.0.0/15 (RFC 2544 benchmarking
# addresses) that never leave these namespaces.
#
#   testbed.sh run [--pairs N] [--threaded 0|1] [--seconds S] [--prefix P] [--dev-prefix D] -- CMD [ARGS...]
#       builds the testbed, starts one iperf3 flow per pair for S seconds in the background,
#       runs CMD (with TESTBED_* variables exported), waits for the flows, and ALWAYS removes
#       the namespaces (trap on EXIT, INT, TERM, HUP).
#   testbed.sh up [--pairs N] [--threaded 0|1] [--prefix P]     build only (prints the devices)
#   testbed.sh traffic [--pairs N] [--seconds S] [--prefix P] [--pin CPU]   flows in the foreground (bounded)
#   testbed.sh down [--prefix P]                                remove namespaces and processes
#
# Topology for pair i (0-based): namespace <P>a holds <D>a<i> = 198.18.<i>.1/24 (iperf3 client,
# sender), namespace <P>b holds <D>b<i> = 198.18.<i>.2/24 (iperf3 server, receiver); D is
# --dev-prefix (default v: va0, vb0). napi:napi_poll is global, so two testbeds up at once
# should use different --dev-prefix values to tell their devices apart in a capture.
# veth only polls through NAPI when GRO or XDP is enabled on the receiving device
# (drivers/net/veth.c: veth_set_features -> veth_napi_enable); toggling GRO off then on makes
# sure the NAPI instance is (re)created. TSO/GSO off on the sender makes every wire-size packet
# a separate skb, so the receiver's NAPI does real per-packet work, like a gateway's.
# When a flow sends, veth_xmit schedules the peer's NAPI on the *sending* CPU
# (veth_forward_skb -> __veth_xdp_flush -> napi_schedule), so with more pairs than cores
# several veth NAPIs share a core: the co-location wgtrace is about.
set -eu

PAIRS=2
THREADED=0
SECONDS_=5
PREFIX=wgt
# Device names: <D>a<i> (sender side) and <D>b<i> (receiver side); default D=v (va0, vb0).
DEV=v
# --pin CPU: the senders (iperf3 clients) run on that CPU only. veth schedules the peer's NAPI on
# the sending CPU, so every pair's NAPI is then polled there: the co-location of the talk, made
# on purpose (issue 12's experiment E1).
PIN=
# --bitrate RATE: each flow paced at RATE (iperf3 -b, e.g. 2G), so the cores keep idle time.
BITRATE=
PORT0=5301
MODE=${1:-}
[ $# -gt 0 ] && shift

die() { echo "testbed.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --pairs) PAIRS=$2; shift 2 ;;
    --threaded) THREADED=$2; shift 2 ;;
    --seconds) SECONDS_=$2; shift 2 ;;
    --prefix) PREFIX=$2; shift 2 ;;
    --dev-prefix) DEV=$2; shift 2 ;;
    --pin) PIN=$2; shift 2 ;;
    --bitrate) BITRATE=$2; shift 2 ;;
    --) shift; break ;;
    *) die "unknown option $1" ;;
  esac
done

case "$PAIRS" in 1|2|3|4) ;; *) die "--pairs must be 1..4" ;; esac
case "$THREADED" in 0|1) ;; *) die "--threaded must be 0 or 1" ;; esac
case "$SECONDS_" in ''|*[!0-9]*) die "--seconds must be a whole number" ;; esac
case "$PREFIX" in ''|*[!a-z0-9]*) die "--prefix must be [a-z0-9]+" ;; esac
case "$DEV" in ''|*[!a-z]*) die "--dev-prefix must be [a-z]+" ;; esac
case "$BITRATE" in ''|[0-9]*[0-9KMG]) ;; *) die "--bitrate must be a number with an optional K, M or G" ;; esac
case "$PIN" in ''|[0-9]|[0-9][0-9]|[0-9][0-9][0-9]) ;; *) die "--pin must be a CPU number" ;; esac
[ ${#DEV} -le 8 ] || die "--dev-prefix is too long for a device name"

NSA=${PREFIX}a
NSB=${PREFIX}b

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is missing (apt-get install -y $2)"; }

down() {
  # Kill our iperf3 processes (only those inside our namespaces), then delete the namespaces;
  # deleting a namespace destroys the veth pairs in it.
  for ns in "$NSA" "$NSB"; do
    if ip netns list 2>/dev/null | grep -q "^$ns\( \|$\)"; then
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}

up() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  need ip iproute2; need ethtool ethtool; need iperf3 iperf3; need timeout coreutils
  down
  ip netns add "$NSA"
  ip netns add "$NSB"
  ip -n "$NSA" link set lo up
  ip -n "$NSB" link set lo up
  i=0
  while [ "$i" -lt "$PAIRS" ]; do
    ip link add "${DEV}a$i" netns "$NSA" type veth peer name "${DEV}b$i" netns "$NSB"
    ip -n "$NSA" addr add "198.18.$i.1/24" dev "${DEV}a$i"
    ip -n "$NSB" addr add "198.18.$i.2/24" dev "${DEV}b$i"
    ip netns exec "$NSA" ethtool -K "${DEV}a$i" tso off gso off >/dev/null
    ip netns exec "$NSB" ethtool -K "${DEV}b$i" gro off >/dev/null
    ip netns exec "$NSB" ethtool -K "${DEV}b$i" gro on >/dev/null
    ip -n "$NSA" link set "${DEV}a$i" up
    ip -n "$NSB" link set "${DEV}b$i" up
    # Threaded NAPI (net/core/dev.c: dev_set_threaded): one kthread napi/vb<i>-<napi_id> per NAPI.
    ip netns exec "$NSB" sh -c "echo $THREADED > /sys/class/net/${DEV}b$i/threaded"
    i=$((i + 1))
  done
  i=0
  while [ "$i" -lt "$PAIRS" ]; do
    ip netns exec "$NSB" iperf3 -s -1 -D -B "198.18.$i.2" -p $((PORT0 + i)) >/dev/null 2>&1 || true
    i=$((i + 1))
  done
  # Wait until the servers listen (bounded).
  t=0
  while [ $t -lt 50 ]; do
    n=$(ip netns exec "$NSB" sh -c 'cat /proc/net/tcp' 2>/dev/null | awk '$4 == "0A"' | wc -l)
    [ "$n" -ge "$PAIRS" ] && break
    sleep 0.1; t=$((t + 1))
  done
}

traffic() {
  # One TCP flow per pair, each bounded by iperf3 -t and by timeout(1) as a backstop.
  pids=""
  i=0
  while [ "$i" -lt "$PAIRS" ]; do
    out=${TESTBED_IPERF_DIR:-/tmp}/${PREFIX}-iperf-$i.json
    timeout $((SECONDS_ + 15)) ip netns exec "$NSA" ${PIN:+taskset -c "$PIN"} iperf3 -c "198.18.$i.2" -B "198.18.$i.1" \
      -p $((PORT0 + i)) -t "$SECONDS_" ${BITRATE:+-b "$BITRATE"} -J >"$out" 2>&1 &
    pids="$pids $!"
    i=$((i + 1))
  done
  rc=0
  for p in $pids; do wait "$p" || rc=1; done
  return $rc
}

case "$MODE" in
  up) up; ip netns exec "$NSB" ls /sys/class/net ;;
  down) down ;;
  traffic) traffic ;;
  run)
    [ $# -gt 0 ] || die "run needs -- CMD"
    trap 'down' EXIT
    trap 'down; exit 130' INT
    trap 'down; exit 143' TERM
    trap 'down; exit 129' HUP
    up
    export TESTBED_NS_SENDER="$NSA" TESTBED_NS_RECEIVER="$NSB" TESTBED_PAIRS="$PAIRS" TESTBED_THREADED="$THREADED"
    traffic &
    tpid=$!
    rc=0
    "$@" || rc=$?
    wait "$tpid" || true
    exit $rc
    ;;
  *) die "usage: testbed.sh up|traffic|down|run [--pairs N] [--threaded 0|1] [--seconds S] [--prefix P] [-- CMD]" ;;
esac
