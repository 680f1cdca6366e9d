/**
 * A read-only array whose items are made on demand from columns (typed arrays) instead of being
 * kept as objects: for the evidence lists of a finding that grow with pairs of NAPIs (a core
 * shared by 1,024 tunnels has a million waits in one co-location finding; as objects they took
 * about 100 MB of heap, as columns 16 bytes each). To every reader it is an array of `length`
 * items (Array.isArray, indexing, iteration, the array methods, JSON.stringify, zod), each item
 * made again at each read: equal, not identical, from one read to the next. Writes throw.
 */
/**
 * A column list's item maker, read by `itemsOf` (a reader that walks every item, the `--json`
 * writer, makes them without the proxy's traps: a string key parsed per item).
 */
const AT = Symbol('columnList.at');

/** Items [from, to) of an array (a column list's made directly), as a plain array. */
export function itemsOf<T>(list: readonly T[], from: number, to: number): T[] {
  const at = (list as unknown as { [AT]?: (i: number) => T })[AT];
  if (at === undefined) return list.slice(from, to);
  const out: T[] = new Array<T>(Math.max(0, to - from));
  for (let i = from; i < to; i++) out[i - from] = at(i);
  return out;
}

export function columnList<T>(length: number, at: (i: number) => T): T[] {
  const target: T[] = [];
  const index = (p: string | symbol): number => {
    if (typeof p !== 'string') return -1;
    const i = Number(p);
    return Number.isInteger(i) && i >= 0 && i < length && String(i) === p ? i : -1;
  };
  const readOnly = (): never => {
    throw new TypeError('columnList: read-only');
  };
  return new Proxy(target, {
    get(t, p, receiver) {
      if (p === 'length') return length;
      if (p === AT) return at;
      const i = index(p);
      if (i >= 0) return at(i);
      return Reflect.get(t, p, receiver) as unknown;
    },
    has(t, p) {
      return index(p) >= 0 || p === 'length' || Reflect.has(t, p);
    },
    getOwnPropertyDescriptor(t, p) {
      const i = index(p);
      if (i >= 0) return { value: at(i), writable: false, enumerable: true, configurable: true };
      // `length` is the target's own (non-configurable) property: the proxy must report it as such.
      if (p === 'length') return { value: length, writable: true, enumerable: false, configurable: false };
      return Reflect.getOwnPropertyDescriptor(t, p);
    },
    ownKeys(t) {
      const keys: (string | symbol)[] = [];
      for (let i = 0; i < length; i++) keys.push(String(i));
      return keys.concat(Reflect.ownKeys(t));
    },
    set: readOnly,
    defineProperty: readOnly,
    deleteProperty: readOnly,
  });
}
