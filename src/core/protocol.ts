/**
 * The shape every replication protocol takes (ARCHITECTURE.md §1): a pure state machine that
 * reacts to submit / receive / tick and hands back one Ready batch. The driver (runtime or
 * simulator) executes a batch in order: persist first (durably, atomically), then send and reply.
 */
export type NodeId = string;

/** One durable change. A batch of them is applied in one transaction. */
export type StorageOp =
  | { readonly kind: 'put'; readonly space: string; readonly key: string; readonly value: unknown }
  | { readonly kind: 'del'; readonly space: string; readonly key: string };

export interface Outgoing<Msg> {
  readonly to: NodeId;
  readonly msg: Msg;
}

export interface Ready<Msg, Reply, Event> {
  /** Written durably and atomically before any message or reply of this batch leaves. */
  readonly persist: readonly StorageOp[];
  readonly messages: readonly Outgoing<Msg>[];
  readonly replies: readonly Reply[];
  readonly events: readonly Event[];
}

export interface ProtocolCore<Op, Msg, Reply, Event> {
  readonly id: NodeId;
  /** A client operation; its reply comes out in a later (or this) Ready batch. */
  submit(op: Op): void;
  /** A peer message. */
  receive(from: NodeId, msg: Msg): void;
  /** A peer link came up (anti-entropy starts here) or went down. */
  linkChanged(peer: NodeId, up: boolean): void;
  /** Abstract time passing. */
  tick(): void;
  /** Drains everything produced since the last call; empty arrays when idle. */
  ready(): Ready<Msg, Reply, Event>;
}

/** Read access to what a node persisted, for rebuilding a core after a restart. */
export interface Snapshot {
  entries(space: string): Iterable<[string, unknown]>;
}

export function emptyReady<Msg, Reply, Event>(): Ready<Msg, Reply, Event> {
  return { persist: [], messages: [], replies: [], events: [] };
}

export function isEmptyReady(r: Ready<unknown, unknown, unknown>): boolean {
  return r.persist.length === 0 && r.messages.length === 0 && r.replies.length === 0 && r.events.length === 0;
}
