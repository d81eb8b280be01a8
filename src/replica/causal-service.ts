import type { NodeId } from '../core/protocol.js';
import type { CausalCore } from '../protocols/causal/core.js';
import type { CausalEvent, CausalMsg } from '../protocols/causal/types.js';
import type { KvReply } from '../protocols/kv-types.js';
import type { Storage } from '../storage/storage.js';
import type { KvRequest, KvService } from './kv-service.js';
import type { Replica } from './replica.js';

/** Peer-link facts a status page shows, from whatever carries the links. */
export type LinkStats = (peer: NodeId) => Record<string, unknown>;

/**
 * The KvService of a node running the causal model: a Replica driving a CausalCore. Watches live
 * one level up (they outlive a chaos restart of the engine).
 */
export class CausalService implements Omit<KvService, 'watch'> {
  readonly model = 'causal';
  readonly nodeId: string;
  readonly nodes: readonly string[];
  readonly #replica: Replica<CausalMsg, CausalEvent>;
  readonly #core: CausalCore;
  readonly #storage: Storage;
  readonly #links: LinkStats;
  readonly #started = Date.now();

  constructor(replica: Replica<CausalMsg, CausalEvent>, core: CausalCore, storage: Storage, nodes: readonly string[], links: LinkStats) {
    this.#replica = replica;
    this.#core = core;
    this.#storage = storage;
    this.#links = links;
    this.nodeId = core.id;
    this.nodes = nodes;
  }

  submit(op: KvRequest): Promise<KvReply> {
    return this.#replica.submit(op);
  }

  status(): Record<string, unknown> {
    const s = this.#core.status();
    const peers: Record<string, unknown> = {};
    for (const [id, p] of Object.entries(s.peers)) {
      peers[id] = { connected: p.linkUp, lag: p.lag, acked: p.acked, paused: p.paused, link: this.#links(id) };
    }
    return {
      node: s.id,
      model: this.model,
      clock: s.clock,
      lamport: s.lamport,
      peers,
      buffered: s.buffered,
      bufferedBytes: s.bufferedBytes,
      waitingOps: s.waitingOps,
      keys: s.keys,
      log: { length: s.logLength, ranges: this.#core.logRanges() },
      storage: this.#storage.stats(),
      uptimeSeconds: Math.round((Date.now() - this.#started) / 1000),
    };
  }

  store(limit: number): { entries: Record<string, unknown>; truncated: boolean } {
    // No prototype: a key named "__proto__" is an entry like any other.
    const entries: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    let n = 0;
    let truncated = false;
    // unsorted: this runs on every POST /write, and sorting the whole store each time would not pay
    for (const [key, versions] of this.#core.versions()) {
      const winner = versions[0]; // winner first
      if (!winner || winner.deleted) continue;
      if (n >= limit) {
        truncated = true;
        break;
      }
      entries[key] = winner.value;
      n++;
    }
    return { entries, truncated };
  }
}
