#!/usr/bin/env node
// Regenerates the published-figures table in docs/models.md from the models (npm run models-table).
// Needs the build (dist/); test/unit/replay-published.test.ts checks the doc is current.
import { readFileSync, writeFileSync } from 'node:fs';
import { publishedFiguresTable } from '../dist/synth/published.js';

const path = new URL('../docs/models.md', import.meta.url);
const doc = readFileSync(path, 'utf8');
const start = '<!-- models-table:start -->';
const end = '<!-- models-table:end -->';
const a = doc.indexOf(start);
const b = doc.indexOf(end);
if (a < 0 || b < a) {
  process.stderr.write('models-table: docs/models.md has no models-table markers\n');
  process.exit(1);
}
const out = doc.slice(0, a + start.length) + '\n' + publishedFiguresTable() + '\n' + doc.slice(b);
writeFileSync(path, out);
process.stdout.write('docs/models.md: table updated\n');
