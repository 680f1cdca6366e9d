#!/usr/bin/env node
// The detectors' CPU time alone (issue 16; bench/README.md, "Cost per event at 1 024 x 128"):
// loads a capture once with TREE's dist, then runs computeFacts, each registered detector and
// runDetectors REPS times each, and prints their CPU ms (user + system, process.cpuUsage) and
// the lowest. The timeline's size (windows, NAPIs, (NAPI, core) pairs) is printed first.
//
//   node bench/detectors-cost.mjs TREE FILE [REPS]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
const root = pathToFileURL(resolve(process.argv[2] ?? '.')).href;
const file = process.argv[3];
const reps = +(process.argv[4] || 5);
const { loadTimeline } = await import(root + '/dist/timeline/load.js');
const { computeFacts } = await import(root + '/dist/detect/facts.js');
const { DETECTORS, runDetectors } = await import(root + '/dist/detect/registry.js');
const { DEFAULT_THRESHOLDS } = await import(root + '/dist/detect/thresholds.js');
const t = await loadTimeline(file);
let pairs = 0;
for (const n of t.napis) pairs += n.perCpu.size;
console.log('windows', t.windowCount, 'napis', t.napis.length, 'pairs', pairs, 'cpus', t.cpus.length);
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};
const time = (name, f) => {
  const ts = [];
  let r;
  for (let i = 0; i < reps; i++) {
    const a = cpu();
    r = f();
    ts.push(cpu() - a);
  }
  ts.sort((a, b) => a - b);
  console.log(name.padEnd(16), ts.map((x) => x.toFixed(0)).join(' '), 'min', ts[0].toFixed(0));
  return r;
};
const facts = time('facts', () => computeFacts(t, {}));
const ctx = { timeline: t, thresholds: DEFAULT_THRESHOLDS, facts };
for (const d of DETECTORS) time(d.id, () => d.detect(ctx));
time('runDetectors', () => runDetectors(t, {}));
