/**
 * Wire messages, stored records and events of the causal protocol (SPEC.md §2 "Replication and
 * causality"). Everything here is plain data: msgpackr/JSON-safe, no classes.
 */
import type { VectorClock } from '../../clocks/vector.js';
import type { NodeId } from '../../core/protocol.js';
import type { HaveRanges } from './have.js';

/**
 * One write (a put, or a delete stored as a tombstone). Its sequence number at the origin is
 * `clock[origin]`; `lamport` orders concurrent writes deterministically (higher stamp, then higher
 * origin id wins).
 */
export interface CausalWrite {
  readonly origin: NodeId;
  readonly clock: VectorClock;
  readonly lamport: number;
  readonly key: string;
  /** null for a tombstone. */
  readonly value: unknown;
  readonly deleted: boolean;
}

/** A stored version of a key. Concurrent versions are kept side by side as siblings. */
export interface Version {
  readonly origin: NodeId;
  readonly clock: VectorClock;
  readonly lamport: number;
  readonly value: unknown;
  readonly deleted: boolean;
}

/** Peer messages. `writes` is a batch (an anti-entropy reply, or a driver grouping writes). */
export type CausalMsg =
  | { readonly type: 'write'; readonly write: CausalWrite }
  | {
      readonly type: 'writes';
      readonly writes: readonly CausalWrite[];
      readonly reason: 'sync' | 'batch';
      /**
       * On the last batch of an answer to a sync request (an empty batch when nothing is lacking):
       * the requester's pull from this peer is complete.
       */
      readonly done?: boolean;
    }
  /**
   * Anti-entropy request: "here is my clock; send me what it does not cover". `have` names what the
   * requester already holds beyond its clock, in its causal-delivery buffer, for the answer to
   * leave out: per origin, ascending ranges of sequence numbers as flat pairs [first, last, ...].
   */
  | { readonly type: 'sync'; readonly clock: VectorClock; readonly have?: HaveRanges }
  /**
   * Periodic acknowledgement of what this node has applied (drives log compaction), and, as a sync
   * request's, of what its buffer holds beyond that (`have`, when it holds anything): a peer
   * repairing this node leaves those writes out.
   */
  | { readonly type: 'ack'; readonly clock: VectorClock; readonly have?: HaveRanges };

export type CausalMsgType = CausalMsg['type'];

/** Names one write in events: its origin, sequence number there, clock and key. */
export interface WriteRef {
  readonly origin: NodeId;
  readonly seq: number;
  readonly clock: VectorClock;
  readonly key: string;
}

export type SyncReason = 'link-up' | 'overflow' | 'shed' | 'stale-buffer';
export type BackpressureAction = 'pause' | 'resume' | 'overflow' | 'shed';

/**
 * Events (ARCHITECTURE.md §4 rule 6). Every event names its node; those about one write carry its
 * origin, clock and key; `nodeClock` is the node's clock right after the event (for space-time
 * diagrams and ShiViz).
 */
export type CausalEvent =
  /** `write` is set for a single-write message (which write: for space-time diagrams). */
  | { type: 'send'; node: NodeId; peer: NodeId; msg: CausalMsgType; count: number; nodeClock: VectorClock; write?: WriteRef }
  | { type: 'receive'; node: NodeId; peer: NodeId; msg: CausalMsgType; count: number; nodeClock: VectorClock; write?: WriteRef }
  | {
      type: 'buffer';
      node: NodeId;
      peer: NodeId;
      origin: NodeId;
      seq: number;
      clock: VectorClock;
      key: string;
      /** The first dependency not yet applied: write number `seq` of `node`. */
      waitingFor: { node: NodeId; seq: number };
      buffered: number;
    }
  | {
      type: 'deliver';
      node: NodeId;
      peer: NodeId;
      origin: NodeId;
      seq: number;
      clock: VectorClock;
      key: string;
      deleted: boolean;
      fromBuffer: boolean;
      nodeClock: VectorClock;
    }
  | {
      type: 'apply';
      node: NodeId;
      origin: NodeId;
      seq: number;
      clock: VectorClock;
      lamport: number;
      key: string;
      deleted: boolean;
      local: boolean;
      siblings: number;
      nodeClock: VectorClock;
    }
  | {
      type: 'duplicate';
      node: NodeId;
      peer: NodeId;
      origin: NodeId;
      seq: number;
      clock: VectorClock;
      key: string;
      why: 'applied' | 'buffered';
    }
  | {
      type: 'conflict';
      node: NodeId;
      key: string;
      siblings: { origin: NodeId; clock: VectorClock; lamport: number; deleted: boolean }[];
    }
  | {
      type: 'sync';
      node: NodeId;
      peer: NodeId;
      direction: 'request' | 'reply';
      /** request: our clock; reply: the requester's clock. */
      clock: VectorClock;
      /** Writes sent (reply) — 0 for a request. */
      count: number;
      reason?: SyncReason;
    }
  | { type: 'compact'; node: NodeId; removed: number; upTo: VectorClock; logLength: number }
  | { type: 'backpressure'; node: NodeId; peer?: NodeId; action: BackpressureAction; buffered: number; detail: string }
  | { type: 'context-wait'; node: NodeId; reqId: number; ctx: VectorClock; nodeClock: VectorClock }
  | { type: 'context-timeout'; node: NodeId; reqId: number; ctx: VectorClock; nodeClock: VectorClock };

export type CausalEventType = CausalEvent['type'];

/** Every event type (a Record, so adding an event type without listing it here does not compile). */
const EVENT_TYPES: Readonly<Record<CausalEventType, true>> = {
  send: true,
  receive: true,
  buffer: true,
  deliver: true,
  apply: true,
  duplicate: true,
  conflict: true,
  sync: true,
  compact: true,
  backpressure: true,
  'context-wait': true,
  'context-timeout': true,
};

/** Every event type, in declaration order (for options that select some of them). */
export const CAUSAL_EVENT_TYPES: readonly CausalEventType[] = Object.freeze(Object.keys(EVENT_TYPES) as CausalEventType[]);

/** Per-peer view for /v1/status. */
export interface CausalPeerStatus {
  /** The latest clock the peer acknowledged (ack or sync request). */
  readonly acked: VectorClock;
  /** Log entries this node holds that the peer is known to lack (by its acknowledged clock). */
  readonly lag: number;
  readonly linkUp: boolean;
  readonly paused: boolean;
}

export interface CausalStatus {
  readonly id: NodeId;
  readonly clock: VectorClock;
  readonly lamport: number;
  readonly buffered: number;
  /** The buffered writes' size in bytes, as the bufferBytesLimit option estimates it (0 without writeBytes). */
  readonly bufferedBytes: number;
  readonly pausedPeers: NodeId[];
  readonly peers: Readonly<Record<NodeId, CausalPeerStatus>>;
  readonly logLength: number;
  readonly keys: number;
  /** Client operations waiting for their causal context. */
  readonly waitingOps: number;
}

/** A buffered write, for inspection. */
export interface BufferedInfo {
  readonly from: NodeId;
  readonly origin: NodeId;
  readonly seq: number;
  readonly key: string;
  readonly clock: VectorClock;
  readonly waitingFor: { node: NodeId; seq: number } | null;
}
