/**
 * Gives a typed array's memory back before the collector would.
 *
 * An ArrayBuffer's memory is outside the JS heap and is freed only when the collector finds its
 * ArrayBuffer dead: for one in the old generation that is the next full collection, which V8
 * runs when the heap (not that memory) reaches its limit. A large table dropped at the end of a
 * load is thus still held while the next phase allocates (bench/README.md, scaling, "Peak RSS
 * at 1 024 x 128, the end of the load": the waits' 32 MB table beside everything extracted
 * after it). Transferring the buffer (HTML structured clone, `transfer`) detaches it, so every
 * view of it reads as empty, and moves its memory to a new ArrayBuffer that nothing references:
 * a young object, freed by the next minor collection, which comes within a few MB of allocation.
 * Only for arrays that nothing reads afterwards (a view of a detached buffer has length 0).
 */
export function releaseBuffers(...arrays: ArrayBufferView[]): void {
  const buffers: ArrayBuffer[] = [];
  for (const a of arrays) {
    const b = a.buffer;
    if (b instanceof ArrayBuffer && b.byteLength > 0 && !buffers.includes(b)) buffers.push(b);
  }
  if (buffers.length > 0) structuredClone(buffers, { transfer: buffers });
}
