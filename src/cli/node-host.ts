import { join } from 'node:path';
import type { Logger } from 'pino';
import { CausewayError } from '../core/errors.js';
import type { NodeId } from '../core/protocol.js';
import { CausalCore } from '../protocols/causal/core.js';
import { formatEvent } from '../protocols/causal/format.js';
import type { CausalEvent, CausalMsg } from '../protocols/causal/types.js';
import type { KvReply } from '../protocols/kv-types.js';
import { CausalService } from '../replica/causal-service.js';
import type { KvRequest, KvService } from '../replica/kv-service.js';
import { Replica } from '../replica/replica.js';
import { LmdbStorage } from '../storage/lmdb-storage.js';
import { CoapServer } from '../transport/coap/server.js';
import { mountAdminApi } from '../transport/http/admin-api.js';
import { createHttpApi } from '../transport/http/http-api.js';
import { mountKvCoap } from '../transport/kv-coap.js';
import { WriteBudget } from '../transport/write-budget.js';
import { clientConnectionLimit } from './fd-limit.js';
import { causalMsgProblem, splitCausalMsg } from '../protocols/causal/check-msg.js';
import { estimateWriteBytes } from '../protocols/causal/write-size.js';
import { PeerNetwork, type PeerFault } from '../transport/peer/peer-network.js';
import { CLUSTER_MODELS, type NodeConfig } from './node-config.js';

/** Real time per protocol tick, and how long a request may wait for its causal context. */
const TICK_MS = 10;
const CONTEXT_WAIT_MS = 5000;
/** An HTTP connection with no traffic for this long is closed (one that never sent a request, too). */
const HTTP_IDLE_MS = 60_000;
/** Peer input waits this long to share a disk commit (0: the next event-loop turn). */
const PEER_BATCH_MS = Number(process.env['CAUSEWAY_PEER_BATCH_MS'] ?? 0);

/** Events worth a log line at info level; the rest go to debug. */
const INFO_EVENTS = new Set<CausalEvent['type']>(['buffer', 'conflict', 'sync', 'compact', 'backpressure', 'context-timeout']);

interface Engine {
  readonly storage: LmdbStorage;
  readonly core: CausalCore;
  readonly net: PeerNetwork;
  readonly replica: Replica<CausalMsg, CausalEvent>;
  readonly service: CausalService;
}

/**
 * One running node: HTTP and CoAP front ends that stay up, over an engine (storage, protocol
 * core, peer links, runtime) that chaos can crash — throwing away everything in memory — and
 * restart from what is on disk.
 */
export class NodeHost implements KvService {
  readonly config: NodeConfig;
  readonly model = 'causal';
  readonly nodes: readonly string[];
  readonly #log: Logger;
  #engine: Engine | null = null;
  #faults = new Map<NodeId, PeerFault>();
  #watchers = new Map<string, Set<() => void>>();
  #ports = { http: 0, coap: 0, peer: 0 };
  #stopFront: (() => Promise<void>) | null = null;
  #coap: CoapServer | null = null;
  /** Client writes held at once over HTTP and CoAP together (write-budget.ts). */
  readonly #writeBudget = new WriteBudget();
  /** Crash, restart and stop run one at a time, each after the last has finished (see #serially). */
  #transition: Promise<unknown> = Promise.resolve();

  constructor(config: NodeConfig, log: Logger) {
    if (!CLUSTER_MODELS.includes(config.model)) {
      throw new CausewayError('bad-request', `model "${config.model}" is not available yet in a cluster: use --model causal`);
    }
    this.config = config;
    this.nodes = config.nodes.map((n) => n.id);
    this.#log = log;
  }

  get nodeId(): string {
    return this.config.id;
  }
  get ports(): { http: number; coap: number; peer: number } {
    return { ...this.#ports };
  }
  get running(): boolean {
    return this.#engine !== null;
  }
  get network(): PeerNetwork | null {
    return this.#engine?.net ?? null;
  }

  async start(): Promise<void> {
    await this.#boot();
    const http = createHttpApi(this, { writeBudget: this.#writeBudget });
    // Connections beyond this are closed as they come (fd-limit.ts); a silent one goes after 60 s.
    http.server.maxConnections = clientConnectionLimit();
    http.server.setTimeout(HTTP_IDLE_MS);
    mountAdminApi(http, this, { secret: this.config.secret });
    await http.listen({ host: this.config.bind, port: this.config.self.httpPort });
    const addr = http.server.address();
    this.#ports.http = typeof addr === 'object' && addr ? addr.port : this.config.self.httpPort;
    const coap = new CoapServer({ host: this.config.bind, port: this.config.self.coapPort, maxBodyBytes: 64 * 1024 });
    coap.on('error', (err: unknown) => this.#log.error({ err }, 'coap server error'));
    const unmount = mountKvCoap(coap, this, { writeBudget: this.#writeBudget });
    this.#coap = coap;
    this.#ports.coap = (await coap.listen()).port;
    this.#stopFront = async () => {
      unmount();
      await coap.close();
      await http.close();
    };
    const self = this.config.self;
    this.#log.info(
      { http: `http://${self.host}:${this.#ports.http}`, coap: `coap://${self.host}:${this.#ports.coap}`, peer: this.#ports.peer, nodes: this.nodes },
      `${this.config.id} ready`,
    );
  }

  /**
   * Opens the store and starts the engine. If any step fails, whatever was opened is closed again
   * (the store and its directory lock, the peer listener), so a failed restart can be retried.
   */
  async #boot(): Promise<void> {
    const config = this.config;
    const storage = new LmdbStorage({ path: join(config.dataDir, config.id), fsync: !config.unsafeNoFsync });
    try {
      await this.#startEngine(storage);
    } catch (err) {
      await storage.close().catch(() => undefined);
      throw err;
    }
  }

  async #startEngine(storage: LmdbStorage): Promise<void> {
    const config = this.config;
    const log = this.#log;
    if (config.unsafeNoFsync) log.warn('unsafeNoFsync: writes are acknowledged without an fsync; a power cut or an OS crash can lose acknowledged writes (a killed process loses none)');
    // Buffered writes are bounded in bytes too (64 MiB by default), as estimateWriteBytes counts them.
    const core = CausalCore.restore(storage, { id: config.id, nodes: this.nodes, options: { contextWaitTicks: CONTEXT_WAIT_MS / TICK_MS, writeBytes: estimateWriteBytes } });
    const restored = core.status();
    log.info({ clock: restored.clock, keys: restored.keys, log: restored.logLength }, 'state restored from disk');
    const net = new PeerNetwork({
      selfId: config.id,
      listenHost: config.bind,
      listenPort: this.#ports.peer || config.self.peerPort,
      peers: config.nodes.filter((n) => n.id !== config.id).map((n) => ({ id: n.id, host: n.host, port: n.peerPort })),
      secret: config.secret,
      backoff: { initialMs: 100, maxMs: 1000 },
    });
    net.on('up', (peer) => log.info({ peer }, 'peer link up'));
    net.on('down', (peer, reason, detail) => log.info({ peer, reason, detail }, 'peer link down'));
    net.on('auth-failed', (f) => log.warn(f, 'peer authentication failed: connection refused'));
    net.on('error', (err) => log.error({ err }, 'peer network error'));
    const replica = new Replica(core, storage, net, { tickMs: TICK_MS, peerBatchMs: PEER_BATCH_MS, checkMessage: causalMsgProblem, splitMessage: splitCausalMsg });
    replica.on('rejected', ({ peer, problem }) => log.warn({ peer, problem }, `dropped a malformed message from ${peer} (another version?): ${problem}`));
    replica.on('dropped', ({ peer, problem }) => log.error({ peer, problem }, `could not send a message to ${peer}: ${problem}`));
    replica.on('event', (e) => {
      if (INFO_EVENTS.has(e.type)) log.info({ event: e.type }, formatEvent(e));
      else if (log.isLevelEnabled('debug')) log.debug({ event: e.type }, formatEvent(e));
      if (e.type === 'apply') {
        const ws = this.#watchers.get(e.key);
        if (ws) for (const w of ws) w();
      }
    });
    replica.on('error', (err) => log.fatal({ err }, 'storage failure: the node stops acknowledging writes'));
    const service = new CausalService(replica, core, storage, this.nodes, (peer) => ({ ...net.stats(peer) }));
    for (const [peer, fault] of this.#faults) net.setFault(peer, fault);
    try {
      this.#ports.peer = (await net.start()).port;
    } catch (err) {
      await net.close().catch(() => undefined); // its dials to peers may have begun
      throw err;
    }
    replica.start();
    this.#engine = { storage, core, net, replica, service };
  }

  #live(): Engine {
    if (!this.#engine) throw new CausewayError('unavailable', `${this.config.id} is crashed (chaos); restart it with: causeway chaos restart ${this.config.id}`);
    return this.#engine;
  }

  submit(op: KvRequest): Promise<KvReply> {
    return this.#live().service.submit(op);
  }

  status(): Record<string, unknown> {
    if (!this.#engine) return { node: this.config.id, model: this.model, crashed: true };
    return {
      ...this.#engine.service.status(),
      faults: Object.fromEntries(this.#faults),
      // Keys with a change watch (CoAP Observe) and the CoAP observers behind them.
      watches: { keys: this.#watchers.size, coapObservers: this.#coap?.observerCount() ?? 0 },
      // Estimated bytes of client writes in progress or waiting for their context, and refusals.
      clientWrites: this.#writeBudget.stats(),
    };
  }

  store(limit: number): { entries: Record<string, unknown>; truncated: boolean } {
    return this.#live().service.store(limit);
  }

  watch(key: string, onChange: () => void): () => void {
    let ws = this.#watchers.get(key);
    if (!ws) {
      ws = new Set();
      this.#watchers.set(key, ws);
    }
    ws.add(onChange);
    return () => {
      ws.delete(onChange);
      if (ws.size === 0) this.#watchers.delete(key);
    };
  }

  /** Chaos: a fault on the link to `peer` (null heals it); kept across crash and restart. */
  setFault(peer: NodeId, fault: PeerFault | null): void {
    if (!this.nodes.includes(peer) || peer === this.config.id) throw new CausewayError('bad-request', `unknown peer "${peer}"`);
    if (fault) this.#faults.set(peer, fault);
    else this.#faults.delete(peer);
    this.#engine?.net.setFault(peer, fault);
  }

  healAll(): void {
    for (const peer of [...this.#faults.keys()]) this.setFault(peer, null);
  }

  /**
   * Chaos: crash the engine. Everything in memory (buffer, waiting operations, queued messages) is
   * lost; what was acknowledged is on disk. Front ends answer 503 until restart.
   */
  crash(): Promise<boolean> {
    return this.#serially(async () => {
      const e = this.#engine;
      if (!e) return false;
      this.#engine = null;
      this.#log.warn('crashed (chaos): in-memory state discarded');
      await e.net.close();
      await e.replica.stop();
      await e.storage.close();
      return true;
    });
  }

  /** Chaos: restart a crashed engine from disk; false if it was running. */
  restart(): Promise<boolean> {
    return this.#serially(async () => {
      if (this.#engine) return false;
      try {
        await this.#boot();
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        this.#log.error({ err }, `restart failed: ${why}`);
        throw new CausewayError('unavailable', `${this.config.id} could not restart: ${why}; it stays crashed (try again once the cause is gone)`);
      }
      this.#log.warn('restarted (chaos) from disk');
      return true;
    });
  }

  stop(): Promise<void> {
    return this.#serially(async () => {
      await this.#stopFront?.();
      const e = this.#engine;
      this.#engine = null;
      if (e) {
        await e.replica.stop();
        await e.net.close();
        await e.storage.close();
      }
      this.#log.info('stopped; data is on disk');
    });
  }

  /**
   * Runs `fn` once every crash, restart or stop asked for before it has finished. A restart that
   * overlapped a crash would open the store while the crash was still closing it: the old store's
   * close would then delete the new one's log segments under it.
   */
  #serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#transition.then(fn);
    this.#transition = run.catch(() => undefined);
    return run;
  }
}
