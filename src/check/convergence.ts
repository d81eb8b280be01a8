/**
 * Final reads after quiescence, shared by the causal and eventual checkers. Quiescence begins when
 * every acknowledged write has completed and every write of unknown outcome has been invoked; a
 * final read is a replica's last read of a key invoked after that point.
 */
import { canonical, formatOp, type History, type Operation } from './history.js';
import type { Violation } from './verdict.js';

export interface FinalReads {
  /** Time after which no write is in flight (-Infinity when there are no writes). */
  readonly quiescence: number;
  /** key → replica → its final read. */
  readonly byKey: ReadonlyMap<string, ReadonlyMap<string, Operation>>;
}

export type ReplicaOf = (op: Operation) => string;

/** The replica that served an operation: its `node`, else its process. */
export const replicaOrProcess: ReplicaOf = (op) => op.node ?? `process ${String(op.process)}`;

export function finalReads(history: History, replicaOf: ReplicaOf = replicaOrProcess): FinalReads {
  let quiescence = -Infinity;
  for (const op of history.ops) {
    if (op.f === 'get') continue;
    quiescence = Math.max(quiescence, op.status === 'ok' ? op.ret : op.call);
  }
  const byKey = new Map<string, Map<string, Operation>>();
  for (const op of history.ops) {
    if (op.f !== 'get' || op.status !== 'ok' || op.call <= quiescence) continue;
    let m = byKey.get(op.key);
    if (!m) byKey.set(op.key, (m = new Map()));
    const rep = replicaOf(op);
    const prev = m.get(rep);
    if (!prev || prev.call < op.call || (prev.call === op.call && prev.id < op.id)) m.set(rep, op);
  }
  return { quiescence, byKey };
}

/** Every replica's final read of a key returns the same value. */
export function convergenceViolations(finals: FinalReads, keys: Iterable<string>, replicaOf: ReplicaOf = replicaOrProcess): Violation[] {
  const out: Violation[] = [];
  for (const key of keys) {
    const reads = finals.byKey.get(key);
    if (!reads) continue;
    const byValue = new Map<string, Operation[]>();
    for (const op of reads.values()) {
      const c = canonical(op.value);
      const list = byValue.get(c);
      if (list) list.push(op);
      else byValue.set(c, [op]);
    }
    if (byValue.size <= 1) continue;
    const shown = [...byValue.values()].map((l) => l[0] as Operation);
    const q = Number.isFinite(finals.quiescence) ? `t=${finals.quiescence}` : 'the start';
    out.push({
      rule: 'convergence',
      explanation:
        `after quiescence (no write in flight after ${q}) the replicas disagree on key "${key}":\n` +
        shown.map((op) => `    ${replicaOf(op)} reads ${JSON.stringify(op.value)}: ${formatOp(op)}`).join('\n'),
      ops: shown,
    });
  }
  return out;
}
