/**
 * The simulator's history recorder: the Jepsen-style events (SPEC.md §3) kept in columns — typed
 * arrays for the numbers, one reference array for the values — and turned into HistoryEvent
 * objects only when asked for. A big run records hundreds of thousands of events that all live to
 * the end of the run; as objects, each one is copied by every young-generation collection it
 * survives, as columns they cost the collector almost nothing.
 */
import type { EventType, HistoryEvent, OpKind } from '../check/history.js';
import { grown } from './typed-grow.js';

const TYPES: readonly EventType[] = Object.freeze(['invoke', 'ok', 'fail', 'info']);
const KINDS: readonly OpKind[] = Object.freeze(['put', 'get', 'delete']);

/** Column code of an event type / operation kind (index in TYPES / KINDS). */
export const TYPE_CODE: Readonly<Record<EventType, number>> = Object.freeze({ invoke: 0, ok: 1, fail: 2, info: 3 });
export const KIND_CODE: Readonly<Record<OpKind, number>> = Object.freeze({ put: 0, get: 1, delete: 2 });

export class HistoryLog {
  /** Node names, by the index recorded in the node column. */
  readonly #nodes: readonly string[];
  #length = 0;
  #process = new Int32Array(1024);
  /** type code << 2 | kind code. */
  #kind = new Uint8Array(1024);
  #node = new Int32Array(1024);
  #time = new Float64Array(1024);
  readonly #keys: string[] = [];
  readonly #values: (string | null)[] = [];
  #events: HistoryEvent[] | null = null;

  constructor(nodes: readonly string[]) {
    this.#nodes = nodes;
  }

  get length(): number {
    return this.#length;
  }

  /** Appends one event: `type` and `f` are TYPE_CODE / KIND_CODE values, `node` an index into the node names. */
  push(process: number, type: number, f: number, key: string, value: string | null, time: number, node: number): void {
    const i = this.#length;
    if (i === this.#process.length) this.#grow();
    this.#process[i] = process;
    this.#kind[i] = (type << 2) | f;
    this.#node[i] = node;
    this.#time[i] = time;
    this.#keys.push(key);
    this.#values.push(value);
    this.#length = i + 1;
    this.#events = null;
  }

  #grow(): void {
    const n = this.#process.length * 2;
    this.#process = grown(this.#process, n);
    this.#kind = grown(this.#kind, n);
    this.#node = grown(this.#node, n);
    this.#time = grown(this.#time, n);
  }

  /** The events as objects, in recording order (built once, then shared until the next push). */
  events(): HistoryEvent[] {
    if (this.#events !== null) return this.#events;
    const out: HistoryEvent[] = new Array<HistoryEvent>(this.#length);
    for (let i = 0; i < this.#length; i++) {
      const kind = this.#kind[i] as number;
      // Field order as the simulator always wrote them: it is the order of the JSON lines.
      out[i] = {
        process: this.#process[i] as number,
        type: TYPES[kind >> 2] as EventType,
        f: KINDS[kind & 3] as OpKind,
        key: this.#keys[i] as string,
        value: this.#values[i] as string | null,
        time: this.#time[i] as number,
        node: this.#nodes[this.#node[i] as number] as string,
      };
    }
    this.#events = out;
    return out;
  }
}
