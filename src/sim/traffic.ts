/**
 * Anti-entropy traffic, counted from the causal cores' events (SimHooks.onEvent): writes shipped in
 * answer to sync requests and by repair, how many of them arrived, and duplicate writes received.
 * One reading of the events for the sim-traffic script and the tests that compare runs.
 */
import type { NodeId } from '../core/protocol.js';
import type { CausalEvent, CausalEventType, SyncReason } from '../protocols/causal/types.js';

/** The event types a core must publish for the counts (tuning.core.events). */
export const TRAFFIC_EVENTS: readonly CausalEventType[] = Object.freeze(['sync', 'duplicate', 'receive']);

export interface AntiEntropyTraffic {
  /** Writes sent in sync answers and repairs. */
  shipped: number;
  /** Sync answers and repairs sent (an empty answer to a request included). */
  answers: number;
  /** Writes received in `writes` messages (the simulator sends no other batches than anti-entropy's). */
  received: number;
  /** Writes received that were already applied or buffered. */
  duplicates: number;
  /** Sync requests sent, by reason. */
  requests: Partial<Record<SyncReason, number>>;
}

/** A fresh count and the event hook that keeps it. */
export function trafficCounter(): { traffic: AntiEntropyTraffic; onEvent: (node: NodeId, e: CausalEvent) => void } {
  const traffic: AntiEntropyTraffic = { shipped: 0, answers: 0, received: 0, duplicates: 0, requests: {} };
  const onEvent = (_node: NodeId, e: CausalEvent): void => {
    if (e.type === 'duplicate') traffic.duplicates++;
    else if (e.type === 'receive' && e.msg === 'writes') traffic.received += e.count;
    else if (e.type === 'sync' && e.direction === 'reply') {
      traffic.shipped += e.count;
      traffic.answers++;
    } else if (e.type === 'sync' && e.reason !== undefined) traffic.requests[e.reason] = (traffic.requests[e.reason] ?? 0) + 1;
  };
  return { traffic, onEvent };
}
