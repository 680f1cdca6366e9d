#!/usr/bin/env node
// Replay model speed: the structured max-min solver (shared round-robin share + pinned
// stages) against the generic dense progressive filling on the same problems, measured in the
// same run, and Monte Carlo runs per second on gateways of growing size.
//
//   npm run build && node bench/replay-speed.mjs [--runs 20]
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const { maxMinFair, maxMinFairCores, denseConstraints } = await import(join(dist, 'replay/fairness.js'));
const { stockProblem } = await import(join(dist, 'replay/models/stock.js'));
const { monteCarloModel } = await import(join(dist, 'replay/montecarlo.js'));
const { ReplayOptions } = await import(join(dist, 'replay/options.js'));
const { makeScenario, scenarioModelInput } = await import(join(dist, 'synth/scenario.js'));
const { Prng } = await import(join(dist, 'replay/prng.js'));

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 20) || 20;

function time(fn, reps) {
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < reps; k++) fn(k);
  return Number(process.hrtime.bigint() - t0) / 1e6 / reps;
}

console.log('solver: one stock allocation (ms per solve)');
for (const [n, m] of [
  [16, 32],
  [64, 128],
  [256, 256],
]) {
  const inp = scenarioModelInput(makeScenario({ tunnels: n, cpus: m, seed: 1 }), 'elastic');
  const rng = new Prng(1);
  const polls = Array.from({ length: 20 }, () => Int32Array.from({ length: n }, () => rng.int(m)));
  const problems = polls.map((p) => stockProblem(inp, p));
  const demand = Float64Array.from(inp.tunnels, (t) => t.demandPps);
  const cpus = inp.cpus;
  const fast = time((k) => maxMinFairCores(problems[k % 20], demand), 200);
  const dense = time((k) => maxMinFair(n, denseConstraints(problems[k % 20], cpus), demand), 20);
  console.log(`  ${n} tunnels x ${m} cores: structured ${fast.toFixed(3)} ms, dense ${dense.toFixed(3)} ms, ratio ${(dense / fast).toFixed(1)}x`);
}

console.log(`Monte Carlo (${runs} runs, default 1 s horizon, elastic demand)`);
for (const [n, m] of [
  [8, 32],
  [16, 32],
  [64, 128],
]) {
  const inp = scenarioModelInput(makeScenario({ tunnels: n, cpus: m, seed: 1 }), 'elastic');
  const o = ReplayOptions.parse({ runs, seed: 1 });
  for (const model of ['stock', 'threaded', 'inline']) {
    const t0 = process.hrtime.bigint();
    monteCarloModel(model, inp, o);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    console.log(`  ${n} x ${m} ${model}: ${(ms / runs).toFixed(1)} ms per run`);
  }
}
