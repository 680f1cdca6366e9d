# Filter between bpftrace and the capture file in windows mode (text output), used by
# capture.sh; src/capture/windows-filter.ts does the same for `wgtrace capture`.
# The windows script prints totals since the probes attached and never clears its maps
# (windows.bt.in says why), so bpftrace prints every key seen so far in every window. Kept: a
# window map entry whose value changed since this filter last passed that key, once per window.
# Dropped: unchanged entries, all-zero values (`0`, `(0, 0, 0, 0)`), a key printed twice in one
# window (a concurrent update can make bpftrace's key walk list it twice; its increments show
# in the next window), the state maps bpftrace prints at exit (@rx_t, @poll_t, ...), and the
# blank line after each map.
BEGIN {
  n = split("napi netrx nettx crypt idle untraced", m, " ")
  for (i = 1; i <= n; i++) keep["@" m[i]] = 1
}
/^WIN / { split("", seen); print; fflush(); next }
/^@/ {
  name = $0; sub(/[\[:].*/, "", name)
  if (!(name in keep)) next
  val = $0; sub(/^.*: /, "", val)
  if (val ~ /^\(?0(, 0)*\)?$/) next
  key = $0; sub(/: [^:]*$/, "", key)
  if (key in seen) next
  seen[key] = 1
  if ((key in last) && last[key] == val) next
  last[key] = val
  print
  next
}
/^$/ { next }
{ print; fflush() }
