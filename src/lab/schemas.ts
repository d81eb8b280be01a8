/**
 * Request validation for the six lab resources: one zod schema per resource (SPEC §1). Every 4.00
 * message names the field: `field "lamport" must be a non-negative integer`.
 */
import { z } from 'zod';
import type { PyDict, PyValue } from './py-json.js';

/** Counters are non-negative integers of at most 2^53-1 (SPEC §1). */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

const COUNTER_MSG = 'must be a non-negative integer';

type Issue = { code: string; input?: unknown; origin?: string };

const counterError = (iss: Issue): string => {
  if (iss.input === undefined) return 'is required';
  if (iss.code === 'too_big') return `must be at most ${MAX_COUNTER}`;
  return COUNTER_MSG;
};

const counter = z
  .number({ error: counterError })
  .int({ error: counterError })
  .min(0, { error: counterError })
  .max(MAX_COUNTER, { error: counterError });

const node = z.string({ error: (iss: Issue) => (iss.input === undefined ? 'is required' : 'must be a non-empty string') }).min(1, {
  error: 'must be a non-empty string',
});

/** `value` may be any JSON value, null included, but must be present. */
const value = z.custom<PyValue>((v) => v !== undefined, { error: 'is required (null is allowed)' });

function clockList(nodes: number) {
  const listMsg = `must be a list of ${nodes} non-negative integers (one per node)`;
  return z.array(counter, { error: (iss: Issue) => (iss.input === undefined ? 'is required' : listMsg) }).length(nodes, {
    error: (iss: Issue) => `must have exactly ${nodes} entries (one per node), got ${Array.isArray(iss.input) ? iss.input.length : '?'}`,
  });
}

export function labSchemas(nodes: number) {
  return {
    lamport: z.object({ node, lamport: counter, value }),
    vector: z.object({ node, clock: clockList(nodes), value }),
    eventual: z.object({ node, value, timestamp: counter }),
    causal: z.object({ node, value, vc: clockList(nodes) }),
    sequential: z.object({ node, value, lamport: counter }),
    strong: z.object({ node, value, op_id: counter.optional() }),
  } as const;
}
export type LabSchemas = ReturnType<typeof labSchemas>;

/**
 * What zod sees: ints become JS numbers (ints beyond 2^53-1 become imprecise numbers, so `max`
 * rejects them with the right message), floats stay numbers (1.0 is an integer, 1.5 is not), lists
 * and objects are converted, and the top-level `value` is passed through untouched.
 */
function toZodInput(v: PyValue): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(toZodInput);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, toZodInput(x)]));
  return v;
}

export function bodyForSchema(body: PyDict): Record<string, unknown> {
  return Object.fromEntries([...body].map(([k, x]) => [k, k === 'value' ? x : toZodInput(x)]));
}

function pathName(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out;
}

export type Validated<T> = { ok: true; data: T } | { ok: false; message: string };

export function validate<S extends z.ZodType>(schema: S, body: PyDict): Validated<z.infer<S>> {
  const r = schema.safeParse(bodyForSchema(body));
  if (r.success) return { ok: true, data: r.data };
  // one message per field: the first problem found with it
  const byField = new Map<string, string>();
  for (const i of r.error.issues) {
    const name = pathName(i.path);
    if (!byField.has(name)) byField.set(name, `field "${name}" ${i.message}`);
  }
  return { ok: false, message: [...byField.values()].join('; ') };
}
