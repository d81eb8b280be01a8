/**
 * Eventual consistency, judged at the end of a history (Vogels 2009; Jepsen's "lost write"):
 *  - read-of-unwritten-value: every read returns null or a value some put of its key wrote;
 *  - convergence: after quiescence (no write in flight) every replica's final read of a key agrees;
 *  - lost-write: every acknowledged write is present or overwritten — the agreed final state must
 *    come from a write (or, for null, a delete or the initial state) that does not strictly precede,
 *    in real time, an acknowledged write with a different effect.
 * Replicas are told apart by the `node` field (by process when it is absent). Without any read
 * after quiescence the verdict is 'unknown'.
 */
import { canonical, formatOp, type History, type Operation } from './history.js';
import { unwrittenReads } from './common.js';
import { convergenceViolations, finalReads, replicaOrProcess } from './convergence.js';
import { invalid, type Verdict, type Violation } from './verdict.js';

const effectOf = (op: Operation): string => (op.f === 'delete' ? 'null' : canonical(op.value));

export function checkEventual(history: History): Verdict {
  const phantom = unwrittenReads(history);
  if (phantom.length > 0) return invalid('eventual', phantom);
  const finals = finalReads(history, replicaOrProcess);
  if (finals.byKey.size === 0) {
    const q = Number.isFinite(finals.quiescence) ? `t=${finals.quiescence}` : 'the start';
    return { valid: 'unknown', model: 'eventual', reason: `no read after quiescence (the last write is in flight until ${q}), so convergence cannot be judged` };
  }
  const keys = [...finals.byKey.keys()].sort();
  const cv = convergenceViolations(finals, keys, replicaOrProcess);
  if (cv.length > 0) return invalid('eventual', cv, cv[0]?.ops[0]?.key);

  const violations: Violation[] = [];
  for (const key of keys) {
    const final = [...(finals.byKey.get(key) as ReadonlyMap<string, Operation>).values()][0] as Operation;
    const v = canonical(final.value);
    const writes = history.ops.filter((op) => op.key === key && op.f !== 'get');
    const producers = writes.filter((op) => effectOf(op) === v);
    const competitors = writes.filter((op) => op.status === 'ok' && effectOf(op) !== v);
    const survives = (p: Operation): boolean => !competitors.some((c) => p.ret < c.call);
    const initialViable = v === 'null' && competitors.length === 0;
    if (initialViable || producers.some(survives)) continue;
    const latest = competitors.reduce((a, b) => (b.call > a.call ? b : a));
    const lastProducer = producers.reduce<Operation | null>((a, b) => (a === null || b.ret > a.ret ? b : a), null);
    const source = lastProducer ? `the last write of it, ${formatOp(lastProducer)},` : 'the initial state';
    violations.push({
      rule: 'lost-write',
      explanation:
        `every replica ends with key "${key}" = ${v} (${formatOp(final)}), but ${source} ` +
        `completed before this acknowledged write was invoked, so it was lost (neither present nor overwritten):\n    ${formatOp(latest)}`,
      ops: [latest, final, ...(lastProducer ? [lastProducer] : [])],
    });
  }
  if (violations.length > 0) return invalid('eventual', violations, violations[0]?.ops[0]?.key);
  const unread = history.keys.filter((k) => !finals.byKey.has(k) && history.ops.some((op) => op.key === k && op.f !== 'get'));
  return {
    valid: true,
    model: 'eventual',
    ...(unread.length > 0 ? { notes: [`no read after quiescence for key(s) ${unread.map((k) => `"${k}"`).join(', ')}: not judged`] } : {}),
  };
}
