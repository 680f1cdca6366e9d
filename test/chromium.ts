import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/**
 * Debian's chromium, headless, on file:// pages (the report's browser test). It runs as root
 * only with --no-sandbox. Its own background traffic (component updates, sign-in, time) is
 * switched off and whatever is left is sent nowhere: every host name fails to resolve and the
 * proxy is a closed local port, so a test never reaches the network even when a page is wrong.
 */
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
export const CONVERT = ['/usr/bin/convert'].find((p) => existsSync(p));

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--hide-scrollbars',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--disable-domain-reliability',
  '--no-first-run',
  '--proxy-server=127.0.0.1:9',
  '--host-resolver-rules=MAP * ~NOTFOUND',
  // The page's scripts run to completion before the DOM is dumped or the screenshot taken.
  '--virtual-time-budget=15000',
];

export interface ChromiumRun {
  stdout: string;
  stderr: string;
  /** Console messages the page logged (chromium writes them to stderr as CONSOLE lines). */
  console: string[];
  /** URLs the page itself requested, from chromium's net log (its own background requests excluded). */
  pageRequests: string[];
}

export function chromium(url: string, extra: string[], netLog: string): ChromiumRun {
  if (CHROMIUM === undefined) throw new Error('no chromium');
  const r = spawnSync(CHROMIUM, [...FLAGS, '--enable-logging=stderr', '--v=0', `--log-net-log=${netLog}`, ...extra, url], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`chromium exited ${r.status} ${r.signal ?? ''}: ${r.stderr.slice(-2000)}`);
  const consoleLines = r.stderr.split('\n').filter((l) => /:CONSOLE[:(]/.test(l));
  const log = JSON.parse(readFileSync(netLog, 'utf8')) as { events: { params?: { url?: string; network_isolation_key?: string; initiator?: string } }[] };
  const page = new Set<string>();
  for (const e of log.events) {
    const p = e.params;
    if (p?.url === undefined || p.url.startsWith('file:')) continue;
    // Requests made for a file:// page carry it in their isolation key; chromium's own do not.
    if ((p.network_isolation_key ?? '').includes('file://') || p.initiator === 'null') page.add(p.url);
  }
  return { stdout: r.stdout, stderr: r.stderr, console: consoleLines, pageRequests: [...page] };
}

/**
 * Share of a PNG region's pixels within `fuzz` (0..255 per channel) of any of `colours`
 * (`#rrggbb`), from ImageMagick's histogram of the region.
 */
export function regionColourShare(png: string, r: { x: number; y: number; w: number; h: number }, colours: string[], fuzz = 12): number {
  if (CONVERT === undefined) throw new Error('no convert');
  const out = execFileSync(CONVERT, [png, '-crop', `${r.w}x${r.h}+${r.x}+${r.y}`, '+repage', '-format', '%c', 'histogram:info:'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const want = colours.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)));
  let total = 0;
  let hit = 0;
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+):\s*\(\s*(\d+),\s*(\d+),\s*(\d+)/.exec(line);
    if (!m) continue;
    const n = Number(m[1]);
    const rgb = [Number(m[2]), Number(m[3]), Number(m[4])];
    total += n;
    if (want.some((w) => w.every((v, i) => Math.abs(v - rgb[i]!) <= fuzz))) hit += n;
  }
  return total > 0 ? hit / total : 0;
}

/** Standard deviation of a region of a PNG (0: one flat colour), by ImageMagick. */
export function regionStdDev(png: string, x: number, y: number, w: number, h: number): number {
  if (CONVERT === undefined) throw new Error('no convert');
  const out = execFileSync(CONVERT, [png, '-crop', `${w}x${h}+${x}+${y}`, '+repage', '-format', '%[fx:standard_deviation]', 'info:'], { encoding: 'utf8' });
  return Number(out.trim());
}
