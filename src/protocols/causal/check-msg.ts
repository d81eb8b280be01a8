import { isCounter } from '../../clocks/vector.js';
import type { CausalMsg } from './types.js';
import { MAX_HAVE_RANGES } from './have.js';

/**
 * What is wrong with a message from a peer, or null when it has the shape of a CausalMsg. A peer
 * passed authentication, so this is not about forgery: it is a node of another version, or a bug,
 * whose message would otherwise throw inside the core (ending the process) or leave NaN in a
 * clock. The runtime drops such a message and says why.
 */
export function causalMsgProblem(msg: unknown): string | null {
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return 'not an object';
  const m = msg as Record<string, unknown>;
  switch (m['type']) {
    case 'write':
      return writeProblem(m['write'], 'write');
    case 'writes': {
      const ws = m['writes'];
      if (!Array.isArray(ws)) return 'writes: not an array';
      if (m['reason'] !== 'sync' && m['reason'] !== 'batch') return 'reason: not "sync" or "batch"';
      if (m['done'] !== undefined && typeof m['done'] !== 'boolean') return 'done: not a boolean';
      for (let i = 0; i < ws.length; i++) {
        const p = writeProblem(ws[i], `writes[${i}]`);
        if (p !== null) return p;
      }
      return null;
    }
    case 'sync':
    case 'ack':
      return clockProblem(m['clock'], 'clock') ?? (m['have'] === undefined ? null : haveProblem(m['have']));
    default:
      return `unknown message type ${JSON.stringify(m['type'])?.slice(0, 40) ?? 'undefined'}`;
  }
}

/** A sync request's or an ack's `have`: per origin, ascending ranges [first, last, ...] of sequence numbers, a bounded number of them. */
function haveProblem(have: unknown): string | null {
  if (typeof have !== 'object' || have === null || Array.isArray(have)) return 'have: not an object';
  let ranges = 0;
  for (const k in have) {
    const pairs = (have as Record<string, unknown>)[k];
    if (!Array.isArray(pairs) || pairs.length % 2 !== 0) return `have.${k}: not a list of ranges (first, last pairs)`;
    ranges += pairs.length / 2;
    if (ranges > MAX_HAVE_RANGES) return `have: more than ${MAX_HAVE_RANGES} ranges`;
    let prev = 0;
    for (let i = 0; i < pairs.length; i += 2) {
      const first: unknown = pairs[i];
      const last: unknown = pairs[i + 1];
      if (!isCounter(first) || !isCounter(last) || first < 1 || last < first || first <= prev) return `have.${k}: ranges must be ascending, non-overlapping, of positive integers`;
      prev = last;
    }
  }
  return null;
}

function clockProblem(clock: unknown, where: string): string | null {
  if (typeof clock !== 'object' || clock === null || Array.isArray(clock)) return `${where}: not an object`;
  for (const k in clock) {
    const v = (clock as Record<string, unknown>)[k];
    if (!isCounter(v)) return `${where}.${k}: not a non-negative integer`;
  }
  return null;
}

function writeProblem(w: unknown, where: string): string | null {
  if (typeof w !== 'object' || w === null || Array.isArray(w)) return `${where}: not an object`;
  const x = w as Record<string, unknown>;
  if (typeof x['origin'] !== 'string' || x['origin'] === '') return `${where}.origin: not a node id`;
  const c = clockProblem(x['clock'], `${where}.clock`);
  if (c !== null) return c;
  const seq = (x['clock'] as Record<string, unknown>)[x['origin']];
  if (typeof seq !== 'number' || seq < 1) return `${where}.clock: no entry of at least 1 for its origin`;
  if (!isCounter(x['lamport'])) return `${where}.lamport: not a non-negative integer`;
  if (typeof x['key'] !== 'string') return `${where}.key: not a string`;
  if (typeof x['deleted'] !== 'boolean') return `${where}.deleted: not a boolean`;
  if (!('value' in x)) return `${where}.value: missing`;
  return null;
}

/**
 * A message too large for one peer frame, as two that are each half of it: a batch of writes
 * split in the middle (sent in order, the halves keep the batch's causal order). Null for a
 * message that is not a batch of two or more writes.
 */
export function splitCausalMsg(msg: unknown): CausalMsg[] | null {
  const m = msg as CausalMsg;
  if (m.type === 'writes' && m.writes.length >= 2) {
    const half = Math.ceil(m.writes.length / 2);
    // a `done` mark stays on the second half: the answer is complete once both are in
    return [
      { type: 'writes', writes: m.writes.slice(0, half), reason: m.reason },
      m.done === undefined ? { type: 'writes', writes: m.writes.slice(half), reason: m.reason } : { type: 'writes', writes: m.writes.slice(half), reason: m.reason, done: m.done },
    ];
  }
  return null;
}
