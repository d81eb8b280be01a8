import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { formatPercent, parseDuration, parsePercent, parseTimeout, registerChaos, runChaos, type ChaosAction } from '../src/cli/chaos.js';
import { MAIN } from './support/cluster.js';
import { mountAdminApi, type AdminTarget } from '../src/transport/http/admin-api.js';
import type { PeerFault } from '../src/transport/peer/peer-network.js';

const SECRET = 'chaos-cli-test-secret-0123';
const IDS = ['node1', 'node2', 'node3'];

/** A node's admin surface without a node behind it: records the faults the CLI sets. */
class FakeHost implements AdminTarget {
  readonly nodes = IDS;
  running = true;
  readonly links = new Map<string, PeerFault>();
  constructor(readonly nodeId: string) {}
  get network(): { fault(peer: string): PeerFault | null } | null {
    return this.running ? { fault: (p) => this.links.get(p) ?? null } : null;
  }
  setFault(peer: string, fault: PeerFault | null): void {
    if (fault) this.links.set(peer, fault);
    else this.links.delete(peer);
  }
  healAll(): void {
    this.links.clear();
  }
  async crash(): Promise<boolean> {
    const changed = this.running;
    this.running = false;
    return changed;
  }
  async restart(): Promise<boolean> {
    const changed = !this.running;
    this.running = true;
    return changed;
  }
}

let dir = '';
let config = '';
let wrongSecret = '';
const hosts = new Map<string, FakeHost>();
const apps: FastifyInstance[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'causeway-chaos-cli-'));
  const nodes = [];
  for (const id of IDS) {
    const host = new FakeHost(id);
    const app = Fastify();
    mountAdminApi(app, host, { secret: SECRET });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    hosts.set(id, host);
    apps.push(app);
    nodes.push({ id, host: '127.0.0.1', httpPort: port, coapPort: 0, peerPort: 1 });
  }
  config = join(dir, 'cluster.json');
  writeFileSync(config, JSON.stringify({ model: 'causal', secret: SECRET, dataDir: dir, nodes }));
  wrongSecret = join(dir, 'wrong.json');
  writeFileSync(wrongSecret, JSON.stringify({ model: 'causal', secret: 'not-the-cluster-secret-000', dataDir: dir, nodes }));
});

after(async () => {
  for (const app of apps) await app.close();
  rmSync(dir, { recursive: true, force: true });
});

function io() {
  const out: string[] = [];
  const err: string[] = [];
  const codes: number[] = [];
  return { out, err, codes, io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), exit: (c: 0 | 1 | 2) => void codes.push(c) } };
}

const faultsOf = (id: string): Record<string, PeerFault> => Object.fromEntries((hosts.get(id) as FakeHost).links);

async function chaos(action: ChaosAction, cfg = config) {
  const c = io();
  const code = await runChaos(action, { config: cfg, timeoutMs: 3000 }, c.io);
  return { code, out: c.out.join(''), err: c.err.join('') };
}

test('durations and percentages', () => {
  assert.equal(parseDuration('50ms'), 50);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('0'), 0);
  for (const bad of ['50', '-5ms', 'fast', '2h', '61s', '']) assert.throws(() => parseDuration(bad), /bad duration/, bad);
  assert.equal(parsePercent('10%'), 0.1);
  assert.equal(parsePercent('0.5%'), 0.005);
  assert.equal(parsePercent('0.25'), 0.25);
  assert.equal(parsePercent('100%'), 1);
  for (const bad of ['101%', '-1%', '2', 'lots', '10 %']) assert.throws(() => parsePercent(bad), /bad loss rate/, bad);
  // --timeout: whole milliseconds, at least one (AbortSignal.timeout takes no fraction, and 0 always fails)
  assert.equal(parseTimeout('10s'), 10_000);
  assert.equal(parseTimeout('0.5ms'), 1);
  assert.throws(() => parseTimeout('0'), /bad --timeout "0": at least 1ms/);
  // A rate is shown as precisely as it was given: 0.001% is not "0%".
  assert.deepEqual([formatPercent(0.1), formatPercent(0.00001), formatPercent(1 / 3)], ['10%', '0.001%', '33.3333%']);
});

test('partition A B sets the fault on both sides; --oneway only on A\'s outgoing link; heal A B clears both', async () => {
  let r = await chaos({ kind: 'partition', a: 'node1', b: 'node3', oneway: false });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(faultsOf('node1'), { node3: { partition: true } });
  assert.deepEqual(faultsOf('node3'), { node1: { partition: true } });
  assert.match(r.out, /node1: link node1 → node3 partitioned\nnode3: link node3 → node1 partitioned\n/);
  r = await chaos({ kind: 'partition', a: 'node2', b: 'node1', oneway: true });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(faultsOf('node2'), { node1: { oneway: 'out' } });
  assert.deepEqual(faultsOf('node1'), { node3: { partition: true } }, 'the one-way fault is set on A only');
  r = await chaos({ kind: 'heal', a: 'node3', b: 'node1' });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual([faultsOf('node1'), faultsOf('node3')], [{}, {}]);
  assert.deepEqual(faultsOf('node2'), { node1: { oneway: 'out' } });
  r = await chaos({ kind: 'heal' });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(faultsOf('node2'), {});
});

test('delay and loss apply to A\'s outgoing link to B and combine; status lists them', async () => {
  assert.equal((await chaos({ kind: 'delay', a: 'node1', b: 'node2', ms: 50 })).code, 0);
  assert.equal((await chaos({ kind: 'loss', a: 'node1', b: 'node2', rate: 0.1 })).code, 0);
  assert.deepEqual(faultsOf('node1'), { node2: { delayMs: 50, lossRate: 0.1 } });
  assert.deepEqual(faultsOf('node2'), {});
  const s = await chaos({ kind: 'status' });
  assert.equal(s.code, 0);
  assert.match(s.out, /^node1: running; node2: delay 50 ms, loss 10%\nnode2: running; no faults\nnode3: running; no faults\n$/);
  await chaos({ kind: 'delay', a: 'node1', b: 'node2', ms: 0 });
  await chaos({ kind: 'loss', a: 'node1', b: 'node2', rate: 0 });
  assert.deepEqual(faultsOf('node1'), {});
});

test('crash and restart; doing either twice says nothing changed', async () => {
  const r = await chaos({ kind: 'crash', a: 'node2' });
  assert.equal(r.code, 0);
  assert.equal(r.out, 'node2: node2 crashed (in-memory state lost)\n');
  assert.equal(hosts.get('node2')?.running, false);
  assert.equal((await chaos({ kind: 'crash', a: 'node2' })).out, 'node2: already crashed: nothing changed\n');
  assert.match((await chaos({ kind: 'status' })).out, /node2: CRASHED; no faults/);
  const back = await chaos({ kind: 'restart', a: 'node2' });
  assert.deepEqual([back.code, back.out], [0, 'node2: node2 restarted from disk\n']);
  assert.equal(hosts.get('node2')?.running, true);
  assert.equal((await chaos({ kind: 'restart', a: 'node2' })).out, 'node2: already running: nothing changed\n');
});

test('a loss rate below 0.01% is set and shown as given', async () => {
  const r = await chaos({ kind: 'loss', a: 'node1', b: 'node3', rate: parsePercent('0.001%') });
  assert.equal(r.out, 'node1: node1 → node3 loses 0.001% of messages\n');
  assert.match((await chaos({ kind: 'status' })).out, /node1: running; node3: loss 0\.001%\n/);
  await chaos({ kind: 'loss', a: 'node1', b: 'node3', rate: 0 });
  assert.deepEqual(faultsOf('node1'), {});
});

// Exit codes (src/cli/chaos.ts): 2 is bad usage, also when commander finds it (an unknown option
// such as a negative duration, a missing argument, an unknown subcommand); 1 would read as "a node
// refused". The same holds for every command (src/cli/main.ts).
test('the causeway CLI: usage errors found by commander exit 2', () => {
  const cases: Array<[string[], RegExp]> = [
    [['chaos', 'delay', 'node1', 'node2', '-5ms', '--config', config], /unknown option '-5ms'/],
    [['chaos', 'crash', '--config', config], /missing required argument 'a'/],
    [['chaos', 'bogus'], /unknown command 'bogus'/],
    [['chaos', 'status', '--config', config, '--timeout', '0'], /bad --timeout "0": at least 1ms/],
    [['check', 'history.jsonl'], /required option '--model <model>' not specified/],
  ];
  for (const [args, re] of cases) {
    const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 2, `causeway ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
  assert.ok([...hosts.values()].every((h) => h.running && h.links.size === 0), 'nothing changed');
  assert.equal(spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8' }).status, 0);
});

test('usage errors exit 2 with a clear message and change nothing', async () => {
  const cases: Array<[ChaosAction, RegExp, string?]> = [
    [{ kind: 'crash', a: 'node9' }, /unknown node "node9" \(nodes: node1, node2, node3\)/],
    [{ kind: 'partition', a: 'node1', b: 'node1', oneway: false }, /two different nodes/],
    [{ kind: 'heal', a: 'node1' }, /heal takes two nodes/],
    [{ kind: 'crash', a: 'node1' }, /cannot read config/, join(dir, 'missing.json')],
  ];
  for (const [action, re, cfg] of cases) {
    const r = await chaos(action, cfg);
    assert.equal(r.code, 2);
    assert.match(r.err, re);
  }
  assert.ok([...hosts.values()].every((h) => h.running && h.links.size === 0));
});

test('a wrong secret is refused by every node (exit 1, 401) and changes nothing', async () => {
  const r = await chaos({ kind: 'partition', a: 'node1', b: 'node2', oneway: false }, wrongSecret);
  assert.equal(r.code, 1);
  assert.match(r.err, /node1: FAILED \(link node1 → node2 partitioned\): 401 unauthorized: bad Causeway-Admin signature/);
  assert.match(r.err, /node2: FAILED/);
  assert.deepEqual([faultsOf('node1'), faultsOf('node2')], [{}, {}]);
});

test('registerChaos: arguments parsed by commander; bad duration and percentage exit 2', async () => {
  const run = async (args: string[]) => {
    const c = io();
    const program = new Command().exitOverride();
    registerChaos(program, c.io);
    await program.parseAsync(['chaos', ...args], { from: 'user' });
    return { codes: c.codes, out: c.out.join(''), err: c.err.join('') };
  };
  let r = await run(['delay', 'node3', 'node1', '20ms', '--config', config]);
  assert.deepEqual(r.codes, [0]);
  assert.deepEqual(faultsOf('node3'), { node1: { delayMs: 20 } });
  r = await run(['delay', 'node3', 'node1', 'soon', '--config', config]);
  assert.deepEqual(r.codes, [2]);
  assert.match(r.err, /bad duration "soon"/);
  r = await run(['loss', 'node3', 'node1', '150%', '--config', config]);
  assert.deepEqual(r.codes, [2]);
  assert.match(r.err, /bad loss rate "150%"/);
  r = await run(['partition', 'node2', 'node3', '--oneway', '--config', config]);
  assert.deepEqual(r.codes, [0]);
  assert.deepEqual(faultsOf('node2'), { node3: { oneway: 'out' } });
  r = await run(['heal', '--config', config]);
  assert.deepEqual(r.codes, [0]);
  assert.deepEqual([faultsOf('node2'), faultsOf('node3')], [{}, {}]);
});

test('an unreachable node: exit 1 naming it', async () => {
  const gone = join(dir, 'gone.json');
  writeFileSync(gone, JSON.stringify({ secret: SECRET, dataDir: dir, nodes: [{ id: 'n1', host: '127.0.0.1', httpPort: 1, coapPort: 0, peerPort: 2 }] }));
  const r = await chaos({ kind: 'crash', a: 'n1' }, gone);
  assert.equal(r.code, 1);
  assert.match(r.err, /n1: FAILED \(n1 crashed \(in-memory state lost\)\): cannot reach http:\/\/127\.0\.0\.1:1/);
});
