/**
 * Replication-log keys shared by all the cores of one simulation (CausalInit.logKeys): each of the
 * n nodes applies every write and persists it under the same key, which each node would otherwise
 * build itself; one string object also lets the simulated disk's log queues match a compaction's
 * delete to their oldest entry by pointer. Kept per origin in an array by sequence number, for the
 * life of the simulation (a few MB per 100k operations).
 */
import { logKey } from '../protocols/causal/core.js';
import type { NodeId } from '../core/protocol.js';

export class SharedLogKeys {
  readonly #byOrigin = new Map<NodeId, string[]>();

  /** logKey(origin, seq), the same string object for every caller. */
  readonly key = (origin: NodeId, seq: number): string => {
    let keys = this.#byOrigin.get(origin);
    if (keys === undefined) this.#byOrigin.set(origin, (keys = []));
    let k = keys[seq];
    if (k === undefined) keys[seq] = k = logKey(origin, seq);
    return k;
  };
}
