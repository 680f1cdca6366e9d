import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VETH_THREAD_POLL_FACTOR, VETH_THREAD_POLL_FACTOR_IDLE, VETH_THREAD_WAKE_FACTOR, VETH_THREAD_WAKE_FACTOR_IDLE } from '../../src/replay/parameters.js';

// docs/models.md states the veth threaded parameters in prose; a user reading it must see the
// values the code uses (the wake factor's doc had drifted to an earlier calibration: 1.2 for 1.5).
describe('docs/models.md and the veth threaded parameters', () => {
  const doc = readFileSync(new URL('../../docs/models.md', import.meta.url), 'utf8');
  const range = (p: { value: number; low: number; high: number }): string => `${p.value.toFixed(2)}, range ${p.low.toFixed(2)}..${p.high.toFixed(2)}`;

  it('gives the wake factor the code uses', () => {
    expect(doc.replace(/\s+/g, ' ')).toContain(`wake factor ${range(VETH_THREAD_WAKE_FACTOR)}`);
  });

  it('gives the poll factor the code uses', () => {
    expect(doc.replace(/\s+/g, ' ')).toContain(`poll factor ${range(VETH_THREAD_POLL_FACTOR)}`);
  });

  it('gives the factors of the regime where the senders hold the flows (E5) the code uses', () => {
    const d = doc.replace(/\s+/g, ' ');
    expect(d).toContain(`idle-CPU poll factor ${range(VETH_THREAD_POLL_FACTOR_IDLE)}`);
    expect(d).toContain(`idle-CPU wake factor ${range(VETH_THREAD_WAKE_FACTOR_IDLE)}`);
  });
});
