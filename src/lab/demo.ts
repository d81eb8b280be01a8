/**
 * The lab's demo clients (SPEC §1 `causeway lab demo part1|part2`): the exact request sequences of
 * the lab's Python client.py files, printed in their format, plus one line per step explaining
 * why the server decided as it did. Pure: the transport and the printer are injected.
 */
import { assertNever } from '../core/assert.js';
import { Lab } from './lab.js';
import { parsePyJson, pyDict, pyJsonDumps, pyStr, type PyDict, type PyValue } from './py-json.js';
import { fmtClock, type LabResourceName } from './resources.js';

export const DEMO_PARTS = ['part1', 'part2'] as const;
export type DemoPart = (typeof DEMO_PARTS)[number];

export interface DemoStep {
  payload: PyDict;
  /** the "sending" line as the Python client prints it */
  sendingLine(uri: string): string;
}

export interface DemoSection {
  /** printed before the section's steps (may start with a newline, as in the Python client) */
  header: string;
  resource: LabResourceName;
  /** prefix of the Response/Why lines, e.g. `[VECTOR CLIENT]` */
  tag: string;
  steps: DemoStep[];
}

const d = (entries: [string, PyValue][]): PyDict => pyDict(entries);
const n = (x: number): bigint => BigInt(x);

function part1(): DemoSection[] {
  // Lamport demo: node A, L = 1, 2, 3 with values 10, 20, 15
  const lamportSteps = [10, 20, 15].map((value, i): DemoStep => {
    const payload = d([['node', 'A'], ['lamport', n(i + 1)], ['value', n(value)]]);
    return { payload, sendingLine: () => `\n[LAMPORT CLIENT] Sending: ${pyStr(payload)}` };
  });
  // Vector demo: A [1,0] 10; B (after seeing A) [1,1] 20; A sends an old clock [1,0] 999
  const vectorSteps = (
    [
      ['A', [1, 0], 10],
      ['B', [1, 1], 20],
      ['A (old)', [1, 0], 999],
    ] as const
  ).map(([node, clock, value]): DemoStep => {
    const payload = d([['node', node], ['clock', clock.map(n)], ['value', n(value)]]);
    return { payload, sendingLine: () => `\n[VECTOR CLIENT] From ${node} sending: ${pyStr(payload)}` };
  });
  return [
    { header: '=== Lamport example ===', resource: 'lamport', tag: '[LAMPORT CLIENT]', steps: lamportSteps },
    { header: '\n=== Vector clock example ===', resource: 'vector', tag: '[VECTOR CLIENT]', steps: vectorSteps },
  ];
}

function part2(): DemoSection[] {
  const section = (resource: LabResourceName, title: string, bodies: [string, PyValue][][]): DemoSection => {
    const tag = `[${resource.toUpperCase()}]`;
    return {
      header: `\n=== ${title} CONSISTENCY DEMO ===`,
      resource,
      tag,
      steps: bodies.map((entries) => {
        const payload = d(entries);
        return { payload, sendingLine: (uri: string) => `\n${tag} Sending to ${uri}: ${pyStr(payload)}` };
      }),
    };
  };
  return [
    section('eventual', 'EVENTUAL', [
      [['node', 'A'], ['value', 'A-1'], ['timestamp', 1n]],
      [['node', 'B'], ['value', 'B-0'], ['timestamp', 0n]], // later, but a smaller timestamp (clock skew)
      [['node', 'B'], ['value', 'B-2'], ['timestamp', 2n]],
    ]),
    section('causal', 'CAUSAL', [
      [['node', 'A'], ['value', 'A-1'], ['vc', [1n, 0n]]],
      [['node', 'B'], ['value', 'B-2'], ['vc', [1n, 1n]]], // B saw A's update
      [['node', 'A(OLD)'], ['value', 'A-old'], ['vc', [1n, 0n]]], // an outdated message
    ]),
    section('sequential', 'SEQUENTIAL', [
      [['node', 'A'], ['value', 'A-1'], ['lamport', 1n]],
      [['node', 'B'], ['value', 'B-1'], ['lamport', 1n]],
      [['node', 'A(OLD)'], ['value', 'A-old'], ['lamport', 0n]],
    ]),
    section('strong', 'STRONG', [
      [['node', 'A'], ['value', 'X'], ['op_id', 1n]],
      [['node', 'B'], ['value', 'Y'], ['op_id', 2n]],
      [['node', 'A'], ['value', 'X-again'], ['op_id', 1n]], // A retries operation 1
    ]),
  ];
}

export function demoScript(part: DemoPart): DemoSection[] {
  return part === 'part1' ? part1() : part2();
}

/** The state a fresh lab server starts in (what GET returns before any PUT). */
export function initialState(resource: LabResourceName, nodes = 2): PyDict {
  const r = parsePyJson(new Lab({ nodes }).stateJson(resource));
  return r.ok && r.value instanceof Map ? r.value : new Map();
}

const num = (v: PyValue | undefined): string => (typeof v === 'bigint' || typeof v === 'number' ? pyStr(v) : '?');
const clockOf = (v: PyValue | undefined): string =>
  Array.isArray(v) ? fmtClock(v.map((x) => (typeof x === 'bigint' ? Number(x) : typeof x === 'number' ? x : NaN))) : '?';
const show = (v: PyValue | undefined): string => (v === undefined ? '?' : pyJsonDumps(v));

function firstBelow(a: PyValue | undefined, b: PyValue | undefined): string {
  if (!Array.isArray(a) || !Array.isArray(b)) return '';
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if ((typeof x === 'bigint' || typeof x === 'number') && (typeof y === 'bigint' || typeof y === 'number') && x < y) return ` (entry ${i}: ${pyStr(x)} < ${pyStr(y)})`;
  }
  return '';
}

/**
 * One sentence on why the server decided as it did, from the request, the response and the state
 * the client knew before the step (`prior`, in GET form).
 */
export function explain(resource: LabResourceName, req: PyDict, code: string, payload: string, prior: PyDict): string {
  if (code !== '2.04') return `rejected: the server answered ${code} (${payload}), so nothing changed`;
  const parsed = parsePyJson(payload);
  if (!parsed.ok || !(parsed.value instanceof Map)) return 'the response is not a JSON object, so the decision cannot be explained';
  const res = parsed.value;
  const status = res.get('status');
  switch (resource) {
    case 'lamport':
      return `server_L = max(${num(prior.get('server_lamport'))}, ${num(req.get('lamport'))}) + 1 = ${num(res.get('server_lamport'))}: the server's clock moves past both its own time and the message's`;
    case 'vector': {
      const c = clockOf(req.get('clock'));
      const cur = clockOf(prior.get('server_clock'));
      if (status === 'accepted') return `accepted: every entry of ${c} is >= the server's ${cur}, so the message is not older and its value ${show(req.get('value'))} is stored`;
      return `ignored: ${c} is not >= the server's ${cur} in every entry${firstBelow(req.get('clock'), prior.get('server_clock'))}, so the message is older and ${show(req.get('value'))} is dropped`;
    }
    case 'eventual': {
      const ts = num(req.get('timestamp'));
      const cur = num(prior.get('server_timestamp'));
      if (status === 'accepted') return `accepted: timestamp ${ts} >= current ${cur}, so last-writer-wins takes ${show(req.get('value'))}`;
      return `ignored: timestamp ${ts} < current ${cur}, so last-writer-wins keeps ${show(prior.get('server_value'))} even though this write arrived later`;
    }
    case 'causal': {
      const vc = clockOf(req.get('vc'));
      const cur = clockOf(prior.get('server_vc'));
      if (status === 'accepted') return `accepted: ${vc} strictly dominates the server's ${cur} (every entry >=, one >), so ${show(req.get('value'))} causally follows what the server has`;
      if (status === 'ignored-older') return `ignored: ${vc} is strictly below the server's ${cur}, so ${show(req.get('value'))} is causally older than what the server has`;
      if (vc === cur) return `conflict: ${vc} equals the server's clock, so neither write is newer and the server keeps ${show(prior.get('server_value'))}`;
      return `conflict: ${vc} and the server's ${cur} are concurrent (neither dominates), so the server keeps ${show(prior.get('server_value'))}`;
    }
    case 'sequential': {
      const l = num(req.get('lamport'));
      const last = num(prior.get('last_applied_lamport'));
      const tick = `server_L = max(${num(prior.get('server_lamport'))}, ${l}) + 1 = ${num(res.get('server_lamport'))}`;
      if (status === 'accepted') return `accepted: lamport ${l} >= last applied ${last}, so it comes next in the one global order (${tick})`;
      return `ignored: lamport ${l} < last applied ${last}, so applying it would break the global order (the clock still ticks: ${tick})`;
    }
    case 'strong': {
      const op = num(req.get('op_id') ?? 0n);
      const last = num(prior.get('last_op_id'));
      if (status === 'committed') return `committed: op_id ${op} > last op_id ${last}, so primary and backup both took ${show(req.get('value'))} before the reply`;
      return `ignored: op_id ${op} <= last op_id ${last}, so it is a duplicate or older operation and is not applied again`;
    }
    default:
      return assertNever(resource, 'lab resource');
  }
}

/** What the demo needs from a transport: one request, its code and payload text. */
export type DemoSend = (req: { method: 'GET' | 'PUT'; resource: LabResourceName; payload?: string }) => Promise<{ code: string; payload: string }>;

export interface DemoRunOptions {
  /** base URI printed in Part 2's "Sending to" lines, e.g. `coap://localhost:5683` */
  target: string;
  send: DemoSend;
  print: (line: string) => void;
  /** clock length assumed when the server cannot tell its state (GET refused) */
  nodes?: number;
}

/**
 * Replays a demo part. Before each section the client GETs the resource's state silently (the
 * lab's Python server refuses GET with 4.05; then a fresh server's state is assumed), so that each
 * explanation can compare the request with what the server held.
 */
export async function runDemo(part: DemoPart, o: DemoRunOptions): Promise<void> {
  const base = o.target.replace(/\/+$/, '');
  for (const section of demoScript(part)) {
    o.print(section.header);
    const g = await o.send({ method: 'GET', resource: section.resource });
    const got = g.code === '2.05' ? parsePyJson(g.payload) : undefined;
    let prior = got?.ok && got.value instanceof Map ? got.value : initialState(section.resource, o.nodes);
    for (const step of section.steps) {
      o.print(step.sendingLine(`${base}/${section.resource}`));
      const r = await o.send({ method: 'PUT', resource: section.resource, payload: pyJsonDumps(step.payload) });
      o.print(`${section.tag} Response: ${r.payload}`);
      o.print(`${section.tag} Why: ${explain(section.resource, step.payload, r.code, r.payload, prior)}`);
      const next = r.code === '2.04' ? parsePyJson(r.payload) : undefined;
      if (next?.ok && next.value instanceof Map) prior = next.value;
    }
  }
}
