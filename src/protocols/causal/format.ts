/**
 * One-line, human-readable renderings of causal messages and events, for logs and golden traces.
 */
import { format as formatClock } from '../../clocks/vector.js';
import { assertNever } from '../../core/assert.js';
import type { CausalEvent, CausalMsg, CausalWrite } from './types.js';
import type { HaveRanges } from './have.js';

export { formatClock };

export function formatValue(v: unknown): string {
  return v === undefined ? 'undefined' : JSON.stringify(v);
}

export function formatWrite(w: CausalWrite): string {
  const seq = w.clock[w.origin] ?? 0;
  const what = w.deleted ? `delete ${w.key}` : `${w.key}=${formatValue(w.value)}`;
  return `${w.origin}#${seq} ${what} ${formatClock(w.clock)} L${w.lamport}`;
}

/** Flat [first, last, ...] pairs as "3-5,7". */
function pairsText(pairs: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) out.push(pairs[i] === pairs[i + 1] ? String(pairs[i]) : `${pairs[i]}-${pairs[i + 1]}`);
  return out.join(',');
}

/** A sync request's or an ack's `have`, as " have node1:3-5 node2:7" (empty without one). */
function haveText(have: HaveRanges | undefined): string {
  const parts = have === undefined ? [] : Object.entries(have).map(([o, r]) => `${o}:${pairsText(r)}`);
  return parts.length > 0 ? ` have ${parts.join(' ')}` : '';
}

export function formatMsg(m: CausalMsg): string {
  switch (m.type) {
    case 'write':
      return `write ${formatWrite(m.write)}`;
    case 'writes':
      return `writes(${m.reason}${m.done === true ? ', done' : ''}) [${m.writes.map((w) => formatWrite(w)).join('; ')}]`;
    case 'sync':
      return `sync ${formatClock(m.clock)}${haveText(m.have)}`;
    case 'ack':
      return `ack ${formatClock(m.clock)}${haveText(m.have)}`;
    default:
      return assertNever(m, 'causal message');
  }
}

export function formatEvent(e: CausalEvent): string {
  switch (e.type) {
    case 'send':
      return `${e.node}: send ${e.msg}${e.count > 0 ? ` x${e.count}` : ''} to ${e.peer}`;
    case 'receive':
      return `${e.node}: receive ${e.msg}${e.count > 0 ? ` x${e.count}` : ''} from ${e.peer}`;
    case 'buffer':
      return `${e.node}: buffer ${e.origin}#${e.seq} ${e.key} ${formatClock(e.clock)} from ${e.peer}, waiting for ${e.waitingFor.node}#${e.waitingFor.seq} (${e.buffered} buffered)`;
    case 'deliver':
      return `${e.node}: deliver ${e.origin}#${e.seq} ${e.deleted ? `delete ${e.key}` : e.key} ${formatClock(e.clock)} from ${e.peer}${e.fromBuffer ? ' (from buffer)' : ''} -> ${formatClock(e.nodeClock)}`;
    case 'apply':
      return `${e.node}: apply ${e.origin}#${e.seq} ${e.deleted ? `delete ${e.key}` : e.key} ${formatClock(e.clock)} L${e.lamport}${e.local ? ' (local)' : ''}${e.siblings > 1 ? ` [${e.siblings} siblings]` : ''}`;
    case 'duplicate':
      return `${e.node}: duplicate ${e.origin}#${e.seq} ${e.key} from ${e.peer} ignored (already ${e.why})`;
    case 'conflict':
      return `${e.node}: conflict on ${e.key}: ${e.siblings.map((s) => `${s.origin}${formatClock(s.clock)}L${s.lamport}${s.deleted ? ' tombstone' : ''}`).join(' | ')}`;
    case 'sync':
      return e.direction === 'request'
        ? `${e.node}: sync request to ${e.peer} ${formatClock(e.clock)}${e.reason ? ` (${e.reason})` : ''}`
        : `${e.node}: sync reply to ${e.peer}: ${e.count} writes it lacks`;
    case 'compact':
      return `${e.node}: compact ${e.removed} log entries up to ${formatClock(e.upTo)} (log length ${e.logLength})`;
    case 'backpressure':
      return `${e.node}: backpressure ${e.action}${e.peer ? ` ${e.peer}` : ''} (${e.buffered} buffered): ${e.detail}`;
    case 'context-wait':
      return `${e.node}: request #${e.reqId} waits for context ${formatClock(e.ctx)} (node clock ${formatClock(e.nodeClock)})`;
    case 'context-timeout':
      return `${e.node}: request #${e.reqId} timed out waiting for context ${formatClock(e.ctx)}`;
    default:
      return assertNever(e, 'causal event');
  }
}
