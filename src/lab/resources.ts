/**
 * The six lab resources as pure state machines (SPEC §1): each takes a validated PUT and returns
 * its decision, the response body (key order as in the lab's Python dicts) and the console line.
 * No I/O, no time.
 */
import { compareArrays, type Ordering } from '../clocks/vector.js';
import { pyDict, pyStr, type PyDict, type PyValue } from './py-json.js';

export const LAB_RESOURCES = ['lamport', 'vector', 'eventual', 'causal', 'sequential', 'strong'] as const;
export type LabResourceName = (typeof LAB_RESOURCES)[number];

export function isLabResource(s: string): s is LabResourceName {
  return (LAB_RESOURCES as readonly string[]).includes(s);
}

export type LabDecision =
  | { resource: 'lamport'; status: 'advanced'; node: string; nodeL: number; before: bigint; after: bigint }
  | { resource: 'vector'; status: 'accepted' | 'older-ignored'; node: string; clock: number[]; current: number[] }
  | { resource: 'eventual'; status: 'accepted' | 'ignored-older'; node: string; timestamp: number; current: number }
  | {
      resource: 'causal';
      status: 'accepted' | 'ignored-older' | 'conflict';
      node: string;
      vc: number[];
      current: number[];
      /** the incoming vc compared with the current one */
      ordering: Ordering;
    }
  | {
      resource: 'sequential';
      status: 'accepted' | 'ignored-out-of-order';
      node: string;
      lamport: number;
      lastApplied: number;
      serverBefore: bigint;
      serverAfter: bigint;
    }
  | { resource: 'strong'; status: 'committed' | 'ignored-duplicate-or-older'; node: string; opId: number; lastOpId: number };

export interface PutOutcome {
  decision: LabDecision;
  response: PyDict;
  /** whether the resource's state (and so its GET representation) changed */
  changed: boolean;
  logLine: string;
}

/** Clocks print without spaces in log lines (SPEC §1: `clock [1,0] -> [1,1]`). */
export function fmtClock(c: readonly number[]): string {
  return `[${c.join(',')}]`;
}

const ints = (c: readonly number[]): bigint[] => c.map((x) => BigInt(x));

export class LamportResource {
  #serverL = 0n;
  put(d: { node: string; lamport: number; value: PyValue }): PutOutcome {
    const before = this.#serverL;
    const nodeL = BigInt(d.lamport);
    this.#serverL = (before > nodeL ? before : nodeL) + 1n;
    return {
      decision: { resource: 'lamport', status: 'advanced', node: d.node, nodeL: d.lamport, before, after: this.#serverL },
      response: this.state(),
      changed: true,
      logLine: `[LAMPORT] From ${d.node}: value=${pyStr(d.value)}, node_L=${d.lamport}, server_L ${before} -> ${this.#serverL}`,
    };
  }
  state(): PyDict {
    return pyDict([['server_lamport', this.#serverL]]);
  }
}

export class VectorResource {
  #clock: number[];
  #value: PyValue = null;
  constructor(nodes: number) {
    this.#clock = new Array<number>(nodes).fill(0);
  }
  put(d: { node: string; clock: number[]; value: PyValue }): PutOutcome {
    const current = this.#clock;
    const ord = compareArrays(d.clock, current);
    // accept iff clock[i] >= current[i] for every i (an equal clock is accepted)
    if (ord === 'after' || ord === 'equal') {
      const oldValue = this.#value;
      this.#clock = [...d.clock];
      this.#value = d.value;
      return this.#out('accepted', d, current, true, `value ${pyStr(oldValue)} -> ${pyStr(d.value)}, clock ${fmtClock(current)} -> ${fmtClock(d.clock)}`);
    }
    return this.#out('older-ignored', d, current, false, `IGNORE value=${pyStr(d.value)}, clock=${fmtClock(d.clock)}, current_clock=${fmtClock(current)}`);
  }
  #out(status: 'accepted' | 'older-ignored', d: { node: string; clock: number[] }, current: number[], changed: boolean, text: string): PutOutcome {
    return {
      decision: { resource: 'vector', status, node: d.node, clock: d.clock, current },
      response: pyDict([['status', status], ...this.state()]),
      changed,
      logLine: `[VECTOR] From ${d.node}: ${text}`,
    };
  }
  state(): PyDict {
    return pyDict([
      ['server_clock', ints(this.#clock)],
      ['server_value', this.#value],
    ]);
  }
}

export class EventualResource {
  #value: PyValue = null;
  #ts = -1;
  put(d: { node: string; value: PyValue; timestamp: number }): PutOutcome {
    const current = this.#ts;
    let status: 'accepted' | 'ignored-older';
    let text: string;
    // last writer wins: accept iff timestamp >= current (an equal timestamp is accepted)
    if (d.timestamp >= current) {
      status = 'accepted';
      text = `value ${pyStr(this.#value)} -> ${pyStr(d.value)}, ts ${current} -> ${d.timestamp}`;
      this.#value = d.value;
      this.#ts = d.timestamp;
    } else {
      status = 'ignored-older';
      text = `IGNORE value=${pyStr(d.value)}, ts=${d.timestamp}, current_ts=${current}`;
    }
    return {
      decision: { resource: 'eventual', status, node: d.node, timestamp: d.timestamp, current },
      response: this.#body(status),
      changed: status === 'accepted',
      logLine: `[EVENTUAL] From ${d.node}: ${text}`,
    };
  }
  #body(status?: string): PyDict {
    return pyDict([
      ['model', 'eventual'],
      ...(status === undefined ? [] : ([['status', status]] as const)),
      ['server_value', this.#value],
      ['server_timestamp', BigInt(this.#ts)],
    ]);
  }
  state(): PyDict {
    return this.#body();
  }
}

export class CausalResource {
  #vc: number[];
  #value: PyValue = null;
  constructor(nodes: number) {
    this.#vc = new Array<number>(nodes).fill(0);
  }
  put(d: { node: string; value: PyValue; vc: number[] }): PutOutcome {
    const current = this.#vc;
    const ordering = compareArrays(d.vc, current);
    let status: 'accepted' | 'ignored-older' | 'conflict';
    let text: string;
    if (ordering === 'after') {
      // current < vc: all <= and one <
      status = 'accepted';
      text = `value ${pyStr(this.#value)} -> ${pyStr(d.value)}, vc ${fmtClock(current)} -> ${fmtClock(d.vc)}`;
      this.#vc = [...d.vc];
      this.#value = d.value;
    } else if (ordering === 'before') {
      status = 'ignored-older';
      text = `IGNORE value=${pyStr(d.value)}, vc=${fmtClock(d.vc)}, current_vc=${fmtClock(current)}`;
    } else {
      // concurrent or equal: conflict, keep the current value
      status = 'conflict';
      text = `CONCURRENT value=${pyStr(d.value)}, vc=${fmtClock(d.vc)}, current_vc=${fmtClock(current)}`;
    }
    return {
      decision: { resource: 'causal', status, node: d.node, vc: d.vc, current, ordering },
      response: this.#body(status),
      changed: status === 'accepted',
      logLine: `[CAUSAL] From ${d.node}: ${text}`,
    };
  }
  #body(status?: string): PyDict {
    return pyDict([
      ['model', 'causal'],
      ...(status === undefined ? [] : ([['status', status]] as const)),
      ['server_value', this.#value],
      ['server_vc', ints(this.#vc)],
    ]);
  }
  state(): PyDict {
    return this.#body();
  }
}

export class SequentialResource {
  #serverL = 0n;
  #lastApplied = -1;
  #value: PyValue = null;
  put(d: { node: string; value: PyValue; lamport: number }): PutOutcome {
    const serverBefore = this.#serverL;
    const l = BigInt(d.lamport);
    // the Lamport receive rule runs on every request, applied or not
    this.#serverL = (serverBefore > l ? serverBefore : l) + 1n;
    const lastApplied = this.#lastApplied;
    let status: 'accepted' | 'ignored-out-of-order';
    let text: string;
    if (d.lamport >= lastApplied) {
      status = 'accepted';
      text = `value ${pyStr(this.#value)} -> ${pyStr(d.value)}, L ${lastApplied} -> ${d.lamport}, server_L ${serverBefore} -> ${this.#serverL}`;
      this.#value = d.value;
      this.#lastApplied = d.lamport;
    } else {
      status = 'ignored-out-of-order';
      text = `IGNORE value=${pyStr(d.value)}, L=${d.lamport}, last_applied_L=${lastApplied}`;
    }
    return {
      decision: { resource: 'sequential', status, node: d.node, lamport: d.lamport, lastApplied, serverBefore, serverAfter: this.#serverL },
      response: this.#body(status),
      changed: true,
      logLine: `[SEQUENTIAL] From ${d.node}: ${text}`,
    };
  }
  #body(status?: string): PyDict {
    return pyDict([
      ['model', 'sequential'],
      ...(status === undefined ? [] : ([['status', status]] as const)),
      ['server_value', this.#value],
      ['server_lamport', this.#serverL],
      ['last_applied_lamport', BigInt(this.#lastApplied)],
    ]);
  }
  state(): PyDict {
    return this.#body();
  }
}

export class StrongResource {
  #primary: PyValue = null;
  #backup: PyValue = null;
  #lastOpId = -1;
  put(d: { node: string; value: PyValue; op_id?: number | undefined }): PutOutcome {
    const opId = d.op_id ?? 0; // absent op_id counts as 0, as in the lab
    const lastOpId = this.#lastOpId;
    let status: 'committed' | 'ignored-duplicate-or-older';
    let text: string;
    if (opId <= lastOpId) {
      status = 'ignored-duplicate-or-older';
      text = `IGNORE value=${pyStr(d.value)}, op_id=${opId}, last_op_id=${lastOpId}`;
    } else {
      this.#primary = d.value;
      this.#backup = d.value;
      this.#lastOpId = opId;
      status = 'committed';
      text = `value replicated primary+backup, op_id ${lastOpId} -> ${opId}, value=${pyStr(d.value)}`;
    }
    return {
      decision: { resource: 'strong', status, node: d.node, opId, lastOpId },
      response: this.#body(status),
      changed: status === 'committed',
      logLine: `[STRONG] From ${d.node}: ${text}`,
    };
  }
  #body(status?: string): PyDict {
    return pyDict([
      ['model', 'strong'],
      ...(status === undefined ? [] : ([['status', status]] as const)),
      ['primary_value', this.#primary],
      ['backup_value', this.#backup],
      ['last_op_id', BigInt(this.#lastOpId)],
    ]);
  }
  state(): PyDict {
    return this.#body();
  }
}
