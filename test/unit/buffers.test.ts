import { describe, expect, it } from 'vitest';
import { releaseBuffers } from '../../src/base/buffers.js';

describe('releaseBuffers (memory given back before the collector would)', () => {
  it('detaches the arrays it is given: they and every view of their buffers read as empty', () => {
    const a = new Float64Array(1024).fill(1);
    const viewOfA = a.subarray(10, 20);
    const b = new Int32Array(64).fill(2);
    const kept = new Float64Array(8).fill(3);
    releaseBuffers(a, b);
    expect(a.length).toBe(0);
    expect(a.buffer.byteLength).toBe(0);
    expect(viewOfA.length).toBe(0);
    expect(b.length).toBe(0);
    // What it was not given is untouched.
    expect([...kept]).toEqual(new Array(8).fill(3));
  });

  it('takes one buffer listed twice (two views of it) and arrays already empty', () => {
    const a = new Float64Array(256);
    const v = a.subarray(0, 16);
    const empty = new Int32Array(0);
    expect(() => releaseBuffers(a, v, empty)).not.toThrow();
    expect(a.length).toBe(0);
    expect(() => releaseBuffers(a)).not.toThrow();
  });
});
