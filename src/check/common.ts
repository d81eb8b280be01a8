import { canonical, formatOp, type History, type Operation } from './history.js';
import type { Violation } from './verdict.js';

/** Maps (key, canonical value) to the puts that wrote it. */
export function writersByValue(ops: readonly Operation[]): Map<string, Operation[]> {
  const m = new Map<string, Operation[]>();
  for (const op of ops) {
    if (op.f !== 'put') continue;
    const k = `${op.key}\u0000${canonical(op.value)}`;
    const list = m.get(k);
    if (list) list.push(op);
    else m.set(k, [op]);
  }
  return m;
}

export function valueKey(op: Operation): string {
  return `${op.key}\u0000${canonical(op.value)}`;
}

/**
 * Every model: a read returns null or a value that some put of that key wrote (and did not fail).
 */
export function unwrittenReads(history: History): Violation[] {
  const writers = writersByValue(history.ops);
  const failedWriters = writersByValue(history.failed);
  const out: Violation[] = [];
  for (const r of history.ops) {
    if (r.f !== 'get' || r.value === null) continue;
    if (writers.has(valueKey(r))) continue;
    const failed = failedWriters.get(valueKey(r));
    out.push({
      rule: 'read-of-unwritten-value',
      explanation: failed
        ? `${formatOp(r)} returned a value that only a failed put wrote (a failed operation did not happen): ${formatOp(failed[0] as Operation)}`
        : `${formatOp(r)} returned ${JSON.stringify(r.value)}, which no put of key "${r.key}" ever wrote`,
      ops: failed ? [r, failed[0] as Operation] : [r],
    });
  }
  return out;
}
