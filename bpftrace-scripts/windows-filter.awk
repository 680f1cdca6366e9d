# Filter between bpftrace and the capture file in windows mode (text output), used by
# capture.sh; src/capture/windows-filter.ts does the same for `wgtrace capture`.
# The windows script zeroes its maps instead of clearing them (windows.bt.in says why), so
# bpftrace prints every key seen so far in every window. Kept: one line per window map key
# with a non-zero value, once per window. Dropped: zero values, a key printed twice in one
# window (a concurrent update can make bpftrace's key walk list it twice), the state maps
# bpftrace prints at exit (@rx_t, @poll_t, ...), and the blank line after each map.
BEGIN {
  n = split("napi_busy napi_polls napi_work napi_full netrx_busy netrx_count netrx_ksoftirqd nettx_busy nettx_count crypt_busy crypt_count", m, " ")
  for (i = 1; i <= n; i++) keep["@" m[i]] = 1
}
/^WIN / { split("", seen); print; fflush(); next }
/^@/ {
  name = $0; sub(/[\[:].*/, "", name)
  if (!(name in keep)) next
  if ($NF == "0") next
  key = $0; sub(/: -?[0-9]+$/, "", key)
  if (key in seen) next
  seen[key] = 1
  print
  next
}
/^$/ { next }
{ print; fflush() }
