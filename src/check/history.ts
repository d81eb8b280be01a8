/**
 * Histories as Jepsen records them (SPEC.md §3): JSON lines, one event each —
 * `{"process":3,"type":"invoke","f":"put","key":"x","value":5,"time":1200,"node":"node2"}`.
 *
 * Parsing pairs each invoke with its completion into one {@link Operation}. `fail` operations did
 * not happen and are set aside; `info` operations (and invokes never completed) may or may not have
 * happened, their effect at any time after their invoke; a read whose outcome is unknown tells
 * nothing and is dropped. Unknown fields (ctx, clock, index, ...) are ignored.
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type OpKind = 'put' | 'get' | 'delete';
export type EventType = 'invoke' | 'ok' | 'fail' | 'info';
export type ProcessId = number | string;

/** One line of a history file, as written. */
export interface HistoryEvent {
  readonly process: ProcessId;
  readonly type: EventType;
  readonly f: OpKind;
  readonly key: string;
  readonly value?: Json;
  readonly time: number;
  readonly node?: string;
}

/** An invoke paired with its completion. */
export interface Operation {
  /** Position among the history's operations, in invoke order. */
  readonly id: number;
  readonly process: ProcessId;
  /** Position in its process's sequence of invokes (failed ones included), from 0. */
  readonly index: number;
  readonly f: OpKind;
  readonly key: string;
  /** put: the value written; get: the value read (null = not found); delete: null. */
  readonly value: Json;
  /** ok: it happened; info: it may or may not have happened; fail (only in History.failed): it did not. */
  readonly status: 'ok' | 'info' | 'fail';
  /** Invoke time (ns). */
  readonly call: number;
  /** Completion time (ns); Infinity for an info operation. */
  readonly ret: number;
  readonly node: string | undefined;
  readonly invokeLine: number;
  /** null when the history ends before the operation completes. */
  readonly completeLine: number | null;
}

export interface History {
  /** ok operations and info writes, in invoke order. */
  readonly ops: readonly Operation[];
  /** Operations that completed with `fail`: they did not happen. */
  readonly failed: readonly Operation[];
  /** Reads whose outcome is unknown (info): they constrain nothing. */
  readonly unknownReads: number;
  /** Every key mentioned, sorted. */
  readonly keys: readonly string[];
  readonly events: number;
}

export type ParseResult = { readonly ok: true; readonly history: History } | { readonly ok: false; readonly line: number; readonly reason: string };

const TYPES: ReadonlySet<string> = new Set(['invoke', 'ok', 'fail', 'info']);
const KINDS: ReadonlySet<string> = new Set(['put', 'get', 'delete']);

class LineError extends Error {
  readonly line: number;
  constructor(line: number, reason: string) {
    super(reason);
    this.line = line;
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function validateEvent(raw: unknown, line: number): HistoryEvent {
  const fail = (reason: string): never => {
    throw new LineError(line, reason);
  };
  if (!isRecord(raw)) return fail('expected a JSON object');
  const { process, type, f, key, time, node } = raw;
  if (!(typeof process === 'string' && process.length > 0) && !(typeof process === 'number' && Number.isSafeInteger(process))) {
    fail('"process" must be an integer or a non-empty string');
  }
  if (typeof type !== 'string' || !TYPES.has(type)) fail('"type" must be one of invoke, ok, fail, info');
  if (typeof f !== 'string' || !KINDS.has(f)) fail('"f" must be one of put, get, delete');
  if (typeof key !== 'string' && !(typeof key === 'number' && Number.isSafeInteger(key))) fail('"key" must be a string or an integer');
  if (typeof time !== 'number' || !Number.isSafeInteger(time)) fail('"time" must be an integer (nanoseconds)');
  if (node !== undefined && node !== null && typeof node !== 'string') fail('"node" must be a string when present');
  const ev: HistoryEvent = {
    process: process as ProcessId,
    type: type as EventType,
    f: f as OpKind,
    key: String(key),
    time: time as number,
    ...('value' in raw ? { value: raw.value as Json } : {}),
    ...(typeof node === 'string' ? { node } : {}),
  };
  return ev;
}

interface Pending {
  readonly ev: HistoryEvent;
  readonly line: number;
  readonly index: number;
  /** Its place among the drafts. */
  readonly slot: number;
}

type Draft = Omit<Operation, 'id'> & { readonly failed: boolean; readonly unknownRead: boolean };

/** Pairs events (line numbers from 1) into operations as they come; throws LineError on malformed input. */
class Pairing {
  readonly #outstanding = new Map<ProcessId, Pending>();
  readonly #counts = new Map<ProcessId, number>();
  readonly #drafts: Draft[] = [];
  readonly #keys = new Set<string>();
  #events = 0;

  add(ev: HistoryEvent, line: number): void {
    this.#events++;
    this.#keys.add(ev.key);
    if (ev.type === 'invoke') {
      const prev = this.#outstanding.get(ev.process);
      if (prev) {
        throw new LineError(line, `process ${String(ev.process)} invokes while its operation from line ${prev.line} is still outstanding`);
      }
      if (ev.f === 'put' && !('value' in ev)) throw new LineError(line, 'a put invoke must carry "value"');
      const index = this.#counts.get(ev.process) ?? 0;
      this.#counts.set(ev.process, index + 1);
      const p: Pending = { ev, line, index, slot: this.#drafts.length };
      this.#outstanding.set(ev.process, p);
      this.#drafts.push(draftOf(p, null, null));
      return;
    }
    const p = this.#outstanding.get(ev.process);
    if (!p) throw new LineError(line, `"${ev.type}" for process ${String(ev.process)}, which has no outstanding invoke`);
    if (p.ev.f !== ev.f) throw new LineError(line, `completion f "${ev.f}" does not match the invoke's "${p.ev.f}" (line ${p.line})`);
    if (p.ev.key !== ev.key) throw new LineError(line, `completion key "${ev.key}" does not match the invoke's "${p.ev.key}" (line ${p.line})`);
    if (ev.time < p.ev.time) throw new LineError(line, `completion time ${ev.time} is before its invoke time ${p.ev.time} (line ${p.line})`);
    if (ev.type === 'ok' && ev.f === 'get' && !('value' in ev)) throw new LineError(line, 'a get ok must carry the value read ("value": null when not found)');
    this.#outstanding.delete(ev.process);
    this.#drafts[p.slot] = draftOf(p, ev, line);
  }

  finish(): History {
    const ops: Operation[] = [];
    const failed: Operation[] = [];
    let unknownReads = 0;
    for (const d of this.#drafts) {
      if (d.unknownRead) {
        unknownReads++;
        continue;
      }
      const { failed: isFailed, unknownRead: _u, ...rest } = d;
      if (isFailed) failed.push({ ...rest, id: -1 - failed.length });
      else ops.push({ ...rest, id: ops.length });
    }
    return { ops, failed, unknownReads, keys: [...this.#keys].sort(), events: this.#events };
  }
}

function draftOf(p: Pending, done: HistoryEvent | null, line: number | null): Draft {
  const { ev } = p;
  const type = done?.type ?? 'info';
  const status: Operation['status'] = type === 'ok' ? 'ok' : type === 'fail' ? 'fail' : 'info';
  const value: Json = ev.f === 'put' ? (ev.value ?? null) : ev.f === 'get' && type === 'ok' ? (done?.value ?? null) : null;
  return {
    process: ev.process,
    index: p.index,
    f: ev.f,
    key: ev.key,
    value,
    status,
    call: ev.time,
    ret: status === 'info' ? Infinity : (done as HistoryEvent).time,
    node: done?.node ?? ev.node,
    invokeLine: p.line,
    completeLine: line,
    failed: status === 'fail',
    unknownRead: ev.f === 'get' && status === 'info',
  };
}

/** One line of a JSON-lines history: blank lines are skipped (line numbers count from 1). */
function addLine(pairing: Pairing, text: string, line: number): void {
  const src = text.trim();
  if (src === '') return;
  let raw: unknown;
  try {
    raw = JSON.parse(src);
  } catch {
    throw new LineError(line, 'not valid JSON');
  }
  pairing.add(validateEvent(raw, line), line);
}

/** A LineError as the failed ParseResult it stands for; anything else is thrown on. */
function failed(e: unknown): ParseResult {
  if (e instanceof LineError) return { ok: false, line: e.line, reason: e.message };
  throw e;
}

function settle(build: () => History): ParseResult {
  try {
    return { ok: true, history: build() };
  } catch (e) {
    return failed(e);
  }
}

/** Parses a JSON-lines history. Blank lines are skipped; line numbers count from 1. */
export function parseHistory(text: string): ParseResult {
  return settle(() => {
    const pairing = new Pairing();
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) addLine(pairing, lines[i] as string, i + 1);
    return pairing.finish();
  });
}

/** The longest line parseHistoryChunks takes: far beyond any event, far below the engine's string limit. */
export const MAX_LINE_CHARS = 64 * 1024 * 1024;

/**
 * Parses a JSON-lines history as it arrives, in chunks of text (a file read as a stream): only the
 * operations are kept, never the whole text, so a history larger than the largest string the
 * engine can hold is read too. Lines are split on "\n" alone, as parseHistory splits them.
 */
export async function parseHistoryChunks(chunks: AsyncIterable<string>, maxLineChars = MAX_LINE_CHARS): Promise<ParseResult> {
  const pairing = new Pairing();
  let rest = '';
  let line = 0;
  try {
    for await (const chunk of chunks) {
      let from = 0;
      for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', from)) {
        addLine(pairing, rest === '' ? chunk.slice(from, nl) : rest + chunk.slice(from, nl), ++line);
        rest = '';
        from = nl + 1;
      }
      rest += chunk.slice(from);
      if (rest.length > maxLineChars) throw new LineError(line + 1, `line longer than ${maxLineChars} characters (no event is that long)`);
    }
    addLine(pairing, rest, ++line);
    return { ok: true, history: pairing.finish() };
  } catch (e) {
    return failed(e);
  }
}

/** Builds a history from event objects (line numbers are positions from 1). */
export function historyFromEvents(events: readonly HistoryEvent[]): ParseResult {
  return settle(() => {
    const pairing = new Pairing();
    for (let i = 0; i < events.length; i++) pairing.add(validateEvent(events[i], i + 1), i + 1);
    return pairing.finish();
  });
}

/** JSON lines, one event each. */
export function serializeHistory(events: readonly HistoryEvent[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n') + (events.length > 0 ? '\n' : '');
}

/** Canonical JSON (object keys sorted), so equal values compare equal as strings. */
export function canonical(v: Json | undefined): string {
  if (v === undefined) return 'undefined';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k] as Json)}`).join(',')}}`;
}

function fmtTime(t: number): string {
  return Number.isFinite(t) ? String(t) : '∞';
}

/** A one-line description: `P3#2 put(x, 5) ok t=1200..1500 @node2 (line 7)`. */
export function formatOp(op: Operation): string {
  const v = JSON.stringify(op.value);
  const what = op.f === 'put' ? `put(${op.key}, ${v})` : op.f === 'get' ? `get(${op.key}) → ${v}` : `delete(${op.key})`;
  const status = op.status === 'info' ? 'info (outcome unknown)' : op.status;
  const node = op.node === undefined ? '' : ` @${op.node}`;
  return `P${String(op.process)}#${op.index} ${what} ${status} t=${fmtTime(op.call)}..${fmtTime(op.ret)}${node} (line ${op.invokeLine})`;
}

export function isWrite(op: Operation): boolean {
  return op.f !== 'get';
}
