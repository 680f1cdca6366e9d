import { z } from 'zod';

/**
 * `--json` written piece by piece: the same bytes as `JSON.stringify(schema.parse(value), null,
 * 2)`, without the whole validated copy or the whole string in memory at once. On a stock
 * capture of 1,024 tunnels on 128 cores the analyze object printed 455 MB while co-location
 * listed every wait (a million in one finding; 31 MB since the lists keep their longest 100,
 * src/detect/longest.ts): the parsed copy and the string took about 1.5 GB together.
 *
 * The value is walked along its schema. An object's fields are written in the schema's key
 * order, which is the order zod's object parse builds its output in (zod/v4/core/schemas.js:
 * $ZodObject iterates `Object.keys(def.shape)`; unknown keys are stripped, so they are never
 * written); an array's items one by one; a discriminated union's member is picked by its
 * discriminator. Everything else (and any object or array with checks or transforms of its
 * own) is a leaf: parsed by its own schema, and that output stringified, so every value
 * written went through zod exactly as before. Arrays of small items (no array inside) are
 * parsed in batches. A value that fails its schema throws a `JsonStreamError` naming its path;
 * what was written before it stays written (it is our bug, not the input's: the CLI reports
 * an internal error and exits non-zero).
 */
export type JsonSink = (text: string) => void | Promise<void>;

export class JsonStreamError extends Error {
  constructor(
    readonly path: string,
    error: z.ZodError,
  ) {
    super(`--json output does not match its schema at ${path === '' ? 'the top' : path}: ${z.prettifyError(error).replace(/\n/g, '; ')}`);
  }
}

/** Flush to the sink past this many UTF-16 units (large pieces are not joined with others). */
const FLUSH_AT = 1 << 16;
/** Items of an array of small items validated per zod call. */
const BATCH = 256;

export async function writeJson(schema: z.ZodType, value: unknown, sink: JsonSink): Promise<void> {
  const w = new Writer(sink);
  await w.value(schema, value, 0, '');
  w.put('\n');
  await w.flush();
}

/** The zod internals the walk reads (zod 4: `schema._zod.def`). */
interface Def {
  type: string;
  checks?: unknown[];
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  values?: unknown[];
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;
const noChecks = (d: Def): boolean => d.checks === undefined || d.checks.length === 0;

/** Whether a schema can hold an array: the items of an array of such are written one by one. */
const nested = new WeakMap<z.ZodType, boolean>();
function holdsArray(s: z.ZodType, seen = new Set<z.ZodType>()): boolean {
  const known = nested.get(s);
  if (known !== undefined) return known;
  if (seen.has(s)) return true;
  seen.add(s);
  const d = defOf(s);
  let r: boolean;
  if (d.type === 'array' || d.type === 'record' || d.type === 'tuple' || d.type === 'lazy' || d.type === 'pipe' || d.type === 'transform') r = true;
  else if (d.type === 'object') r = Object.values(d.shape ?? {}).some((f) => holdsArray(f, seen));
  else if (d.type === 'optional' || d.type === 'nullable' || d.type === 'default') r = d.innerType !== undefined && holdsArray(d.innerType, seen);
  else if (d.type === 'union') r = (d.options ?? []).some((o) => holdsArray(o, seen));
  else r = false;
  nested.set(s, r);
  return r;
}

const batchSchemas = new WeakMap<z.ZodType, z.ZodType>();
function batchOf(item: z.ZodType): z.ZodType {
  let b = batchSchemas.get(item);
  if (b === undefined) batchSchemas.set(item, (b = z.array(item)));
  return b;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

class Writer {
  private buf: string[] = [];
  private size = 0;
  private readonly pads: string[] = [''];

  constructor(private readonly sink: JsonSink) {}

  put(s: string): void {
    this.buf.push(s);
    this.size += s.length;
  }

  async flush(): Promise<void> {
    if (this.buf.length === 0) return;
    const s = this.buf.length === 1 ? this.buf[0]! : this.buf.join('');
    this.buf = [];
    this.size = 0;
    await this.sink(s);
  }

  private async maybeFlush(): Promise<void> {
    if (this.size >= FLUSH_AT) await this.flush();
  }

  private pad(depth: number): string {
    while (this.pads.length <= depth) this.pads.push(' '.repeat(2 * this.pads.length));
    return this.pads[depth]!;
  }

  /** An already-validated value at `depth`, as JSON.stringify(_, null, 2) writes it there. */
  private leafText(parsed: unknown, depth: number): string | undefined {
    const s = JSON.stringify(parsed, null, 2) as string | undefined;
    if (s === undefined || depth === 0 || !s.includes('\n')) return s;
    // JSON strings never hold a raw newline (JSON.stringify escapes it): every '\n' is layout.
    return s.replace(/\n/g, `\n${this.pad(depth)}`);
  }

  private parse(schema: z.ZodType, value: unknown, path: string): unknown {
    const r = schema.safeParse(value);
    if (!r.success) throw new JsonStreamError(path, r.error);
    return r.data;
  }

  /**
   * Writes `value` (validated by `schema`) at `depth`; false when it writes nothing (a field
   * whose output is undefined, which JSON.stringify leaves out of its object).
   */
  async value(schema: z.ZodType, value: unknown, depth: number, path: string): Promise<boolean> {
    const d = defOf(schema);
    if (d.type === 'optional' && value !== undefined && d.innerType !== undefined) return this.value(d.innerType, value, depth, path);
    if (d.type === 'object' && noChecks(d) && d.shape !== undefined && isRecord(value)) return this.object(d.shape, value, depth, path);
    if (d.type === 'array' && noChecks(d) && d.element !== undefined && Array.isArray(value)) return this.array(d.element, value, depth, path);
    if (d.type === 'union' && d.discriminator !== undefined && noChecks(d) && isRecord(value)) {
      const member = (d.options ?? []).find((o) => {
        const f = defOf(o).shape?.[d.discriminator!];
        return f !== undefined && (defOf(f).values ?? []).includes(value[d.discriminator!]);
      });
      if (member !== undefined) return this.value(member, value, depth, path);
    }
    const text = this.leafText(this.parse(schema, value, path), depth);
    if (text === undefined) return false;
    this.put(text);
    await this.maybeFlush();
    return true;
  }

  private async object(shape: Record<string, z.ZodType>, value: Record<string, unknown>, depth: number, path: string): Promise<boolean> {
    const inner = this.pad(depth + 1);
    let first = true;
    for (const key of Object.keys(shape)) {
      const head = `${first ? '{\n' : ',\n'}${inner}${JSON.stringify(key)}: `;
      const at = this.buf.length;
      this.put(head);
      // The field is written after its head; when it writes nothing, the head goes again. A
      // field is one leaf unless its value is an object or array, which are never undefined.
      if (await this.value(shape[key]!, value[key], depth + 1, path === '' ? key : `${path}.${key}`)) first = false;
      else {
        this.buf.length = at;
        this.size -= head.length;
      }
    }
    this.put(first ? '{}' : `\n${this.pad(depth)}}`);
    return true;
  }

  private async array(item: z.ZodType, value: readonly unknown[], depth: number, path: string): Promise<boolean> {
    if (value.length === 0) {
      this.put('[]');
      return true;
    }
    const inner = this.pad(depth + 1);
    if (holdsArray(item)) {
      for (let i = 0; i < value.length; i++) {
        this.put(`${i === 0 ? '[\n' : ',\n'}${inner}`);
        // An item whose output is undefined is `null` in an array (JSON.stringify).
        if (!(await this.value(item, value[i], depth + 1, `${path}[${i}]`))) this.put('null');
      }
    } else {
      const batch = batchOf(item);
      // A batch is stringified as one array, nested in `depth` arrays so that JSON.stringify
      // indents it where it goes: JSON.stringify([part], null, 2) is "[\n  " + the part at one
      // level + "\n]", and so on for each level (prefix d^2 + 3d characters, suffix d^2 + d); the
      // part at depth d is "[\n" + inner + items joined by ",\n" + inner + "\n" + pad + "]": the
      // same bytes as the items one by one (an item that stringifies to undefined is `null` in
      // an array either way), without a stringify and a replace per item (1.7 s of 7 on the
      // 455 MB of a 1,024 x 128 stock capture; a replace per batch was still 0.4 s).
      const head = depth * depth + 3 * depth;
      const tail = depth * depth + depth + 2 + this.pad(depth).length;
      for (let i = 0; i < value.length; i += BATCH) {
        const part = value.slice(i, Math.min(value.length, i + BATCH));
        const r = batch.safeParse(part);
        if (!r.success) throw new JsonStreamError(`${path}[${i}..${i + part.length - 1}]`, r.error);
        let wrapped: unknown = r.data;
        for (let k = 0; k < depth; k++) wrapped = [wrapped];
        const text = JSON.stringify(wrapped, null, 2);
        // Without the part's closing "\n" + pad + "]"; a later batch goes on after a comma.
        this.put(i === 0 ? text.slice(head, text.length - tail) : `,${text.slice(head + 1, text.length - tail)}`);
        await this.maybeFlush();
      }
    }
    this.put(`\n${this.pad(depth)}]`);
    return true;
  }
}
