import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventsCostNote } from '../../src/capture/run.js';
import { generateScript, scriptEnv, scriptsDir, type ScriptRequest } from '../../src/capture/script.js';

/**
 * The generator (bpftrace-scripts/gen-script.sh) against fake tracefs and kallsyms trees:
 * one per kernel generation, so the version differences are exercised without root.
 */
const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function fakeKernel(opts: { dataLocComm: boolean; wqName: boolean; wg: boolean; btf?: boolean }): Record<string, string> {
  const d = mkdtempSync(join(tmpdir(), 'wgtrace-gen-'));
  made.push(d);
  const fmt = (tp: string, body: string): void => {
    mkdirSync(join(d, 'events', tp), { recursive: true });
    writeFileSync(join(d, 'events', tp, 'format'), `name: ${tp}\nformat:\n${body}\n`);
  };
  fmt('sched/sched_migrate_task', opts.dataLocComm ? '\tfield:__data_loc char[] comm;\toffset:8;\tsize:4;\tsigned:0;' : '\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;');
  fmt('workqueue/workqueue_queue_work', opts.wqName ? '\tfield:__data_loc char[] workqueue;\toffset:24;\tsize:4;\tsigned:0;' : '\tfield:void * workqueue;\toffset:24;\tsize:8;\tsigned:0;');
  fmt('workqueue/workqueue_execute_end', '\tfield:void * work;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:void * function;\toffset:16;\tsize:8;\tsigned:0;');
  const ksyms = opts.wg
    ? 'ffffffffc0a01230 t wg_packet_decrypt_worker\t[wireguard]\nffffffffc0a04560 t wg_packet_encrypt_worker\t[wireguard]\nffffffffc0a07890 t wg_packet_tx_worker\t[wireguard]\n'
    : 'ffffffff81000000 T _stext\n';
  writeFileSync(join(d, 'kallsyms'), ksyms);
  if (opts.btf) writeFileSync(join(d, 'vmlinux'), 'BTF');
  return { WGTRACE_TRACEFS: d, WGTRACE_KALLSYMS: join(d, 'kallsyms'), WGTRACE_BTF: join(d, 'vmlinux') };
}

const k618 = fakeKernel({ dataLocComm: true, wqName: true, wg: true, btf: true });
const kOld = fakeKernel({ dataLocComm: false, wqName: false, wg: false });
/** The program without its // comments (which quote code). */
const code = (s: string): string => s.replace(/\/\/.*$/gm, '');

const base: ScriptRequest = { mode: 'events', devices: 'wg*', intervalMs: 10, durationS: 10, cpus: 2, bpftraceVersion: '0.17', env: k618 };

describe('gen-script.sh', () => {
  it('0.17 on 6.18: args->, __data_loc comm via str(), wg functions matched by address, no config block', () => {
    const s = generateScript(base);
    expect(s).not.toMatch(/\{\{[A-Z_]+\}\}/);
    expect(s).toContain('if (strncmp($dev, "wg", 2) == 0) {');
    expect(s).toContain('$dev = str(args->dev_name);');
    expect(s).toContain('strncmp(str(args->comm), "napi/", 5) == 0');
    expect(s).toContain('(uint64)args->function == (uint64)0xffffffffc0a01230');
    expect(s).toContain('@wgk[(uint64)$prev_pid]');
    expect(s).toContain('str(args->workqueue)');
    expect(s).not.toMatch(/args\./);
    expect(s).not.toMatch(/^config =/m);
    expect(s).toMatch(/interval:s:10\s*\{\s*exit\(\);/);
    // softirq_raise only on request: a quarter of all events, unused by the timeline.
    expect(code(s)).not.toContain('softirq_raise');
    expect(code(generateScript({ ...base, withRaise: true }))).toContain('tracepoint:irq:softirq_raise');
    expect(scriptEnv(base)).toEqual({ BPFTRACE_PERF_RB_PAGES: '1024', BPFTRACE_MAP_KEYS_MAX: '4096', BPFTRACE_STRLEN: '32' });
  });

  it('0.20 on an old kernel: args., config block, char[16] comm, no wg probes without the module', () => {
    const s = generateScript({ ...base, bpftraceVersion: '0.20', env: kOld });
    // 0.27's own stdlib needs max_strlen > 16 (gen-script.sh); the same from 0.20 on.
    expect(s).toMatch(/^config = \{ max_map_keys = 4096; max_strlen = 80 \}$/m);
    // No BTF: the __data_loc read (the 0.23 offset bug is then not avoidable).
    expect(s).toContain('$dev = str(args.dev_name);');
    expect(s).toContain('strncmp(args.comm, "napi/", 5) == 0');
    expect(s).not.toMatch(/args->/);
    expect(code(s)).not.toMatch(/tracepoint:workqueue|@wgk\[/);
    // Config comes from the block, not from 0.17's environment variables.
    expect(scriptEnv({ ...base, bpftraceVersion: '0.20', env: kOld })).toEqual({ BPFTRACE_PERF_RB_PAGES: '1024' });
  });

  it('0.21 to 0.23 read __data_loc strings wrongly: comm from the switch-in, workqueue "-", and refused without BTF', () => {
    const s = code(generateScript({ ...base, bpftraceVersion: '0.23' }));
    expect(s).toContain('@napit[(uint64)$next_pid] = $next_comm;');
    expect(s).toContain('strncmp(@napit[(uint64)args.pid], "napi/", 5) == 0');
    expect(s).toContain('$wq = "-";');
    expect(s).not.toMatch(/str\(args\.(comm|workqueue|dev_name)\)/);
    const ok = code(generateScript({ ...base, bpftraceVersion: '0.24' }));
    expect(ok).toContain('$wq = str(args.workqueue); if ($wq == "") { $wq = "-"; }');
    expect(ok).not.toContain('@napit');
    expect(() => generateScript({ ...base, bpftraceVersion: '0.23', env: kOld })).toThrow(/wrong offset .*no BTF/);
  });

  it('0.20+ with kernel BTF: the device name from args.napi->dev (0.23 reads __data_loc at the wrong offset)', () => {
    for (const v of ['0.20', '0.23', '0.27']) {
      for (const mode of ['events', 'windows'] as const) {
        const s = generateScript({ ...base, mode, bpftraceVersion: v });
        expect(code(s)).not.toContain('dev_name');
        expect(s).toContain('$dev = args.napi->dev->name; if (args.napi->dev == 0) { $dev = "(no_device)"; }');
      }
    }
  });

  it('delete() is an assignment from 0.24 (it returns a value there; discarding it is warned about), a statement before', () => {
    for (const [v, del] of [
      ['0.17', /^\s+delete\(@wgk\[tid\]\);$/m],
      ['0.23', /^\s+delete\(@wgk\[tid\]\);$/m],
      ['0.24', /^\s+\$_del = delete\(@wgk\[tid\]\);$/m],
      ['0.27', /^\s+\$_del = delete\(@wgk\[tid\]\);$/m],
    ] as const) {
      expect(generateScript({ ...base, bpftraceVersion: v }), v).toMatch(del);
    }
  });

  it('windows mode: every tuple map typed in BEGIN by a zero it deletes (0.27 types a map from its first use), no nested ternary (0.23 crashes)', () => {
    for (const v of ['0.17', '0.23', '0.27']) {
      const s = code(generateScript({ ...base, mode: 'windows', bpftraceVersion: v }));
      const begin = s.slice(s.indexOf('BEGIN'), s.indexOf('tracepoint:'));
      for (const m of ['netrx', 'nettx', 'rx_t', 'tx_t', 'poll_t', 'idle', 'crypt', 'napi']) {
        expect(begin, `${v} @${m}`).toMatch(new RegExp(`@${m}\\[cpu[^\\]]*\\] = `));
        expect(begin, `${v} @${m}`).toMatch(new RegExp(`delete\\(@${m}\\[cpu`));
      }
      expect(s).not.toMatch(/\?[^;\n]*\?/);
    }
  });

  it('idle time: one sched_switch program records switches to and from pid 0 (events: one IP record per period, at its end; windows @idle)', () => {
    for (const v of ['0.17', '0.27']) {
      const ev = code(generateScript({ ...base, bpftraceVersion: v }));
      expect(ev.match(/^tracepoint:sched:sched_switch$/gm)?.length).toBe(1);
      // Nothing printed at the switch to idle (a record there wakes bpftrace, whose sleep is the next switch to idle).
      expect(ev).not.toMatch(/printf\("IE/);
      expect(ev.match(/printf\("I/g)).toEqual(['printf("I']);
      expect(ev).toContain('printf("IP %llu %u %llu %llu\\n", $now, cpu, $j.0, $j.1);');
      const win = code(generateScript({ ...base, mode: 'windows', bpftraceVersion: v }));
      expect(win.match(/^tracepoint:sched:sched_switch$/gm)?.length).toBe(1);
      expect(win.match(/^ {2}print\(@idle\);$/gm)?.length).toBe(2);
    }
  });

  it('0.19 still gets args-> and environment variables (the config block came in 0.20)', () => {
    const s = generateScript({ ...base, bpftraceVersion: '0.19' });
    expect(s).toContain('args->napi');
    expect(code(s)).not.toMatch(/config =/);
    expect(scriptEnv({ ...base, bpftraceVersion: '0.19' })['BPFTRACE_MAP_KEYS_MAX']).toBe('4096');
    // 0.20 refuses to start with the old variable names set (bpftrace PR #2815)
    expect(scriptEnv({ ...base, bpftraceVersion: '0.20' })).toEqual({ BPFTRACE_PERF_RB_PAGES: '1024' });
  });

  it('device patterns: * is no filter, NAME is exact, PREFIX* a prefix compare, lists are ORed; other globs refused', () => {
    const pred = (devices: string): string => {
      const s = generateScript({ ...base, devices });
      return /^ {2}if \((.*)\) \{$/m.exec(s.slice(s.indexOf('tracepoint:napi:napi_poll')))![1]!;
    };
    expect(pred('*')).toBe('1');
    expect(pred('eth0')).toBe('$dev == "eth0"');
    expect(pred('wg*,vb*')).toBe('strncmp($dev, "wg", 2) == 0 || strncmp($dev, "vb", 2) == 0');
    // Events mode: every poll is seen; the untraced ones print only where they ended (PX).
    const ev = generateScript({ ...base, devices: 'wg*' });
    expect(ev).toMatch(/\} else \{\n\s+printf\("PX %llu %u\\n", nsecs, cpu\);/);
    expect(() => generateScript({ ...base, devices: 'wg[0-3]' })).toThrow(/not NAME, PREFIX\* or \*/);
    expect(() => generateScript({ ...base, devices: '*-tun' })).toThrow(/not NAME, PREFIX\* or \*/);
  });

  it('windows mode: interval and duration substituted, totals printed (never cleared nor zeroed) each window, crypt probes with wg', () => {
    const s = generateScript({ ...base, mode: 'windows', intervalMs: 25, durationS: 0 });
    expect(s).toMatch(/interval:ms:25/);
    expect(s).not.toMatch(/interval:s:/); // --duration 0: until a signal
    for (const m of ['napi', 'netrx', 'nettx', 'crypt', 'idle']) {
      expect(s.match(new RegExp(`^  print\\(@${m}\\);$`, 'gm'))?.length, m).toBe(2); // each window and END
    }
    expect(code(s)).not.toMatch(/\bzero\(/);
    // The device filter tests the name copied once, inside the napi_poll program.
    expect(s).toMatch(/^tracepoint:napi:napi_poll\n\{$/m);
    expect(s).toContain('if (strncmp($dev, "wg", 2) == 0) {');
    expect(generateScript({ ...base, mode: 'windows', devices: '*' })).toContain('if (1) {');
    expect(generateScript({ ...base, mode: 'windows', devices: 'eth0,vb*' })).toContain('if ($dev == "eth0" || strncmp($dev, "vb", 2) == 0) {');
    // One program per softirq tracepoint (each attached program costs a call on every softirq).
    expect(s.match(/^tracepoint:irq:softirq_entry$/gm)?.length).toBe(1);
    expect(s.match(/^tracepoint:irq:softirq_exit$/gm)?.length).toBe(1);
    // bpftrace 0.17's clear() aborts on a key removed under it (windows.bt.in)
    expect(code(s)).not.toMatch(/\bclear\(/);
    expect(s).toContain('(uint64)args->function == (uint64)0xffffffffc0a04560');
    expect(s).not.toContain('0xffffffffc0a07890'); // tx worker is not crypt work
    expect(scriptEnv({ ...base, mode: 'windows', cpus: 256, maxTunnels: 1000 })['BPFTRACE_MAP_KEYS_MAX']).toBe('256000');
  });

  it("the ready-to-run scripts checked in (bpftrace-scripts/wgtrace-*.bt) are the generator's --portable output, and depend on nothing of this machine", () => {
    for (const [file, v, mode] of [
      ['wgtrace-events.bt', '0.20', 'events'],
      ['wgtrace-windows.bt', '0.20', 'windows'],
      ['wgtrace-events-0.17.bt', '0.17', 'events'],
      ['wgtrace-windows-0.17.bt', '0.17', 'windows'],
    ] as const) {
      const checkedIn = readFileSync(join(scriptsDir(), file), 'utf8');
      // Another machine's kernel (no wg module, old formats): the portable output must not change.
      const s = execFileSync('sh', [join(scriptsDir(), 'gen-script.sh'), '--portable', '--mode', mode, '--bpftrace-version', v, '--devices', 'wg*', '--duration', '0'], {
        encoding: 'utf8',
        env: { ...process.env, ...kOld },
      });
      if (process.env['UPDATE_GOLDEN']) writeFileSync(join(scriptsDir(), file), s);
      else expect(checkedIn, `${file} is stale: regenerate it with the command in its first lines (or UPDATE_GOLDEN=1)`).toBe(s);
      expect(code(s)).not.toMatch(/0x[0-9a-f]{16}/); // no address from a kallsyms
      expect(code(s)).toContain('kaddr("wg_packet_decrypt_worker")');
      expect(code(s)).not.toMatch(/interval:s:/); // until Ctrl-C
      expect(code(s)).not.toMatch(/\{\{[A-Z_]+\}\}/);
    }
  });

  it('refuses bad options with one line', () => {
    expect(() => generateScript({ ...base, intervalMs: 0 })).toThrow(/--interval/);
    expect(() => generateScript({ ...base, bpftraceVersion: 'x' })).toThrow(/bad bpftrace version/);
  });

  it('capture.sh is POSIX sh (dash -n) and names what is missing before attaching anything', () => {
    const sh = join(scriptsDir(), 'capture.sh');
    for (const f of ['capture.sh', 'gen-script.sh']) execFileSync('dash', ['-n', join(scriptsDir(), f)]);
    let err = '';
    try {
      execFileSync('dash', [sh, '--duration', '1', '-o', join(tmpdir(), 'never.txt')], { env: { ...process.env, WGTRACE_BPFTRACE: '/nonexistent/bpftrace' }, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      err = String((e as { stderr: Buffer }).stderr);
    }
    expect(err).toMatch(/cannot capture, missing:[\s\S]*bpftrace \(Debian\/Ubuntu: apt-get install bpftrace\)/);
  });

  it('events mode on bpftrace before 0.18 says what it costs before attaching, in both wrappers; not windows mode, not 0.18 on', () => {
    expect(eventsCostNote('events', 'bpftrace v0.17.0')).toMatch(/^bpftrace 0\.17 prints every event through per-CPU perf buffers.*--tracer perf$/);
    expect(eventsCostNote('events', 'bpftrace v0.16.0')).toMatch(/^bpftrace 0\.16 /);
    expect(eventsCostNote('windows', 'bpftrace v0.17.0')).toBeUndefined();
    for (const v of ['bpftrace v0.18.0', 'bpftrace v0.23.2', 'bpftrace v0.27.1', 'bpftrace v1.0.0', '']) expect(eventsCostNote('events', v), v).toBeUndefined();
  });

  // capture.sh gets as far as the note only as root (it names a missing root first).
  it.skipIf(process.getuid?.() !== 0)('capture.sh prints the same note, one line, before it runs bpftrace', () => {
    const d = mkdtempSync(join(tmpdir(), 'wgtrace-note-'));
    made.push(d);
    const note = (version: string, mode: string): string => {
      const fake = join(import.meta.dirname, '../fixtures/bin/fake-bpftrace');
      let err = '';
      try {
        execFileSync('dash', [join(scriptsDir(), 'capture.sh'), '--mode', mode, '--duration', '1', '--force', '-o', join(d, `cap-${version}-${mode}.txt`)], {
          env: { ...process.env, WGTRACE_BPFTRACE: fake, FAKE_BPFTRACE_VERSION: version },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (e) {
        err = String((e as { stderr: Buffer }).stderr);
      }
      return err
        .split('\n')
        .filter((l) => l.startsWith('capture.sh: note:'))
        .join('\n');
    };
    expect(note('0.17.0', 'events')).toBe(
      `capture.sh: note: ${eventsCostNote('events', 'bpftrace v0.17.0')!.replace('(--bpftrace PATH), or capture.sh --tracer perf', '(--bpftrace PATH), or --tracer perf')}`,
    );
    expect(note('0.17.0', 'windows')).toBe('');
    expect(note('0.23.2', 'events')).toBe('');
  });
});
