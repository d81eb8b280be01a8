// A node's file descriptors are its own: the log's segments, LMDB, its peer links. Client HTTP
// connections are capped at half the process's open-files limit (src/cli/fd-limit.ts): beyond it a
// connection is closed as it comes, instead of waiting in the accept queue while the process runs
// out of descriptors; the node goes on serving CoAP and storing writes, and HTTP again once the
// connections go.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { CoapClient } from '../src/transport/coap/client.js';
import { eventually, http, MAIN, TestCluster } from './support/cluster.js';

let c: TestCluster;
let proc: ChildProcess | null = null;
const client = new CoapClient({ ackTimeoutMs: 500 });
after(async () => {
  proc?.kill('SIGKILL');
  client.close();
  await c?.stopAll();
});

test('client connections beyond half the open-files limit are closed as they come; the node keeps working', { timeout: 60_000 }, async () => {
  c = await TestCluster.create(1);
  const n1 = c.node('node1');
  let log = '';
  // Started with a soft limit of 256 open files: 128 client connections at most.
  proc = spawn('bash', ['-c', 'ulimit -n 256 && exec "$0" "$@"', process.execPath, MAIN, 'node', '--id', 'node1', '--config', c.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  await eventually(async () => {
    try {
      return (await fetch(`${n1.http}/v1/status`)).ok;
    } catch {
      return false;
    }
  }, 15_000, 'node1 up', () => log);

  const port = Number(new URL(n1.http).port);
  const socks: Socket[] = [];
  let closedByNode = 0;
  for (let i = 0; i < 400; i++) {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    s.on('close', () => closedByNode++);
    socks.push(s);
  }
  await eventually(async () => closedByNode >= 400 - 128 - 8, 10_000, `connections beyond the cap closed (${closedByNode} so far)`);
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(closedByNode <= 400 - 128 + 8, `the node keeps up to its cap open (${400 - closedByNode} open)`);

  // CoAP and the store go on: a write, and a read of it.
  const put = await client.request({ method: 'PUT', uri: `coap://127.0.0.1:${n1.coapPort}/kv/during`, payload: '"held"', contentFormat: 50 });
  assert.equal(put.code, '2.04');
  const get = await client.request({ method: 'GET', uri: `coap://127.0.0.1:${n1.coapPort}/kv/during` });
  assert.equal(JSON.parse(get.payload.toString())['value'], 'held');

  for (const s of socks) s.destroy();
  await eventually(async () => {
    try {
      return (await http('GET', `${n1.http}/v1/kv/during`)).body['value'] === 'held';
    } catch {
      return false;
    }
  }, 10_000, 'HTTP serves again once the connections are gone', () => log);
  assert.equal(proc.exitCode, null, 'node1 still running');
});
