#!/bin/sh
# Another bpftrace than the distribution's, for the live version matrix (issue 10): Debian's own
# bpftrace of a newer release, installed with debootstrap into a chroot from the archive apt
# already uses, run on this kernel through a wrapper that looks like any bpftrace binary.
#
#   bpftrace-chroot.sh up SUITE [ROOT]     build (once) and mount; prints the wrapper's path
#   bpftrace-chroot.sh down SUITE [ROOT]   unmount (the chroot stays for the next run)
#
# SUITE: trixie (Debian 13, bpftrace 0.23) or sid (0.27 when this was written). ROOT defaults to
# /var/lib/wgtrace-chroots. Exit 0 only with a working `bpftrace --version` in the chroot; any
# failure (archive unreachable, debootstrap missing) exits non-zero with one line saying why, so
# CI never passes with a version silently missing.
#
# Mounts: /proc, /sys, /dev and /tmp bound into the chroot (the capture scripts are written
# under /tmp and bpftrace reads /proc/kallsyms, /sys/kernel/btf/vmlinux and tracefs), tracefs at
# ROOT/SUITE/sys/kernel/tracing (a separate mount that a plain bind of /sys does not carry).
# Unmount before deleting a chroot: `rm -rf` through a bound /dev, /sys or /tmp deletes the host's.
set -eu

die() { echo "bpftrace-chroot.sh: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: bpftrace-chroot.sh up|down SUITE [ROOT]"
ACTION=$1
SUITE=$2
ROOT=${3:-/var/lib/wgtrace-chroots}
DIR=$ROOT/$SUITE
WRAPPER=$ROOT/bpftrace-$SUITE

mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts; }

down() {
  for m in sys/kernel/tracing sys dev tmp proc; do
    if mounted "$DIR/$m"; then umount -l "$DIR/$m" || die "cannot unmount $DIR/$m"; fi
  done
}

case "$ACTION" in
  down) down; exit 0 ;;
  up) ;;
  *) die "unknown action $ACTION (up or down)" ;;
esac

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, mount, chroot)"
if [ ! -x "$DIR/usr/bin/bpftrace" ]; then
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (apt-get install debootstrap)"
  # The archive apt already uses (the machine reaches no other).
  URI=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -n 1)
  [ -n "$URI" ] || URI=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
  [ -n "$URI" ] || die "no Debian archive URI in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  down
  rm -rf "$DIR.tmp"
  mkdir -p "$ROOT"
  log=$ROOT/debootstrap-$SUITE.log
  if ! debootstrap --variant=minbase --include=bpftrace "$SUITE" "$DIR.tmp" "$URI" > "$log" 2>&1; then
    die "debootstrap of $SUITE from $URI failed (last line: $(tail -n 1 "$log")); full log $log"
  fi
  rm -rf "$DIR"
  mv "$DIR.tmp" "$DIR"
fi

for m in proc sys dev tmp; do
  mkdir -p "$DIR/$m"
  mounted "$DIR/$m" || mount --bind "/$m" "$DIR/$m" || die "cannot bind /$m into $DIR"
done
mounted "$DIR/sys/kernel/tracing" || mount -t tracefs nodev "$DIR/sys/kernel/tracing" || die "cannot mount tracefs in $DIR"

cat > "$WRAPPER" <<EOF
#!/bin/sh
# bpftrace of Debian $SUITE, run from its chroot (test/live/bpftrace-chroot.sh).
exec chroot "$DIR" /usr/bin/bpftrace "\$@"
EOF
chmod 755 "$WRAPPER"
v=$("$WRAPPER" --version 2>/dev/null | head -n 1) || true
case "$v" in bpftrace*) ;; *) die "bpftrace in $DIR does not run (got: '$v')" ;; esac
echo "$WRAPPER"
