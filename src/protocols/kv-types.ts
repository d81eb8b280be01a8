/**
 * Client operations and replies shared by every consistency model (causal, eventual, sequential,
 * strong). A protocol core is a `ProtocolCore<KvOp, Msg, KvReply, Event>` (src/core/protocol.ts).
 */
import type { VectorClock } from '../clocks/vector.js';
import type { NodeId, ProtocolCore } from '../core/protocol.js';

export type KvOp =
  | { kind: 'put'; reqId: number; key: string; value: unknown; ctx?: VectorClock }
  | { kind: 'delete'; reqId: number; key: string; ctx?: VectorClock }
  | { kind: 'get'; reqId: number; key: string; ctx?: VectorClock }
  | { kind: 'list'; reqId: number; prefix: string; limit: number; ctx?: VectorClock };

/** One stored version of a key, as a get reply lists it when a conflict exists. */
export interface KvSibling {
  value: unknown;
  clock: VectorClock;
  deleted: boolean;
}

export type KvReply =
  | {
      reqId: number;
      ok: true;
      kind: 'put' | 'delete';
      key: string;
      /** The write's clock. */
      clock: VectorClock;
      /** The node's clock after the write: the causal context token to send back later. */
      context: VectorClock;
    }
  | {
      reqId: number;
      ok: true;
      kind: 'get';
      key: string;
      found: boolean;
      value: unknown;
      clock: VectorClock;
      conflict: boolean;
      siblings?: KvSibling[];
      context: VectorClock;
    }
  | { reqId: number; ok: true; kind: 'list'; keys: string[]; context: VectorClock }
  | { reqId: number; ok: false; reason: KvFailure; detail: string };

export type KvFailure = 'context-timeout' | 'not-leader' | 'overloaded';

/**
 * A key-value protocol core as drivers (runtime, simulator, conformance suite) see it. A core
 * that can push back names the peer links the driver must stop reading from.
 */
export type KvCore<Msg, Event> = ProtocolCore<KvOp, Msg, KvReply, Event> & {
  pausedPeers?(): ReadonlySet<NodeId>;
};
