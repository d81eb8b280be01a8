/**
 * The virtual network: one directed link per ordered pair of nodes, each with its own latency
 * distribution, and seeded faults — drop, duplicate, reorder, cuts (partitions, symmetric or
 * one-way). It decides when (and whether) each message arrives; the simulator puts the arrivals on
 * its agenda. Nodes are indexed 0..n-1. No ambient time or randomness: a seeded Rng is passed in.
 *
 * Semantics:
 *  - without reordering a link is FIFO (as a TCP connection is): a message never arrives before
 *    one sent earlier on the same link;
 *  - a reordered message takes an extra random delay and may be overtaken;
 *  - a duplicate arrives after the original;
 *  - a dropped message is lost for good (the protocol must recover by anti-entropy);
 *  - cutting a link, or breaking it (a crash of the receiver, a reconnection), loses every message
 *    in flight on it: an arrival whose link epoch changed since it was sent is discarded.
 */
import type { Rng } from '../core/rng.js';

export type LatencyDist = 'constant' | 'uniform' | 'exponential' | 'pareto';

export interface LinkLatency {
  readonly dist: LatencyDist;
  /** Minimum one-way latency, ns. */
  readonly minNs: number;
  /** Mean one-way latency, ns (>= minNs). */
  readonly meanNs: number;
}

export interface NetworkFaults {
  /** Per-message probabilities while faults are on. */
  readonly drop: number;
  readonly dup: number;
  readonly reorder: number;
}

export interface NetworkOptions {
  /** Draw a latency distribution per link (else every link is constant `baseLatencyNs`). */
  readonly variedLatency: boolean;
  readonly baseLatencyNs: number;
  readonly faults: NetworkFaults;
}

export const DEFAULT_NETWORK_OPTIONS: Readonly<NetworkOptions> = Object.freeze({
  variedLatency: false,
  baseLatencyNs: 1_000_000,
  faults: Object.freeze({ drop: 0, dup: 0, reorder: 0 }),
});

export interface Arrival<P> {
  /** Tag: a driver can put arrivals on its agenda as they are, beside its own kinds of event. */
  readonly k: 'msg';
  readonly from: number;
  readonly to: number;
  readonly payload: P;
  readonly at: number;
  readonly epoch: number;
  readonly duplicate: boolean;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  reordered: number;
}

const MS = 1_000_000;

export class VirtualNetwork<P> {
  readonly size: number;
  readonly #rng: Rng;
  readonly #latency: LinkLatency[];
  readonly #epoch: Int32Array;
  readonly #cuts: Int32Array;
  readonly #lastArrival: Float64Array;
  readonly #dirty: Uint8Array;
  #faults: NetworkFaults;
  readonly #configured: NetworkFaults;
  #inFlight = 0;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, reordered: 0 };

  constructor(size: number, rng: Rng, options: Partial<NetworkOptions> = {}) {
    const o: NetworkOptions = { ...DEFAULT_NETWORK_OPTIONS, ...options };
    this.size = size;
    this.#rng = rng;
    const links = size * size;
    this.#epoch = new Int32Array(links);
    this.#cuts = new Int32Array(links);
    this.#lastArrival = new Float64Array(links);
    this.#dirty = new Uint8Array(links);
    this.#latency = [];
    const dists: LatencyDist[] = ['uniform', 'exponential', 'pareto'];
    for (let i = 0; i < links; i++) {
      if (!o.variedLatency) {
        this.#latency.push({ dist: 'constant', minNs: o.baseLatencyNs, meanNs: o.baseLatencyNs });
        continue;
      }
      const minNs = rng.int(200_000, 5 * MS);
      this.#latency.push({ dist: rng.pick(dists), minNs, meanNs: minNs + rng.int(MS / 2, 30 * MS) });
    }
    this.#configured = o.faults;
    this.#faults = o.faults;
  }

  latency(from: number, to: number): LinkLatency {
    return this.#latency[from * this.size + to] as LinkLatency;
  }

  /** Messages sent and not yet arrived (or discarded). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Turn the configured drop/dup/reorder faults on or off (the liveness phase turns them off). */
  setFaults(on: boolean): void {
    this.#faults = on ? this.#configured : { drop: 0, dup: 0, reorder: 0 };
  }

  #sample(l: LinkLatency): number {
    const extra = l.meanNs - l.minNs;
    switch (l.dist) {
      case 'constant':
        return l.minNs;
      case 'uniform':
        return l.minNs + Math.floor(this.#rng.next() * 2 * extra);
      case 'exponential':
        return l.minNs + Math.floor(Math.min(-Math.log(1 - this.#rng.next()) * extra, 20 * extra));
      case 'pareto': {
        // Pareto tail, shape 3, scaled so the mean excess over minNs is `extra`; capped.
        const xm = extra * 2;
        return l.minNs + Math.floor(Math.min(xm * (Math.pow(1 - this.#rng.next(), -1 / 3) - 1), 20 * extra));
      }
    }
  }

  /**
   * Send one message at virtual time `now`; the arrivals it causes (none when dropped, two when
   * duplicated) are appended to `out`. Returns false when the message was dropped.
   */
  send(from: number, to: number, payload: P, now: number, out: Arrival<P>[]): boolean {
    const link = from * this.size + to;
    this.stats.sent++;
    const f = this.#faults;
    if (this.#cuts[link] !== 0 || (f.drop > 0 && this.#rng.next() < f.drop)) {
      this.stats.dropped++;
      this.#dirty[link] = 1;
      return false;
    }
    const l = this.#latency[link] as LinkLatency;
    let at = now + this.#sample(l);
    const epoch = this.#epoch[link] as number;
    if (f.reorder > 0 && this.#rng.next() < f.reorder) {
      at += this.#rng.int(0, 4 * l.meanNs + 5 * MS);
      this.stats.reordered++;
    } else {
      const last = this.#lastArrival[link] as number;
      if (at < last) at = last;
      this.#lastArrival[link] = at;
    }
    out.push({ k: 'msg', from, to, payload, at, epoch, duplicate: false });
    this.#inFlight++;
    if (f.dup > 0 && this.#rng.next() < f.dup) {
      out.push({ k: 'msg', from, to, payload, at: at + this.#rng.int(0, l.meanNs), epoch, duplicate: true });
      this.#inFlight++;
      this.stats.duplicated++;
    }
    return true;
  }

  /** An arrival comes due: true when it is delivered, false when its link was cut or broken meanwhile. */
  arrive(a: Arrival<P>): boolean {
    this.#inFlight--;
    const link = a.from * this.size + a.to;
    if (this.#epoch[link] !== a.epoch || this.#cuts[link] !== 0) {
      this.stats.dropped++;
      this.#dirty[link] = 1;
      return false;
    }
    this.stats.delivered++;
    return true;
  }

  /** Cut a directed link (counted: overlapping partitions compose); in-flight messages are lost. */
  cut(from: number, to: number): void {
    const link = from * this.size + to;
    this.#cuts[link] = (this.#cuts[link] as number) + 1;
    this.#epoch[link] = (this.#epoch[link] as number) + 1;
  }

  /** Undo one cut. Returns true when the link is whole again. */
  uncut(from: number, to: number): boolean {
    const link = from * this.size + to;
    const c = this.#cuts[link] as number;
    if (c <= 0) throw new Error(`link ${from}->${to} is not cut`);
    this.#cuts[link] = c - 1;
    return c === 1;
  }

  isCut(from: number, to: number): boolean {
    return this.#cuts[from * this.size + to] !== 0;
  }

  /** Break a link (its connection dies): every message in flight on it is lost. */
  breakLink(from: number, to: number): void {
    const link = from * this.size + to;
    this.#epoch[link] = (this.#epoch[link] as number) + 1;
    this.#lastArrival[link] = 0;
  }

  /** Remove every cut (the liveness phase heals the network). */
  healAll(): void {
    this.#cuts.fill(0);
  }

  /** Links (as [from, to]) that lost a message since the last call. */
  takeLossy(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.#dirty.length; i++) {
      if (this.#dirty[i] === 0) continue;
      this.#dirty[i] = 0;
      out.push([Math.floor(i / this.size), i % this.size]);
    }
    return out;
  }
}
