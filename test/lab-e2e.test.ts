// The Lab end to end over UDP (SPEC §1): `causeway lab serve` on our CoAP engine, driven by our
// CoAP client, byte for byte against the golden traces; bad input; Observe; discovery.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { CoapClient, CON, Opt, decode, encode, parseLinks, type CoapResponse } from '../src/transport/coap/index.js';
import { runDemo } from '../src/lab/index.js';
import { startLabServer, type RunningLabServer } from '../src/cli/lab-server.js';
import { coapDemoSend } from '../src/cli/lab.js';

const golden = (name: string): string => readFileSync(new URL(`../../testdata/lab/${name}`, import.meta.url), 'utf8');
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

let running: RunningLabServer;
let base: string;
const serverLog: string[] = [];
const client = new CoapClient({ ackTimeoutMs: 500 });

before(async () => {
  running = await startLabServer({ host: '127.0.0.1', port: 0, log: (l) => serverLog.push(l) });
  base = `coap://127.0.0.1:${running.port}`;
});
after(async () => {
  await client.close();
  await running.close();
});

const put = (path: string, payload: string | Buffer, contentFormat?: number): Promise<CoapResponse> =>
  client.request({ method: 'PUT', uri: `${base}/${path}`, payload, timeoutMs: 5000, ...(contentFormat === undefined ? {} : { contentFormat }) });
const get = async (path: string): Promise<string> => (await client.request({ method: 'GET', uri: `${base}/${path}`, timeoutMs: 5000 })).payload.toString();

// runs first: the demos need a fresh server
test('both demo sequences over UDP give the golden responses and server lines', async () => {
  for (const part of ['part1', 'part2'] as const) {
    const out: string[] = [];
    serverLog.length = 0;
    await runDemo(part, { target: base, print: (l) => out.push(l), send: coapDemoSend(client, base, 5000) });
    assert.equal(`${out.join('\n')}\n`.replaceAll(base, 'coap://localhost'), golden(`${part}.expected.txt`));
    const lines = serverLog.filter((l) => !/^\[[A-Z]+\] GET /.test(l));
    assert.equal(`${lines.join('\n')}\n`, golden(`${part}.server-log.txt`));
  }
});

test('bad input over UDP gets 4.xx, never 5.xx, and changes nothing', async () => {
  const names = ['lamport', 'vector', 'eventual', 'causal', 'sequential', 'strong'];
  const state = async (): Promise<string[]> => Promise.all(names.map(get));
  const beforeState = await state();
  const cases: [string, () => Promise<CoapResponse>, string, string | RegExp][] = [
    ['non-JSON', () => put('lamport', '{"node":'), '4.00', 'Invalid JSON'],
    ['JSON list', () => put('vector', '[1,0]'), '4.00', 'request body must be a JSON object, got list'],
    ['wrong-length clock', () => put('causal', '{"node":"A","value":1,"vc":[1,0,0]}'), '4.00', /field "vc" must have exactly 2 entries/],
    ['negative counter', () => put('eventual', '{"node":"A","value":1,"timestamp":-1}'), '4.00', 'field "timestamp" must be a non-negative integer'],
    ['CBOR Content-Format', () => put('strong', '{"node":"A","value":1}', 60), '4.15', /Content-Format 60/],
    ['DELETE', () => client.request({ method: 'DELETE', uri: `${base}/sequential`, timeoutMs: 5000 }), '4.05', /DELETE not allowed/],
    // RFC 7959 §2.9.3: a body above the limit gets 4.13 (the client uploads it block-wise)
    ['9000-byte body', () => put('eventual', JSON.stringify({ node: 'A', timestamp: 9, value: 'x'.repeat(9000) })), '4.13', /.*/],
  ];
  for (const [name, send, code, payload] of cases) {
    const r = await send();
    assert.equal(r.code, code, name);
    if (typeof payload === 'string') assert.equal(r.payload.toString(), payload, name);
    else assert.match(r.payload.toString(), payload, name);
  }
  assert.deepEqual(await state(), beforeState);
  // and it keeps serving
  assert.equal((await put('strong', '{"node":"A","value":"ok","op_id":100}')).code, '2.04');
});

test('a retransmitted CON PUT is answered from the dedup cache, not applied twice', async () => {
  // RFC 7252 §4.5: same message ID from the same endpoint → same response, applied once
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  try {
    const start = JSON.parse(await get('lamport')) as { server_lamport: number };
    const msg = encode({
      type: CON, code: 3, messageId: 4242, token: Buffer.from([1, 2, 3, 4]),
      options: [{ number: Opt.URI_PATH, value: Buffer.from('lamport') }],
      payload: Buffer.from('{"node":"R","lamport":0,"value":1}'),
    });
    const replies: string[] = [];
    for (let i = 0; i < 2; i++) {
      sock.send(msg, running.port, '127.0.0.1');
      const [buf] = (await once(sock, 'message')) as [Buffer];
      replies.push(decode(buf).payload.toString());
    }
    assert.equal(replies[0], `{"server_lamport": ${start.server_lamport + 1}}`);
    assert.equal(replies[1], replies[0]);
    assert.equal(await get('lamport'), `{"server_lamport": ${start.server_lamport + 1}}`);
  } finally {
    sock.close();
  }
});

test('Observe on /lamport: a PUT notifies the observer with the new state', async () => {
  // RFC 7641 §4.2: a notification on every state change
  const seen: string[] = [];
  let notified: () => void = () => {};
  const got = new Promise<void>((r) => (notified = r));
  const obs = await client.observe(`${base}/lamport`, (res) => {
    seen.push(res.payload.toString());
    notified();
  });
  try {
    assert.equal(obs.first.code, '2.05');
    assert.notEqual(obs.first.observe, undefined);
    const cur = JSON.parse(obs.first.payload.toString()) as { server_lamport: number };
    const r = await put('lamport', `{"node":"O","lamport":${cur.server_lamport + 10},"value":null}`);
    await got;
    assert.deepEqual(seen, [r.payload.toString()]);
    assert.equal(seen[0], `{"server_lamport": ${cur.server_lamport + 11}}`);
  } finally {
    await obs.cancel();
  }
});

test('GET returns the state; /.well-known/core lists the six resources', async () => {
  const g = await client.request({ method: 'GET', uri: `${base}/causal`, timeoutMs: 5000 });
  assert.equal(g.code, '2.05');
  assert.equal(g.contentFormat, 50);
  assert.match(g.payload.toString(), /^\{"model": "causal", "server_value": /);
  const wk = await client.request({ method: 'GET', uri: `${base}/.well-known/core`, timeoutMs: 5000 });
  assert.equal(wk.contentFormat, 40);
  // RFC 6690: rt, ct and obs per resource
  const links = parseLinks(wk.payload.toString());
  for (const name of ['lamport', 'vector', 'eventual', 'causal', 'sequential', 'strong']) {
    const l = links.find((x) => x.href === `/${name}`);
    assert.ok(l, name);
    assert.equal(l.rt, `causeway.lab.${name}`);
    assert.deepEqual(l.ct, [50]);
    assert.equal(l.obs, true);
  }
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('the CLI: `lab serve --port 0` prints its port, `lab demo part2` matches the golden, SIGTERM stops it', async () => {
  const srv = spawn(process.execPath, [MAIN, 'lab', 'serve', '--host', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  srv.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    while (!/listening on coap:\/\/127\.0\.0\.1:(\d+)\n/.test(out)) {
      const [, exited] = await Promise.race([once(srv.stdout, 'data').then(() => [0, false]), once(srv, 'exit').then(() => [0, true])]);
      assert.equal(exited, false, `server exited early: ${out}`);
    }
    const port = /listening on coap:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1];
    const target = `coap://127.0.0.1:${port}`;
    const demo = await run(['lab', 'demo', 'part2', '--target', target]);
    assert.equal(demo.code, 0, demo.stderr);
    assert.equal(demo.stdout.replaceAll(target, 'coap://localhost'), golden('part2.expected.txt'));
    const done = once(srv, 'exit');
    srv.kill('SIGTERM');
    const [code] = (await done) as [number | null];
    assert.equal(code, 0);
    assert.match(out, /stopped \(SIGTERM\)/);
    assert.match(out, /\[STRONG\] From A: IGNORE value=X-again, op_id=1, last_op_id=2/);
  } finally {
    if (srv.exitCode === null) srv.kill('SIGKILL');
  }
});

test('the CLI: demo against a silent target exits 1 with a clear message', async () => {
  // a bound socket that never answers
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  try {
    const r = await run(['lab', 'demo', 'part1', '--target', `coap://127.0.0.1:${sock.address().port}`, '--timeout', '300']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no response from coap:\/\/127\.0\.0\.1:\d+ within 300 ms/);
  } finally {
    sock.close();
  }
});
