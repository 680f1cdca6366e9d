/**
 * Kernel pointers read from bytes by value (the byte fast paths of bpftrace-text.ts and
 * tracepoints.ts): the hex digit table and a growing open-addressing table from a pointer's
 * two 32-bit halves to its normal form (`0x` + 16 lowercase hex digits, model/events.ts).
 */

/** Hex digit values by byte, -1 for anything else. */
export const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[65 + i] = HEX[97 + i] = 10 + i;
/**
 * The by-value pointer table (pointerField): starts at 2^10 slots and doubles at half full, up
 * to 2^20 (a gateway has one work pointer per device and CPU: 1,024 devices x 256 CPUs is
 * 262,144 of them); past 3/4 of that it stops adding, and a new pointer costs its text.
 */
const PTR_TABLE_MIN_BITS = 10;
const PTR_TABLE_MAX_BITS = 20;

/**
 * Open addressing with linear probing on a pointer's two 32-bit halves; the slot is the top
 * bits of a Fibonacci hash (kernel pointers differ in their middle bits, page and slab
 * offsets, not in the lowest ones). A fixed 1,024-slot direct-mapped table thrashed on the
 * 32,768 distinct work pointers of 256 tunnels x 128 cores (issue 16).
 */
export class PointerTable {
  private bits = PTR_TABLE_MIN_BITS;
  private hi = new Int32Array(1 << PTR_TABLE_MIN_BITS);
  private lo = new Int32Array(1 << PTR_TABLE_MIN_BITS);
  private text: string[] = new Array<string>(1 << PTR_TABLE_MIN_BITS).fill('');
  private count = 0;

  private home(hi: number, lo: number): number {
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> (32 - this.bits);
  }

  get(hi: number, lo: number): string | undefined {
    const mask = (1 << this.bits) - 1;
    for (let s = this.home(hi, lo); ; s = (s + 1) & mask) {
      const t = this.text[s]!;
      if (t === '') return undefined;
      if (this.hi[s] === hi && this.lo[s] === lo) return t;
    }
  }

  set(hi: number, lo: number, norm: string): void {
    const size = 1 << this.bits;
    if (2 * (this.count + 1) > size) {
      if (this.bits < PTR_TABLE_MAX_BITS) this.grow();
      else if (4 * (this.count + 1) > 3 * size) return;
    }
    this.put(hi, lo, norm);
  }

  private put(hi: number, lo: number, norm: string): void {
    const mask = (1 << this.bits) - 1;
    let s = this.home(hi, lo);
    while (this.text[s] !== '') s = (s + 1) & mask;
    this.hi[s] = hi;
    this.lo[s] = lo;
    this.text[s] = norm;
    this.count++;
  }

  private grow(): void {
    const { hi, lo, text } = this;
    this.bits++;
    const size = 1 << this.bits;
    this.hi = new Int32Array(size);
    this.lo = new Int32Array(size);
    this.text = new Array<string>(size).fill('');
    this.count = 0;
    for (let s = 0; s < text.length; s++) if (text[s] !== '') this.put(hi[s]!, lo[s]!, text[s]!);
  }
}
