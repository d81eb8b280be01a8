import type { NodeId } from '../core/protocol.js';

/**
 * Position of a node id in the simulation's id list, or -1: a scan, since the list has a handful of
 * ids and the simulator's ids are interned (each comparison is a pointer comparison).
 */
export function nodeIndex(ids: readonly NodeId[], id: NodeId): number {
  for (let i = 0; i < ids.length; i++) if (ids[i] === id) return i;
  return -1;
}
