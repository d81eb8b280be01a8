/**
 * Data-driven traces (etcd-raft style): each testdata/causal/*.txt file is a list of blocks
 *
 *     # optional comment lines
 *     command args...
 *     ----
 *     expected output (no blank lines)
 *
 * separated by blank lines. REWRITE=1 regenerates the expected output in place (review the diff).
 * The cluster runs on the shared in-memory driver (src/protocols/conformance.ts), whose per-node
 * disk receives exactly the persisted StorageOps, so crash/restart are real.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VectorClock } from '../../clocks/vector.js';
import type { NodeId } from '../../core/protocol.js';
import { MemoryCluster, type Output } from '../conformance.js';
import type { KvOp, KvReply } from '../kv-types.js';
import type { CausalCore, CausalOptions } from './core.js';
import { causalFactory } from './factory.js';
import { formatClock, formatEvent, formatMsg, formatValue } from './format.js';
import type { CausalEvent, CausalMsg, CausalWrite } from './types.js';

function findTestdata(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'testdata', 'causal');
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error('testdata/causal not found above the test file');
    dir = up;
  }
}

interface Block {
  comments: string[];
  command: string;
  expected: string;
}

export function parseTrace(text: string, file: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    while (i < lines.length && (lines[i] as string).trim() === '') i++;
    if (i >= lines.length) break;
    const comments: string[] = [];
    while (i < lines.length && (lines[i] as string).startsWith('#')) comments.push(lines[i++] as string);
    const command = (lines[i++] ?? '').trim();
    if (command === '' || command === '----') throw new Error(`${file}:${i}: expected a command`);
    if (lines[i] !== '----') throw new Error(`${file}:${i + 1}: expected ---- after "${command}"`);
    i++;
    const out: string[] = [];
    while (i < lines.length && (lines[i] as string).trim() !== '') out.push(lines[i++] as string);
    blocks.push({ comments, command, expected: out.join('\n') });
  }
  return blocks;
}

function render(blocks: Block[], outputs: string[]): string {
  return blocks.map((b, i) => [...b.comments, b.command, '----', outputs[i]].join('\n')).join('\n\n') + '\n';
}

type NumericOption = Exclude<keyof CausalOptions, 'events' | 'writeBytes'>;

const OPTION_NAMES: Record<string, NumericOption> = {
  'buffer-limit': 'bufferLimit',
  // with it, a write's size is its value's JSON length
  'buffer-bytes': 'bufferBytesLimit',
  'context-wait': 'contextWaitTicks',
  'ack-every': 'ackEveryTicks',
  'resync-after': 'resyncAfterTicks',
  'sync-batch': 'syncBatchSize',
  'pull-timeout': 'pullTimeoutTicks',
  'repair-after': 'repairAfterTicks',
};

function formatReply(node: NodeId, r: KvReply): string {
  if (!r.ok) return `${node}: reply #${r.reqId} failed ${r.reason}: ${r.detail}`;
  switch (r.kind) {
    case 'put':
    case 'delete':
      return `${node}: reply #${r.reqId} ${r.kind} ${r.key} ok clock=${formatClock(r.clock)}`;
    case 'get': {
      const what = r.found ? `= ${formatValue(r.value)}` : 'not found';
      const sib = r.siblings ? ` conflict siblings=[${r.siblings.map((s) => `${s.deleted ? 'tombstone' : formatValue(s.value)} ${formatClock(s.clock)}`).join(', ')}]` : '';
      return `${node}: reply #${r.reqId} get ${r.key} ${what} clock=${formatClock(r.clock)}${sib} context=${formatClock(r.context)}`;
    }
    case 'list':
      return `${node}: reply #${r.reqId} list [${r.keys.join(',')}] context=${formatClock(r.context)}`;
  }
}

/** Which events a trace shows: sends are shown as messages, receives and remote applies are implied. */
function shown(e: CausalEvent): boolean {
  if (e.type === 'send' || e.type === 'receive') return false;
  if (e.type === 'apply') return e.local;
  return true;
}

class Harness {
  cluster: MemoryCluster<CausalMsg, CausalEvent> | null = null;
  reqId = 0;
  lastContext: VectorClock = {};

  get c(): MemoryCluster<CausalMsg, CausalEvent> {
    if (!this.cluster) throw new Error('add-nodes first');
    return this.cluster;
  }

  core(n: NodeId): CausalCore {
    return this.c.core(n) as CausalCore;
  }

  show(out: Output<CausalMsg, CausalEvent>): string[] {
    const lines: string[] = [];
    for (const { event } of out.events) if (shown(event)) lines.push(formatEvent(event));
    for (const { node, reply } of out.replies) {
      if (reply.ok) this.lastContext = reply.context;
      lines.push(formatReply(node, reply));
    }
    for (const s of out.sent) lines.push(`${s.from} -> ${s.to}: ${formatMsg(s.msg)}${s.dropped ? ' (lost)' : ''}`);
    return lines;
  }

  ctxArg(args: string[]): VectorClock | undefined {
    const a = args.find((x) => x.startsWith('ctx='));
    if (a === undefined) return undefined;
    const v = a.slice(4);
    return v === 'last' ? this.lastContext : (JSON.parse(v) as VectorClock);
  }

  submit(node: NodeId, op: KvOp): string[] {
    return this.show(this.c.submit(node, op));
  }

  state(nodes: NodeId[]): string[] {
    const lines: string[] = [];
    for (const n of nodes) {
      if (!this.c.isUp(n)) {
        lines.push(`${n}: down`);
        continue;
      }
      const core = this.core(n);
      const s = core.status();
      lines.push(`${n}: clock=${formatClock(s.clock)} lamport=${s.lamport} buffered=${s.buffered} log=${s.logLength}${s.pausedPeers.length ? ` paused=[${s.pausedPeers.join(',')}]` : ''}`);
      for (const [key, versions] of core.entries()) {
        const vs = versions.map((v) => `${v.deleted ? 'tombstone' : formatValue(v.value)} ${formatClock(v.clock)} L${v.lamport} ${v.origin}`);
        lines.push(`  ${key}: ${vs.join(' | ')}${versions.length > 1 ? ' (conflict)' : ''}`);
      }
      for (const b of core.bufferedWrites()) {
        lines.push(`  buffer: ${b.origin}#${b.seq} ${b.key} ${formatClock(b.clock)} from ${b.from}, waiting for ${b.waitingFor?.node}#${b.waitingFor?.seq}`);
      }
      for (const [p, ps] of Object.entries(s.peers)) {
        if (ps.lag > 0 || Object.keys(ps.acked).length > 0) lines.push(`  peer ${p}: acked=${formatClock(ps.acked)} lag=${ps.lag}`);
      }
      for (const m of this.c.nodes) {
        if (m === n) continue;
        const q = this.c.pending(n, m);
        if (q.length > 0) lines.push(`  in flight to ${m}: ${q.length}`);
      }
    }
    return lines;
  }

  run(command: string): string {
    const [cmd, ...args] = command.split(/\s+/);
    const lines = this.exec(cmd ?? '', args);
    return lines.length === 0 ? 'ok' : lines.join('\n');
  }

  exec(cmd: string, args: string[]): string[] {
    const a = (i: number): string => {
      const v = args[i];
      if (v === undefined) throw new Error(`${cmd}: missing argument ${i + 1}`);
      return v;
    };
    const plain = args.filter((x) => !x.includes('='));
    switch (cmd) {
      case 'add-nodes': {
        const options: Partial<Record<NumericOption, number>> = {};
        for (const x of args.slice(1)) {
          const [k, v] = x.split('=');
          const name = OPTION_NAMES[k ?? ''];
          if (!name) throw new Error(`unknown option ${k}`);
          options[name] = Number(v);
        }
        const writeBytes = options.bufferBytesLimit === undefined ? null : (w: CausalWrite): number => JSON.stringify(w.value)?.length ?? 0;
        this.cluster = new MemoryCluster(causalFactory({ ...options, writeBytes }), MemoryCluster.named(Number(a(0))));
        return [`nodes: ${this.c.nodes.join(' ')}`];
      }
      case 'put': {
        let value: unknown = a(2);
        try {
          value = JSON.parse(a(2));
        } catch {
          // a bare word is a string value
        }
        return this.submit(a(0), { kind: 'put', reqId: ++this.reqId, key: a(1), value, ctx: this.ctxArg(args) });
      }
      case 'delete':
        return this.submit(a(0), { kind: 'delete', reqId: ++this.reqId, key: a(1), ctx: this.ctxArg(args) });
      case 'get':
        return this.submit(a(0), { kind: 'get', reqId: ++this.reqId, key: a(1), ctx: this.ctxArg(args) });
      case 'list':
        return this.submit(a(0), { kind: 'list', reqId: ++this.reqId, prefix: plain[1] ?? '', limit: Number(plain[2] ?? 0), ctx: this.ctxArg(args) });
      case 'deliver': {
        if (this.c.isPaused(a(0), a(1))) return [`link ${a(0)} -> ${a(1)} is paused (backpressure): nothing read`];
        return this.show(this.c.deliver(a(0), a(1), args[2] === undefined ? Infinity : Number(args[2])));
      }
      case 'deliver-all':
        return this.show(this.c.deliverAll());
      case 'drop':
        return [`dropped ${this.c.drop(a(0), a(1), args[2] === undefined ? Infinity : Number(args[2]))} messages ${a(0)} -> ${a(1)}`];
      case 'reorder':
        this.c.reorder(a(0), a(1));
        return [`reversed ${this.c.pending(a(0), a(1)).length} messages ${a(0)} -> ${a(1)}`];
      case 'duplicate':
        this.c.duplicate(a(0), a(1));
        return [`${a(0)} -> ${a(1)} now holds ${this.c.pending(a(0), a(1)).length} messages`];
      case 'partition': {
        const groups: string[][] = [[]];
        for (const x of args) {
          if (x === '|') groups.push([]);
          else (groups[groups.length - 1] as string[]).push(x);
        }
        return this.show(this.c.partition(groups));
      }
      case 'heal':
        return this.show(this.c.heal());
      case 'link-up':
        return this.show(this.c.linkUp(a(0), a(1)));
      case 'link-down':
        return this.show(this.c.linkDown(a(0), a(1)));
      case 'crash':
        return this.show(this.c.crash(a(0)));
      case 'restart':
        return this.show(this.c.restart(a(0)));
      case 'tick': {
        const n = plain[0] !== undefined && /^\d+$/.test(plain[0]) ? Number(plain[0]) : 1;
        const nodes = plain.filter((x) => !/^\d+$/.test(x));
        return this.show(this.c.tick(nodes.length ? nodes : this.c.nodes, n));
      }
      case 'state':
        return this.state(args.length ? args : [...this.c.nodes]);
      case 'pending': {
        const lines: string[] = [];
        for (const f of this.c.nodes) {
          for (const t of this.c.nodes) {
            if (f === t) continue;
            for (const m of this.c.pending(f, t)) lines.push(`${f} -> ${t}: ${formatMsg(m)}`);
          }
        }
        return lines;
      }
      default:
        throw new Error(`unknown command ${cmd}`);
    }
  }
}

const dir = findTestdata();
const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();

test('testdata/causal holds trace files', () => {
  assert.ok(files.length >= 7, `expected the trace files, found ${files.join(', ')}`);
});

for (const f of files) {
  test(`trace ${f}`, () => {
    const path = join(dir, f);
    const blocks = parseTrace(readFileSync(path, 'utf8'), f);
    const h = new Harness();
    const outputs: string[] = [];
    for (const b of blocks) {
      let out: string;
      try {
        out = h.run(b.command);
      } catch (e) {
        out = `error: ${(e as Error).message}`;
      }
      outputs.push(out);
    }
    if (process.env.REWRITE === '1') {
      writeFileSync(path, render(blocks, outputs));
      return;
    }
    blocks.forEach((b, i) => assert.equal(outputs[i], b.expected, `${f}: output of "${b.command}" differs`));
  });
}
