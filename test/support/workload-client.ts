/**
 * A small HTTP workload for live clusters that records a Jepsen-style history (SPEC §3): each
 * process sticks to one node, carries the causal context token it was last given, and runs random
 * puts (values unique per key) and gets over a small key set. Outcomes: 2xx → ok; 4xx → fail (did
 * not happen); a timeout, a 5xx or a broken connection → info for a put (it may have happened), fail
 * for a get (a read of unknown outcome constrains nothing).
 */
import { Rng } from '../../src/core/rng.js';
import { serializeHistory, type HistoryEvent } from '../../src/check/index.js';

export interface WorkloadNode {
  readonly id: string;
  /** e.g. http://127.0.0.1:5001 */
  readonly url: string;
}

export interface WorkloadOptions {
  readonly nodes: readonly WorkloadNode[];
  readonly keys: readonly string[];
  readonly seed: number;
  /** Processes per node. */
  readonly processesPerNode: number;
  /** Per-operation timeout. */
  readonly opTimeoutMs: number;
  /** Pause between one process's operations. */
  readonly thinkMs: number;
  /** Share of puts among operations (0..1). */
  readonly putRatio: number;
}

export const WORKLOAD_DEFAULTS = Object.freeze({ processesPerNode: 1, opTimeoutMs: 2000, thinkMs: 5, putRatio: 0.5 });

export interface WorkloadStats {
  ok: number;
  fail: number;
  info: number;
}

type Outcome = { readonly type: 'ok' | 'fail' | 'info'; readonly value?: unknown; readonly context?: string; readonly clock?: Record<string, number> };

/** An acknowledged put and the clock the node gave it. */
export interface AckedWrite {
  readonly key: string;
  readonly value: string | null;
  readonly clock: Record<string, number>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class HttpWorkload {
  readonly #opts: WorkloadOptions;
  readonly #events: HistoryEvent[] = [];
  readonly #t0 = process.hrtime.bigint();
  readonly #rng: Rng;
  #running = false;
  #loops: Promise<void>[] = [];
  #nextProcess = 0;
  readonly stats: WorkloadStats = { ok: 0, fail: 0, info: 0 };
  /** Every acknowledged put with its write clock (from the PUT response). */
  readonly acked: AckedWrite[] = [];

  constructor(options: Partial<WorkloadOptions> & Pick<WorkloadOptions, 'nodes' | 'keys' | 'seed'>) {
    this.#opts = { ...WORKLOAD_DEFAULTS, ...options };
    this.#rng = new Rng(this.#opts.seed);
  }

  #now(): number {
    return Number(process.hrtime.bigint() - this.#t0);
  }

  /** One recorded operation on `node` for `process`; returns the outcome. */
  async op(process: number, node: WorkloadNode, f: 'put' | 'get', key: string, value: string | null, context?: string): Promise<Outcome> {
    this.#events.push({ process, type: 'invoke', f, key, value, time: this.#now(), node: node.id });
    const out = await this.#http(node, f, key, value, context);
    const done: HistoryEvent = { process, type: out.type, f, key, time: this.#now(), node: node.id, ...(f === 'get' ? (out.type === 'ok' ? { value: out.value as string | null } : {}) : { value }) };
    this.#events.push(done);
    this.stats[out.type]++;
    if (f === 'put' && out.type === 'ok' && out.clock) this.acked.push({ key, value, clock: out.clock });
    return out;
  }

  async #http(node: WorkloadNode, f: 'put' | 'get', key: string, value: string | null, context?: string): Promise<Outcome> {
    const headers: Record<string, string> = context ? { 'causeway-context': context } : {};
    try {
      const res = await fetch(`${node.url}/v1/kv/${encodeURIComponent(key)}`, {
        method: f === 'put' ? 'PUT' : 'GET',
        headers: f === 'put' ? { ...headers, 'content-type': 'application/json' } : headers,
        ...(f === 'put' ? { body: JSON.stringify(value) } : {}),
        signal: AbortSignal.timeout(this.#opts.opTimeoutMs),
      });
      const body = (await res.json()) as { value?: unknown; clock?: Record<string, number> };
      const ctx = res.headers.get('causeway-context') ?? undefined;
      if (res.status === 200) return { type: 'ok', value: f === 'get' ? (body.value ?? null) : undefined, ...(ctx ? { context: ctx } : {}), ...(f === 'put' && body.clock ? { clock: body.clock } : {}) };
      if (res.status === 404 && f === 'get') return { type: 'ok', value: null, ...(ctx ? { context: ctx } : {}) };
      if (res.status >= 400 && res.status < 500) return { type: 'fail' };
      return { type: f === 'put' ? 'info' : 'fail' };
    } catch {
      return { type: f === 'put' ? 'info' : 'fail' };
    }
  }

  /** Starts `processesPerNode` looping processes on every node. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const node of this.#opts.nodes) {
      for (let i = 0; i < this.#opts.processesPerNode; i++) this.#loops.push(this.#loop(this.#nextProcess++, node));
    }
  }

  async #loop(proc: number, node: WorkloadNode): Promise<void> {
    let context: string | undefined;
    let seq = 0;
    while (this.#running) {
      const key = this.#opts.keys[this.#rng.nextU32() % this.#opts.keys.length] as string;
      const put = this.#rng.nextU32() / 2 ** 32 < this.#opts.putRatio;
      const out = await this.op(proc, node, put ? 'put' : 'get', key, put ? `p${proc}-${seq++}` : null, context);
      if (out.context) context = out.context;
      // An op of unknown outcome may still land: forget the token so the next op does not wait on it.
      if (out.type === 'info') context = undefined;
      await sleep(this.#opts.thinkMs);
    }
  }

  /** Stops the looping processes once their current operations complete. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  /** One final read of every key on every node, each by a fresh process. */
  async finalReads(): Promise<void> {
    await Promise.all(
      this.#opts.nodes.map(async (node) => {
        const proc = this.#nextProcess++;
        for (const key of this.#opts.keys) await this.op(proc, node, 'get', key, null);
      }),
    );
  }

  get events(): readonly HistoryEvent[] {
    return this.#events;
  }

  /** The history as JSON lines. */
  history(): string {
    return serializeHistory(this.#events);
  }
}
