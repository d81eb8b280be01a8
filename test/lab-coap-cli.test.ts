// `causeway coap get|put|delete|observe` (SPEC §1 CLI) against an in-process lab server.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startLabServer, type RunningLabServer } from '../src/cli/lab-server.js';
import { formatResponse } from '../src/cli/coap.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
let running: RunningLabServer;
let base: string;

before(async () => {
  running = await startLabServer({ host: '127.0.0.1', port: 0 });
  base = `coap://127.0.0.1:${running.port}`;
});
after(async () => {
  await running.close();
});

function run(args: string[], onStdout?: (all: string) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    onStdout?.(stdout);
  });
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('put prints code, Content-Format and payload; exit 0 on 2.xx', async () => {
  const r = await run(['coap', 'put', `${base}/eventual`, '--payload', '{"node":"A","value":"v","timestamp":3}']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '2.04 Changed\nContent-Format: 50 (application/json)\n{"model": "eventual", "status": "accepted", "server_value": "v", "server_timestamp": 3}\n');
});

test('a 4.xx answer exits 1; --content-format is sent', async () => {
  const r = await run(['coap', 'put', `${base}/eventual`, '--payload', '{}', '--content-format', '0']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^4\.15 Unsupported Content-Format\n/);
  const d = await run(['coap', 'delete', `${base}/eventual`, '--non']);
  assert.equal(d.code, 1);
  assert.match(d.stdout, /^4\.05 Method Not Allowed\n/);
});

test('a bad URI is bad usage: exit 2 naming it', async () => {
  for (const [uri, msg] of [
    ['http://127.0.0.1:5683/x', /^causeway coap: not a coap:\/\/ URI/],
    ['coap://127.0.0.1:99999/x', /^causeway coap: bad port/],
  ] as const) {
    const r = await run(['coap', 'get', uri]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, msg);
  }
});

test('observe --count 2 prints the registration and one notification', async () => {
  let putDone: Promise<unknown> | undefined;
  const r = await run(['coap', 'observe', `${base}/strong`, '--count', '2'], (all) => {
    // once the registration response is out, change the state
    if (putDone === undefined && all.includes('Observe:')) {
      putDone = run(['coap', 'put', `${base}/strong`, '--payload', '{"node":"A","value":"n","op_id":5}']);
    }
  });
  await putDone;
  assert.equal(r.code, 0, r.stderr);
  const blocks = r.stdout.trimEnd().split('\n\n');
  assert.equal(blocks.length, 2);
  assert.match(blocks[0] ?? '', /^2\.05 Content\nContent-Format: 50 \(application\/json\)\nObserve: \d+\n\{"model": "strong", "primary_value": null/);
  assert.match(blocks[1] ?? '', /Observe: \d+\n\{"model": "strong", "primary_value": "n", "backup_value": "n", "last_op_id": 5\}$/);
});

test('formatResponse shows ETag, Max-Age and unknown formats', () => {
  const lines = formatResponse({ code: '2.05', payload: Buffer.from('x'), contentFormat: 11542, etag: Buffer.from([0xab, 0x01]), options: [{ number: 14, value: Buffer.from([1, 0]) }] });
  assert.deepEqual(lines, ['2.05 Content', 'Content-Format: 11542', 'ETag: ab01', 'Max-Age: 256', 'x']);
});
