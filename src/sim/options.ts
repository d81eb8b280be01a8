/**
 * Simulation options, the fault list, and the one-line command that replays a run
 * (ARCHITECTURE.md §4 rule 2: one seed rules a simulation; a failure prints how to replay it).
 */
import { CausewayError } from '../core/errors.js';

export const FAULT_KINDS = ['delay', 'drop', 'dup', 'reorder', 'partition', 'oneway', 'crash', 'skew'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const SIM_MODELS = ['causal'] as const;
export type SimModel = (typeof SIM_MODELS)[number];

export interface SimOptions {
  readonly model: SimModel;
  readonly nodes: number;
  /** Client operations issued in the safety phase. */
  readonly ops: number;
  /** uint32; every random choice of the run derives from it. */
  readonly seed: number;
  readonly faults: readonly FaultKind[];
  readonly clients: number;
  readonly keys: number;
  /** Virtual milliseconds between two protocol ticks (before skew). */
  readonly tickMs: number;
  /** Liveness phase: give up (a failure) after this many tick periods without convergence. */
  readonly maxLivenessTicks: number;
  /** Deep-freeze every message and persisted value, so a core that mutates one throws (tests). */
  readonly freezeMessages: boolean;
  /** Record the Jepsen-style history (needed for the checkers). */
  readonly recordHistory: boolean;
  /** Run the history checkers at the end. */
  readonly check: boolean;
  /** Build a ShiViz log. */
  readonly shiviz: boolean;
}

export const DEFAULT_SIM_OPTIONS: Readonly<SimOptions> = Object.freeze({
  model: 'causal',
  nodes: 5,
  ops: 10_000,
  seed: 1,
  faults: Object.freeze([...FAULT_KINDS]),
  clients: 8,
  keys: 10,
  tickMs: 10,
  maxLivenessTicks: 5_000,
  freezeMessages: false,
  recordHistory: true,
  check: true,
  shiviz: false,
});

/** `all`, `none`, or a comma-separated list of fault kinds; returned in canonical order. */
export function parseFaults(list: string): FaultKind[] {
  const s = list.trim();
  if (s === 'all') return [...FAULT_KINDS];
  if (s === 'none' || s === '') return [];
  const want = new Set<string>();
  for (const part of s.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    if (p === 'all' || p === 'none') throw new CausewayError('bad-request', `"${p}" stands alone: use --faults ${p}, or a list of ${FAULT_KINDS.join(', ')}`);
    if (!(FAULT_KINDS as readonly string[]).includes(p)) {
      throw new CausewayError('bad-request', `unknown fault "${p}" (expected all, none, or a list of ${FAULT_KINDS.join(', ')})`);
    }
    want.add(p);
  }
  if (want.size === 0) throw new CausewayError('bad-request', `no fault named in "${list}" (expected all, none, or a list of ${FAULT_KINDS.join(', ')})`);
  return FAULT_KINDS.filter((f) => want.has(f));
}

export function formatFaults(faults: readonly FaultKind[]): string {
  if (faults.length === 0) return 'none';
  if (FAULT_KINDS.every((f) => faults.includes(f))) return 'all';
  return FAULT_KINDS.filter((f) => faults.includes(f)).join(',');
}

function intIn(name: string, v: number, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new CausewayError('bad-request', `--${name} must be an integer from ${min} to ${max} (got ${String(v)})`);
  }
  return v;
}

/** Options merged over the frozen defaults and validated. */
export function simOptions(partial: Partial<SimOptions> = {}): SimOptions {
  const o: SimOptions = { ...DEFAULT_SIM_OPTIONS, ...partial };
  if (!(SIM_MODELS as readonly string[]).includes(o.model)) {
    throw new CausewayError('bad-request', `--model must be one of ${SIM_MODELS.join(', ')} (got ${String(o.model)})`);
  }
  intIn('nodes', o.nodes, 1, 64);
  intIn('ops', o.ops, 0, 100_000_000);
  intIn('seed', o.seed, 0, 0xffffffff);
  intIn('clients', o.clients, 1, 10_000);
  intIn('keys', o.keys, 1, 1_000_000);
  intIn('tick-ms', o.tickMs, 1, 60_000);
  intIn('max-liveness-ticks', o.maxLivenessTicks, 1, 10_000_000);
  for (const f of o.faults) if (!(FAULT_KINDS as readonly string[]).includes(f)) throw new CausewayError('bad-request', `unknown fault "${f}"`);
  return Object.freeze({ ...o, faults: Object.freeze(FAULT_KINDS.filter((f) => o.faults.includes(f))) });
}

/** The exact one-line command that replays a run. */
export function replayCommand(o: SimOptions): string {
  const parts = [
    'causeway sim',
    `--model ${o.model}`,
    `--nodes ${o.nodes}`,
    `--ops ${o.ops}`,
    `--seed ${o.seed}`,
    `--faults ${formatFaults(o.faults)}`,
    `--clients ${o.clients}`,
    `--keys ${o.keys}`,
  ];
  if (o.tickMs !== DEFAULT_SIM_OPTIONS.tickMs) parts.push(`--tick-ms ${o.tickMs}`);
  if (o.maxLivenessTicks !== DEFAULT_SIM_OPTIONS.maxLivenessTicks) parts.push(`--max-liveness-ticks ${o.maxLivenessTicks}`);
  return parts.join(' ');
}

const NUMERIC: Readonly<Record<string, keyof SimOptions>> = {
  nodes: 'nodes',
  ops: 'ops',
  seed: 'seed',
  clients: 'clients',
  keys: 'keys',
  'tick-ms': 'tickMs',
  'max-liveness-ticks': 'maxLivenessTicks',
};

/**
 * Parses the option part of a replay command (`--nodes 3 --ops 150 --seed 7 --faults all`), as
 * kept one per line in the regression-seeds file. A leading `causeway sim` is allowed; `#` starts
 * a comment. Returns null for a blank or comment-only line.
 */
export function parseSimArgs(line: string, base: Partial<SimOptions> = {}): SimOptions | null {
  const text = line.replace(/#.*$/, '').trim();
  if (text === '') return null;
  const tokens = text.split(/\s+/);
  if (tokens[0] === 'causeway' && tokens[1] === 'sim') tokens.splice(0, 2);
  const out: { -readonly [K in keyof SimOptions]?: SimOptions[K] } = { ...base };
  for (let i = 0; i < tokens.length; i += 2) {
    const flag = tokens[i] as string;
    const value = tokens[i + 1];
    if (!flag.startsWith('--') || value === undefined) throw new CausewayError('bad-request', `expected "--option value" at "${flag}"`);
    const name = flag.slice(2);
    if (name === 'model') out.model = value as SimModel;
    else if (name === 'faults') out.faults = parseFaults(value);
    else if (NUMERIC[name] !== undefined) {
      if (!/^\d+$/.test(value)) throw new CausewayError('bad-request', `--${name} expects an integer (got ${value})`);
      (out as Record<string, unknown>)[NUMERIC[name] as string] = Number(value);
    } else throw new CausewayError('bad-request', `unknown option --${name}`);
  }
  return simOptions(out);
}
