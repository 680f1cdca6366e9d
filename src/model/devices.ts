/**
 * Device name patterns as the capture's `--devices` and analyze's `--tunnels` take them
 * (src/cli/commands/capture.ts, bpftrace-scripts/capture.sh): comma-separated entries, each a
 * name, `PREFIX*`, or `'*'`; `?` and `[...]` are read as in a shell glob too.
 */
export function deviceGlob(pattern: string): (name: string) => boolean {
  const parts = pattern
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((p): ((name: string) => boolean) => {
      try {
        const re = new RegExp(
          '^' +
            p
              .replace(/[.+^${}()|\\]/g, '\\$&')
              .replace(/\*/g, '.*')
              .replace(/\?/g, '.') +
            '$',
        );
        return (name) => re.test(name);
      } catch {
        // Not a valid pattern (an unbalanced '['): the entry is a plain name.
        return (name) => name === p;
      }
    });
  return (name) => parts.some((m) => m(name));
}

/**
 * The per-CPU backlog NAPI (net/core/dev.c: process_backlog, softnet_data.backlog) has no
 * device: napi:napi_poll prints its dev_name as "(no_device)" (include/trace/events/napi.h).
 */
export const BACKLOG_DEVICE = '(no_device)';
