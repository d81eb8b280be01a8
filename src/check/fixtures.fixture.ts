/** Test support: hand-made histories under testdata/histories, and brute-force oracles. */
import { readFileSync } from 'node:fs';
import { historyFromEvents, parseHistory, type History, type HistoryEvent, type Operation } from './history.js';

/** The repository root, from dist-NAME/src/check/ or src/check/. */
export const ROOT = new URL('../../../', import.meta.url);
export const historyPath = (rel: string): string => new URL(`testdata/histories/${rel}`, ROOT).pathname;

/** The property tests' seed: FC_SEED when set (a replay), else one drawn now; each file prints it. */
export function propertySeed(): number {
  return Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
}

/** A hand-built history from its events; a malformed one throws, naming the line. */
export function historyOf(events: HistoryEvent[]): History {
  const r = historyFromEvents(events);
  if (!r.ok) throw new Error(`line ${r.line}: ${r.reason}`);
  return r.history;
}

export function loadHistory(rel: string): History {
  const r = parseHistory(readFileSync(historyPath(rel), 'utf8'));
  if (!r.ok) throw new Error(`${rel}: line ${r.line}: ${r.reason}`);
  return r.history;
}

type Mode = 'linearizable' | 'sequential';

/**
 * Tries every order of the operations (no memo, no pruning beyond the constraints): for
 * linearizability an operation may come next only when no unplaced completed operation returned
 * before it was invoked; for sequential consistency only when its process's earlier completed
 * operations are placed. Info writes are optional. Registers start null; delete sets null.
 */
export function bruteForce(ops: readonly Operation[], mode: Mode): boolean {
  const placed = new Array<boolean>(ops.length).fill(false);
  const state = new Map<string, string>();
  const okLeft = (): boolean => ops.some((op, i) => op.status === 'ok' && !placed[i]);
  const canPlace = (i: number): boolean => {
    const o = ops[i] as Operation;
    return ops.every((u, j) => {
      if (placed[j] || j === i || u.status !== 'ok') return true;
      // real time; equal times in recorded order
      const precedes = u.ret < o.call || (u.ret === o.call && (u.completeLine ?? Infinity) < o.invokeLine);
      return mode === 'linearizable' ? !precedes : !(u.process === o.process && u.id < o.id);
    });
  };
  const go = (): boolean => {
    if (!okLeft()) return true;
    for (let i = 0; i < ops.length; i++) {
      if (placed[i] || !canPlace(i)) continue;
      const o = ops[i] as Operation;
      const cur = state.get(o.key) ?? 'null';
      if (o.f === 'get') {
        if (JSON.stringify(o.value) !== cur) continue;
      } else state.set(o.key, o.f === 'delete' ? 'null' : JSON.stringify(o.value));
      placed[i] = true;
      if (go()) return true;
      placed[i] = false;
      state.set(o.key, cur);
    }
    return false;
  };
  return go();
}
