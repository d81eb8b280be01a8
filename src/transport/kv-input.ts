import { CausewayError } from '../core/errors.js';

/**
 * Checks on what a client sends the key-value store, shared by the HTTP and CoAP faces: a request
 * that fails them gets a 4xx naming the problem and changes nothing. They exist because a value is
 * acknowledged once it is in the log, and must then survive encoding for the log, LMDB and the
 * peer links, and read back the same on every replica:
 *
 * - nesting deeper than {@link MAX_VALUE_DEPTH}: the encoder recurses, and a few thousand levels
 *   (a 10 KB body) overflow its stack;
 * - strings or object keys with an unpaired UTF-16 surrogate (JSON's `"\ud800"`): UTF-8 cannot
 *   carry them, so replicas would read U+FFFD where the origin reads the surrogate;
 * - numbers outside a 64-bit float's range (`1e400` parses to Infinity, which reads back as null);
 * - the object key `"__proto__"`, which the decoder renames to keep it off the prototype chain;
 * - more than {@link MAX_VALUE_CONTAINERS} objects and arrays: parsed, `[{},{},...]` in 64 KiB
 *   is 21,000 objects, some 1.3 MB of memory in every replica for each such value, and as much
 *   work to encode and decode at every hop.
 */
export const MAX_VALUE_DEPTH = 128;
export const MAX_VALUE_CONTAINERS = 8192;

/** A UTF-16 surrogate not part of a pair (with the `u` flag a pair reads as one code point). */
const LONE_SURROGATE = /\p{Cs}/u;
const wellFormed = (s: string): boolean => !LONE_SURROGATE.test(s);

function fail(code: 'bad-request' | 'key-too-long', detail: string): never {
  throw new CausewayError(code, detail);
}

/** Returns the key if it is a non-empty, well-formed string of at most `maxKeyBytes` UTF-8 bytes. */
export function checkKey(key: unknown, maxKeyBytes: number): string {
  if (typeof key !== 'string' || key.length === 0) fail('bad-request', 'field "key" must be a non-empty string');
  if (Buffer.byteLength(key) > maxKeyBytes) fail('key-too-long', `key is longer than ${maxKeyBytes} bytes`);
  if (!wellFormed(key)) fail('bad-request', 'key has an unpaired UTF-16 surrogate, which UTF-8 cannot carry');
  return key;
}

/** A part of a value being checked: its depth, and how it hangs from its container (for messages). */
interface Part {
  readonly v: unknown;
  readonly depth: number;
  readonly parent: Part | null;
  readonly step: string | number;
}

/** Where a part sits, for messages: `$`, `$.a`, `$[3]`, `$["a b"]` (built only for an error). */
function pathTo(p: Part): string {
  if (p.parent === null) return '$';
  const parent = pathTo(p.parent);
  if (typeof p.step === 'number') return `${parent}[${p.step}]`;
  return /^[A-Za-z_$][\w$]*$/.test(p.step) ? `${parent}.${p.step}` : `${parent}[${JSON.stringify(p.step)}]`;
}

/**
 * Throws a `bad-request` CausewayError naming the first part of a parsed JSON value the store
 * cannot keep as it is (see above). Iterative, so a value of any depth is refused, not a stack
 * overflow. Returns how many objects and arrays the value has (for its cost: write-budget.ts).
 */
export function checkValue(value: unknown): number {
  let containers = 0;
  const stack: Part[] = [{ v: value, depth: 0, parent: null, step: '' }];
  for (let here = stack.pop(); here !== undefined; here = stack.pop()) {
    const v = here.v;
    if (typeof v === 'string') {
      if (!wellFormed(v)) fail('bad-request', `value has a string with an unpaired UTF-16 surrogate at ${pathTo(here)}, which UTF-8 cannot carry`);
      continue;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) fail('bad-request', `value has a number at ${pathTo(here)} outside the range of a 64-bit float`);
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (here.depth >= MAX_VALUE_DEPTH) fail('bad-request', `value is nested more than ${MAX_VALUE_DEPTH} levels deep (at ${pathTo(here)})`);
    if (++containers > MAX_VALUE_CONTAINERS) fail('bad-request', `value has more than ${MAX_VALUE_CONTAINERS} objects and arrays (the next at ${pathTo(here)}); store such data as fewer, larger parts`);
    const depth = here.depth + 1;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], depth, parent: here, step: i });
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i] as string;
      if (k === '__proto__') fail('bad-request', `value has the object key "__proto__" at ${pathTo(here)}, which the store cannot keep`);
      if (!wellFormed(k)) fail('bad-request', `value has an object key with an unpaired UTF-16 surrogate at ${pathTo(here)}, which UTF-8 cannot carry`);
      stack.push({ v: (v as Record<string, unknown>)[k], depth, parent: here, step: k });
    }
  }
  return containers;
}
