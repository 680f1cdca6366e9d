// The samples bench/whatif-validation.sh writes (DIR/<experiment>/samples.txt), read the same way
// by bench/whatif-validation.mjs (the checks) and bench/whatif-calibrate.mjs (the calibration).

/** Where bench/whatif-validation.sh writes by default. */
export const OUT_DEFAULT = 'bench/out/whatif';

/** `--name value` options of a script's argv: opt(name, default). */
export const optionReader = (args) => (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};

export function parseSamples(text) {
  const lines = text.trim().split('\n');
  const head = lines[0].split(' ');
  const meta = {};
  for (let i = 0; i + 1 < head.length; i += 2) meta[head[i]] = head[i + 1];
  const samples = new Map();
  for (const l of lines.slice(1)) {
    const f = l.split(' ');
    const label = `${f[0]} ${f[1]}`;
    const ns = BigInt(f[2]);
    const packets = {};
    const cpus = {};
    const roles = {};
    let flows;
    for (const x of f.slice(3)) {
      if (x.startsWith('flows:')) flows = Number(x.slice(6));
      else if (x.startsWith('role:')) {
        const [role, run, wait, slices] = x.slice(5).split(',');
        roles[role] = { run: Number(run), wait: Number(wait), slices: Number(slices) };
      } else if (x.includes('=')) {
        const [k, v] = x.split('=');
        packets[k] = Number(v);
      } else {
        const [cpu, ...v] = x.split(',');
        cpus[cpu] = v.map(Number);
      }
    }
    samples.set(label, { ns, packets, cpus, roles, flows });
  }
  return { meta, samples };
}

export const pps = (a, b) => {
  let n = 0;
  for (const k of Object.keys(b.packets)) n += b.packets[k] - a.packets[k];
  return (n * 1e9) / Number(b.ns - a.ns);
};
/** /proc/stat busy per cpu between two samples: 1 - (idle + iowait) / all fields (fs/proc/stat.c: show_stat). */
export const statBusy = (a, b) =>
  Object.keys(b.cpus)
    .sort((x, y) => Number(x.slice(3)) - Number(y.slice(3)))
    .map((cpu) => {
      const d = b.cpus[cpu].map((v, i) => v - a.cpus[cpu][i]);
      const total = d.slice(0, 8).reduce((s, v) => s + v, 0);
      return total > 0 ? 1 - (d[3] + d[4]) / total : 0;
    });
export const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

/**
 * One repetition's measured on/off ratio, or why it has none: a flow that ended (or stalled)
 * inside a repetition makes its ratio mean nothing.
 */
export function repetitionRatio(samples, r) {
  const s = (l) => samples.get(`${l} ${r}`);
  if (!s('off-start') || !s('on-end')) return { reason: 'not measured' };
  // Samples from before the flows count (flows:N) have none: nothing to compare.
  const started = s('off-start').flows;
  const left = s('on-end').flows;
  if (started !== undefined && left !== undefined && left < started) return { reason: `a flow ended inside the repetition (${left} of ${started} iperf3 clients running at its end)` };
  const off = pps(s('off-start'), s('off-end'));
  const on = pps(s('on-start'), s('on-end'));
  if (!(off > 0 && on > 0) || pps(s('capture-start'), s('capture-end')) < 0.5 * off) {
    return { reason: `no steady traffic (${Math.round(off)} / ${Math.round(on)} packets/s off / on)` };
  }
  return { off, on, ratio: on / off, onBusy: statBusy(s('on-start'), s('on-end')) };
}
