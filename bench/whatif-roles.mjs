#!/usr/bin/env node
// Where each phase's CPU went, per role, from the schedstat sums bench/whatif-validation.sh
// records with every sample (`role:NAME,RUN,WAIT,SLICES`): the iperf3 clients (senders) and
// servers (receivers) by namespace, the napi kthreads, ksoftirqd. Per experiment, medians over
// the repetitions of the off and on phases (no tracer running in either):
//   packets/s, each core's /proc/stat busy, and per role its CPU (share of one core), its ns
//   of CPU per packet, its runqueue wait per packet and its timeslices per packet.
// A diagnosis of the threaded model's per-core utilization (docs/models.md), not a check.
//
//   node bench/whatif-roles.mjs --out DIR [--json]
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { median, optionReader, OUT_DEFAULT, parseSamples, pps, statBusy } from './whatif-samples.mjs';

const args = process.argv.slice(2);
const opt = optionReader(args);
const OUT = opt('--out', OUT_DEFAULT);

function phase(samples, r, name) {
  const a = samples.get(`${name}-start ${r}`);
  const b = samples.get(`${name}-end ${r}`);
  if (!a || !b || !a.roles || !b.roles) return undefined;
  const rate = pps(a, b);
  const secs = Number(b.ns - a.ns) / 1e9;
  const roles = {};
  for (const k of Object.keys(b.roles)) {
    const d = (f) => b.roles[k][f] - (a.roles[k]?.[f] ?? 0);
    roles[k] = { share: d('run') / 1e9 / secs, nsPerPacket: d('run') / (rate * secs), waitNsPerPacket: d('wait') / (rate * secs), slicesPerPacket: d('slices') / (rate * secs) };
  }
  return { rate, busy: statBusy(a, b), roles };
}

const medianOf = (rows, get) => median(rows.map(get).filter((v) => Number.isFinite(v)));
const out = [];
for (const name of readdirSync(OUT)
  .filter((d) => existsSync(join(OUT, d, 'samples.txt')))
  .sort()) {
  const { meta, samples } = parseSamples(readFileSync(join(OUT, name, 'samples.txt'), 'utf8'));
  for (const ph of ['off', 'on']) {
    const reps = [];
    for (let r = 1; r <= Number(meta.reps); r++) {
      const p = phase(samples, r, ph);
      if (p && p.rate > 0) reps.push(p);
    }
    if (!reps.length) continue;
    const roles = {};
    for (const k of Object.keys(reps[0].roles)) {
      roles[k] = {};
      for (const f of ['share', 'nsPerPacket', 'waitNsPerPacket', 'slicesPerPacket']) roles[k][f] = medianOf(reps, (p) => p.roles[k]?.[f]);
    }
    const busy = reps[0].busy.map((_, i) => medianOf(reps, (p) => [...p.busy].sort((x, y) => y - x)[i]));
    out.push({ experiment: name, phase: ph, reps: reps.length, rate: medianOf(reps, (p) => p.rate), busySorted: busy, roles });
  }
}
if (args.includes('--json')) console.log(JSON.stringify(out, null, 2));
else {
  const roleNames = [...new Set(out.flatMap((o) => Object.keys(o.roles)))];
  console.log(`| experiment | phase | reps | packets/s | cores busy (sorted) | ${roleNames.map((r) => `${r}: cpu, ns/packet, wait ns/packet, slices/packet`).join(' | ')} |`);
  console.log(`| --- | --- | --- | --- | --- | ${roleNames.map(() => '---').join(' | ')} |`);
  for (const o of out) {
    const cells = roleNames.map((r) => {
      const x = o.roles[r];
      return x ? `${Math.round(x.share * 100)}%, ${Math.round(x.nsPerPacket)}, ${Math.round(x.waitNsPerPacket)}, ${x.slicesPerPacket.toFixed(3)}` : '';
    });
    console.log(`| ${o.experiment} | ${o.phase} | ${o.reps} | ${Math.round(o.rate).toLocaleString('en')} | ${o.busySorted.map((b) => `${Math.round(b * 100)}%`).join(' ')} | ${cells.join(' | ')} |`);
  }
}
