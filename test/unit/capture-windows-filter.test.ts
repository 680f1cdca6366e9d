import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scriptsDir } from '../../src/capture/script.js';
import { WindowsFilter } from '../../src/capture/windows-filter.js';

// bpftrace 0.17 text output of the windows script after zero() (real shapes: pointers signed).
const RAW =
  [
    'Attaching 10 probes...',
    '#@probes_start_boot_ns 644962998303',
    'WIN 645105846626 142828234',
    '@napi[1, vb2, -131387273117696]: (6925688, 66, 2541, 3)',
    '@napi[1, vb2, -131387273117696]: (6925688, 66, 2541, 3)', // listed twice by a racing key walk
    '@napi[0, vb1, -131387273678848]: (0, 0, 0, 0)', // zeroed, idle this window
    '',
    '@netrx[1]: (6300330, 70, 0, 645105840000)',
    '@netrx[0]: (0, 0, 0, 0)',
    '@nettx[0]: (0, 0, 0)',
    '',
    'WIN 645205845835 99987752',
    '@napi[1, vb2, -131387273117696]: (15336654, 240, 9120, 0)',
    '@netrx[1]: (6300330, 70, 0, 645105840000)', // a total that did not change: idle this window
    '@crypt[1]: (20000, 3)',
    'Lost 3 events',
    '#@probes_stop_boot_ns 645305845835',
    '@napi[1, vb2, -131387273117696]: (15336654, 240, 9120, 0)', // the window maps again at exit, unchanged
    '@poll_t[0]: 645305840000', // state maps printed by bpftrace at exit
    '@win_t: 645305845835',
    '',
  ].join('\n') + '\n';

const KEPT =
  [
    'Attaching 10 probes...',
    '#@probes_start_boot_ns 644962998303',
    'WIN 645105846626 142828234',
    '@napi[1, vb2, -131387273117696]: (6925688, 66, 2541, 3)',
    '@netrx[1]: (6300330, 70, 0, 645105840000)',
    'WIN 645205845835 99987752',
    '@napi[1, vb2, -131387273117696]: (15336654, 240, 9120, 0)',
    '@crypt[1]: (20000, 3)',
    'Lost 3 events',
    '#@probes_stop_boot_ns 645305845835',
  ].join('\n') + '\n';

describe('windows output filter', () => {
  it('keeps each changed window map total once per window, whatever the chunking', () => {
    expect(new WindowsFilter(false).filter(RAW)).toBe(KEPT);
    const f = new WindowsFilter(false);
    const lines = RAW.split('\n');
    let out = '';
    for (let i = 0; i < lines.length - 1; i += 3) out += f.filter(lines.slice(i, i + 3).join('\n') + '\n');
    expect(out).toBe(KEPT);
  });

  it('capture.sh filters the same way (windows-filter.awk)', () => {
    const out = execFileSync('awk', ['-f', join(scriptsDir(), 'windows-filter.awk')], { input: RAW, encoding: 'utf8' });
    expect(out).toBe(KEPT);
  });

  it('json: drops zero keys, repeated keys in a window and non-window maps', () => {
    const f = new WindowsFilter(true);
    const out = f.filter(
      [
        '{"type": "printf", "data": "WIN 10 10\\n"}',
        '{"type": "map", "data": {"@napi": {"0,vb0,-131365202636408": [6314355,40,1700,0], "1,vb0,-131365202636408": [0,0,0,0]}}}',
        '{"type": "map", "data": {"@napi": {"0,vb0,-131365202636408": [6314355,40,1700,0]}}}',
        '{"type": "map", "data": {"@netrx": {"0": [0,0,0,0]}}}',
        '{"type": "printf", "data": "WIN 20 10\\n"}',
        '{"type": "map", "data": {"@napi": {"0,vb0,-131365202636408": [6314355,40,1700,0]}}}',
        '{"type": "map", "data": {"@rx_t": {"0": 5}}}',
        '',
      ].join('\n') + '\n',
    );
    // The second window's total did not change: dropped with its map record.
    expect(out).toBe('{"type": "printf", "data": "WIN 10 10\\n"}\n{"type":"map","data":{"@napi":{"0,vb0,-131365202636408":[6314355,40,1700,0]}}}\n{"type": "printf", "data": "WIN 20 10\\n"}\n');
  });
});
