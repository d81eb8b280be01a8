// `causeway cluster` (SPEC §2): one child per node, every endpoint printed, log lines prefixed with
// the node name, Ctrl-C stops every node and leaves data intact, and the next run resumes from it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_PROCESS_FLAGS } from '../src/cli/node-flags.js';
import { eventually, freePortRange, http, MAIN } from './support/cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'causeway-cmd-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Command lines of the processes whose parent is `pid` (Linux /proc). */
function childCommandLines(pid: number): string[][] {
  const out: string[][] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter((a) => a !== ''));
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
