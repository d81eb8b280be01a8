import type { CausalWrite } from './types.js';

/** Bytes counted for a write besides its value: its clock, origin, Lamport stamp and bookkeeping. */
export const WRITE_OVERHEAD_BYTES = 64;

/**
 * A write's size for the causal-delivery buffer's byte bound (CausalOptions.writeBytes): its key
 * and its value as JSON, two bytes a character, plus a fixed overhead. Asked only of writes that
 * get buffered. A value JSON cannot encode (a peer of another version could send one) counts as
 * the overhead alone rather than throw inside the core.
 */
export function estimateWriteBytes(w: CausalWrite): number {
  let chars = w.key.length;
  try {
    chars += JSON.stringify(w.value)?.length ?? 0;
  } catch {
    // a BigInt or a cycle: not from this version's nodes
  }
  return WRITE_OVERHEAD_BYTES + 2 * chars;
}
