// `causeway cluster` (SPEC §2): one child per node, every endpoint printed, log lines prefixed with
// the node name, Ctrl-C stops every node and leaves data intact, and the next run resumes from it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_PROCESS_FLAGS } from '../src/cli/node-flags.js';
import { eventually, freePortRange, http, MAIN } from './support/cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'causeway-cmd-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Pids of the processes whose parent is `pid` (Linux /proc). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

/** Command lines of the processes whose parent is `pid`. */
function childCommandLines(pid: number): string[][] {
  const out: string[][] = [];
  for (const child of childPids(pid)) {
    try {
      out.push(readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0').filter((a) => a !== ''));
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

async function runCluster(ports: number[], body: (out: () => string, pid: number) => Promise<void>): Promise<{ code: number | null; out: string }> {
  const p = spawn(process.execPath, [MAIN, 'cluster', '--nodes', '3', '--data', join(dir, 'data'), '--http-port', String(ports[0]), '--coap-port', String(ports[1]), '--peer-port', String(ports[2])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await body(() => out, p.pid as number);
  } finally {
    p.kill('SIGINT'); // Ctrl-C
  }
  const code = await new Promise<number | null>((r) => p.once('exit', r));
  return { code, out };
}

test('cluster: endpoints, prefixed logs, Ctrl-C stops all, a rerun resumes from disk', async () => {
  // three consecutive free ports for each of HTTP, CoAP and peer links (other test files run alongside)
  const ports: number[] = [];
  while (ports.length < 3) {
    const p = await freePortRange(3);
    if (ports.every((q) => Math.abs(q - p) >= 3)) ports.push(p); // ranges must not overlap
  }
  const url = (i: number): string => `http://127.0.0.1:${(ports[0] as number) + i}`;
  const first = await runCluster(ports, async (out, pid) => {
    await eventually(async () => /node3 +\| .*node3 ready/.test(out()) && /node1 +\| .*node1 ready/.test(out()) && /node2 +\| .*node2 ready/.test(out()), 20_000, 'three nodes ready');
    // every node runs with the flags of src/cli/node-flags.ts (garbage collection tuned for latency)
    const nodes = childCommandLines(pid).filter((argv) => argv.includes('node') && argv.includes('--id'));
    assert.equal(nodes.length, 3, JSON.stringify(childCommandLines(pid)));
    assert.ok(NODE_PROCESS_FLAGS.includes('--single-threaded-gc'));
    for (const argv of nodes) for (const flag of NODE_PROCESS_FLAGS) assert.ok(argv.includes(flag), `${flag} missing: ${argv.join(' ')}`);
    const w = await http('PUT', `${url(0)}/v1/kv/kept`, JSON.stringify('across restarts'));
    assert.equal(w.status, 200);
    const r = await http('GET', `${url(2)}/v1/kv/kept`, undefined, { 'causeway-context': w.context! });
    assert.equal(r.body['value'], 'across restarts');
  });
  assert.equal(first.code, 0, first.out);
  for (let i = 0; i < 3; i++) assert.match(first.out, new RegExp(`node${i + 1} +http://127\\.0\\.0\\.1:${(ports[0] as number) + i} +coap://127\\.0\\.0\\.1:${(ports[1] as number) + i}`));
  assert.match(first.out, /every node stopped/);
  for (const n of ['node1', 'node2', 'node3']) assert.match(first.out, new RegExp(`${n} +\\| .*stopped; data is on disk`));

  const second = await runCluster(ports, async (out) => {
    await eventually(async () => (out().match(/ ready/g) ?? []).length >= 3, 20_000, 'three nodes ready again');
    for (let i = 0; i < 3; i++) {
      const r = await http('GET', `${url(i)}/v1/kv/kept`);
      assert.equal(r.body['value'], 'across restarts', `node${i + 1} resumed from disk`);
    }
  });
  assert.equal(second.code, 0, second.out);
});

test('cluster: a model nodes cannot run yet, or a bad option, exits 2 before anything is written', () => {
  const data = join(dir, 'refused');
  for (const [args, msg] of [
    [['--model', 'strong'], /model "strong" is not available yet in a cluster: use --model causal/],
    [['--model', 'magic'], /--model must be one of eventual, causal, sequential, strong/],
    [['--nodes', '0'], /--nodes must be an integer from 1 to 64/],
  ] as const) {
    const r = spawnSync(process.execPath, [MAIN, 'cluster', '--data', data, ...args], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, msg);
    assert.equal(existsSync(data), false, 'no data directory created');
  }
});

// A data directory's cluster.json is checked before anything is written: a cluster of another
// size is refused (a node added later would never get the writes already compacted away), a
// config that does not parse is refused rather than replaced (with its secret), and a path that
// cannot be written gets a message, not a stack trace.
test('cluster: another size, a broken cluster.json or an unwritable data path: exit 2, nothing written', () => {
  const data = join(dir, 'sized');
  mkdirSync(data);
  const config = join(data, 'cluster.json');
  const three = JSON.stringify({ model: 'causal', secret: 'a-secret-of-some-length', dataDir: data, nodes: [1, 2, 3].map((i) => ({ id: `node${i}`, host: '127.0.0.1', httpPort: 1, coapPort: 1, peerPort: i })) });
  const cases: Array<[string, string[], RegExp]> = [
    [three, ['--nodes', '4'], /holds a 3-node cluster: use --nodes 3, or a new --data directory for a cluster of 4/],
    [three, ['--nodes', '2'], /holds a 3-node cluster: use --nodes 3/],
    ['{"nodes": [', [], /cluster\.json is not a valid cluster config \(.*\): fix it, or remove it to start a new cluster/],
    ['{"secret": "short", "nodes": []}', [], /is not a valid cluster config .*secret: at least 16 characters/],
  ];
  for (const [text, args, msg] of cases) {
    writeFileSync(config, text);
    const r = spawnSync(process.execPath, [MAIN, 'cluster', '--data', data, ...args], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, msg);
    assert.equal(readFileSync(config, 'utf8'), text, 'cluster.json left as it was');
    assert.deepEqual(readdirSync(data), ['cluster.json'], 'no node directory made');
  }
  const underFile = join(config, 'sub');
  const r = spawnSync(process.execPath, [MAIN, 'cluster', '--data', underFile], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /^causeway cluster: cannot write .*sub\/cluster\.json: ENOTDIR/m);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

// A second `causeway cluster` on a running cluster's data is refused before it rewrites the
// config; and when the cluster process dies, even by kill -9, its nodes stop (the IPC channel).
test('cluster: a second run on a running cluster is refused; kill -9 of the cluster stops its nodes', async () => {
  const ports: number[] = [];
  while (ports.length < 3) {
    const base = await freePortRange(3);
    if (ports.every((q) => Math.abs(q - base) >= 3)) ports.push(base); // ranges must not overlap
  }
  const data = join(dir, 'data');
  const p = spawn(process.execPath, [MAIN, 'cluster', '--nodes', '3', '--data', data, '--http-port', String(ports[0]), '--coap-port', String(ports[1]), '--peer-port', String(ports[2])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await eventually(async () => (out.match(/node\d +\| .*node\d ready/g) ?? []).length === 3, 20_000, 'three nodes ready', () => out);
    const config = readFileSync(join(data, 'cluster.json'), 'utf8');
    const second = spawnSync(process.execPath, [MAIN, 'cluster', '--nodes', '3', '--data', data, '--http-port', '1'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(second.status, 2, second.stdout + second.stderr);
    assert.match(second.stderr, /a cluster is already running from .* \(node1 is process \d+\): stop it first/);
    assert.equal(readFileSync(join(data, 'cluster.json'), 'utf8'), config, 'the running cluster\'s config is left as it was');
    const nodes = childCommandLines(p.pid as number);
    assert.equal(nodes.length, 3);
    const pids = childPids(p.pid as number);
    p.kill('SIGKILL');
    await eventually(async () => pids.every((pid) => !existsSync(`/proc/${pid}`) || /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))), 15_000, 'every node stops once the cluster process is gone');
    // Their data was closed cleanly: a new run starts from it.
    const again = spawnSync(process.execPath, [MAIN, 'cluster', '--nodes', '5', '--data', data], { encoding: 'utf8', timeout: 20_000 });
    assert.match(again.stderr, /holds a 3-node cluster/, 'no node holds the data dir any more: the size check is what refuses');
  } finally {
    p.kill('SIGKILL');
  }
});
