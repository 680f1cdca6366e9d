import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The chart library the page inlines, read from node_modules when a report is written (never
 * fetched by the page: it opens offline). uPlot (MIT) draws 100 k-point time series from a
 * ~50 KB script with no dependencies; its licence asks that the notice travel with the copy,
 * so the page carries it.
 */
export interface ReportAssets {
  uplotJs: string;
  uplotCss: string;
  uplotLicense: string;
  uplotVersion: string;
}

export function loadReportAssets(): ReportAssets {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('uplot/package.json');
  const dir = dirname(pkgPath);
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string };
  return {
    uplotJs: readFileSync(join(dir, 'dist', 'uPlot.iife.min.js'), 'utf8'),
    uplotCss: readFileSync(join(dir, 'dist', 'uPlot.min.css'), 'utf8'),
    uplotLicense: readFileSync(join(dir, 'LICENSE'), 'utf8'),
    uplotVersion: pkg.version,
  };
}
