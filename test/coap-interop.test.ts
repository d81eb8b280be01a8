/**
 * Interop with a real third-party CoAP implementation, libcoap (Debian `libcoap3-bin`):
 * its client `coap-client-notls` against our server, and our client against `coap-server-notls`.
 *
 * When a binary is missing these tests FAIL if CI is set (CI installs libcoap3-bin, so a missing
 * binary is a broken CI, not a reason to pass) and are skipped with a message otherwise.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { CoapClient, parseLinks, type CoapRequest, type CoapReply, type ResourceDef } from '../src/transport/coap/index.js';
import { sleep, startServer } from './coap-helpers.js';

function which(bin: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const p = join(dir, bin);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

const CLIENT = which('coap-client-notls');
const SERVER = which('coap-server-notls');

/** Returns the binary's path, or fails (CI) / skips (local) the test. */
function need(t: TestContext, path: string | null, name: string): path is string {
  if (path !== null) return true;
  const msg = `${name} not found on PATH (Debian package libcoap3-bin)`;
  if (process.env.CI) assert.fail(`${msg}: CI must install it (.ci/run)`);
  t.skip(`${msg}; install it to run the interop tests`);
  return false;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** libcoap's client ends some outputs with a newline (e.g. after block-wise transfers). */
const out = (r: RunResult): string => r.stdout.replace(/\n$/, '');

function run(bin: string, args: string[], timeoutMs = 15_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${bin} ${args.join(' ')} timed out; stdout: ${stdout} stderr: ${stderr}`));
    }, timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The test resource set (independent of the lab). */
function resources(): { defs: ResourceDef[]; state: { json: unknown; uploads: Buffer[]; puts: number; counter: number; lastCf?: number } } {
  const state = { json: null as unknown, uploads: [] as Buffer[], puts: 0, counter: 0, lastCf: undefined as number | undefined };
  const big = Buffer.from(Array.from({ length: 3000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(''));
  const defs: ResourceDef[] = [
    {
      path: 'json',
      title: 'a JSON document',
      rt: 'test.json',
      ct: [50],
      observable: true,
      handle(req: CoapRequest): CoapReply {
        if (req.method === 'GET') return { code: '2.05', contentFormat: 50, payload: JSON.stringify({ value: state.json }) };
        if (req.method !== 'PUT') return { code: '4.05' };
        state.puts++;
        if (req.contentFormat !== undefined) state.lastCf = req.contentFormat;
        try {
          state.json = JSON.parse(req.payload.toString('utf8'));
        } catch {
          return { code: '4.00', payload: 'Invalid JSON' };
        }
        return { code: '2.04', contentFormat: 50, payload: JSON.stringify({ status: 'accepted', value: state.json }) };
      },
    },
    { path: 'big', title: 'three thousand letters', ct: [0], handle: (req) => (req.method === 'GET' ? { code: '2.05', contentFormat: 0, payload: big } : { code: '4.05' }) },
    {
      path: 'upload',
      handle(req) {
        if (req.method !== 'PUT' && req.method !== 'POST') return { code: '4.05' };
        state.uploads.push(Buffer.from(req.payload));
        return { code: '2.04', contentFormat: 0, payload: `received ${req.payload.length} bytes` };
      },
    },
    { path: 'counter', rt: 'test.counter', ct: [0], observable: true, handle: () => ({ code: '2.05', contentFormat: 0, payload: `n=${state.counter}` }) },
  ];
  return { defs, state };
}

test('libcoap client → our server: PUT JSON (Content-Format 50), then GET', async (t) => {
  if (!need(t, CLIENT, 'coap-client-notls')) return;
  const { defs, state } = resources();
  const { server, port } = await startServer(defs);
  try {
    const put = await run(CLIENT, ['-m', 'put', '-t', '50', '-e', '{"node":"A","value":1,"timestamp":5}', `coap://127.0.0.1:${port}/json`]);
    assert.equal(put.code, 0, put.stderr);
    assert.deepEqual(JSON.parse(out(put)), { status: 'accepted', value: { node: 'A', value: 1, timestamp: 5 } });
    assert.equal(state.lastCf, 50);
    assert.equal(state.puts, 1);
    const get = await run(CLIENT, [`coap://127.0.0.1:${port}/json`]);
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(JSON.parse(get.stdout), { value: { node: 'A', value: 1, timestamp: 5 } });
    // NON request (-N) gets a NON response
    const non = await run(CLIENT, ['-N', `coap://127.0.0.1:${port}/json`]);
    assert.deepEqual(JSON.parse(non.stdout), { value: { node: 'A', value: 1, timestamp: 5 } });
    // 4.04 for an unknown path, 4.05 for a refused method
    const nf = await run(CLIENT, [`coap://127.0.0.1:${port}/missing`]);
    assert.match(nf.stderr + nf.stdout, /4\.04/);
    const na = await run(CLIENT, ['-m', 'delete', `coap://127.0.0.1:${port}/json`]);
    assert.match(na.stderr + na.stdout, /4\.05/);
  } finally {
    await server.close();
  }
});

// RFC 7641 via libcoap: -s subscribes; we notify a few times while it listens
test('libcoap client → our server: Observe notifications', async (t) => {
  if (!need(t, CLIENT, 'coap-client-notls')) return;
  const { defs, state } = resources();
  const { server, port } = await startServer(defs);
  try {
    const p = run(CLIENT, ['-w', '-s', '3', `coap://127.0.0.1:${port}/counter`]);
    // wait for the registration
    for (let i = 0; i < 100 && server.observerCount('counter') === 0; i++) await sleep(20);
    assert.equal(server.observerCount('counter'), 1);
    for (let i = 1; i <= 4; i++) {
      state.counter = i;
      server.notifyObservers('counter');
      await sleep(200);
    }
    const r = await p;
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    assert.deepEqual(lines, ['n=0', 'n=1', 'n=2', 'n=3', 'n=4']);
  } finally {
    await server.close();
  }
});

// RFC 7959 via libcoap: a response over 1 KiB in Block2 (client-chosen 64-byte and server-chosen 1024-byte
// blocks), and a Block1 upload
test('libcoap client → our server: Block2 response over 1 KiB and Block1 upload', async (t) => {
  if (!need(t, CLIENT, 'coap-client-notls')) return;
  const { defs, state } = resources();
  const { server, port } = await startServer(defs);
  const dir = mkdtempSync(join(tmpdir(), 'coap-interop-'));
  try {
    const want = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const small = await run(CLIENT, ['-b', '64', `coap://127.0.0.1:${port}/big`]);
    assert.equal(small.code, 0, small.stderr);
    assert.ok(out(small) === want, `Block2 with 64-byte blocks: got ${small.stdout.length} bytes`);
    const dflt = await run(CLIENT, [`coap://127.0.0.1:${port}/big`]);
    assert.ok(out(dflt) === want, `Block2 with 1024-byte blocks: got ${dflt.stdout.length} bytes`);

    const body = Buffer.from(Array.from({ length: 5000 }, (_, i) => 33 + (i % 90)));
    const file = join(dir, 'body.bin');
    writeFileSync(file, body);
    const up = await run(CLIENT, ['-b', '64', '-m', 'put', '-f', file, `coap://127.0.0.1:${port}/upload`]);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(out(up), 'received 5000 bytes');
    assert.equal(state.uploads.length, 1, 'the handler ran once, on the reassembled body');
    assert.deepEqual(state.uploads[0], body);
    assert.equal(server.stats().block1States, 0);

    // over the 8192-byte limit: 4.13
    const huge = join(dir, 'huge.bin');
    writeFileSync(huge, Buffer.alloc(9000, 0x41));
    const tooBig = await run(CLIENT, ['-b', '1024', '-m', 'put', '-f', huge, `coap://127.0.0.1:${port}/upload`]);
    assert.match(tooBig.stderr + tooBig.stdout, /4\.13/);
    assert.equal(state.uploads.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  }
});

test('libcoap client → our server: /.well-known/core (RFC 6690)', async (t) => {
  if (!need(t, CLIENT, 'coap-client-notls')) return;
  const { defs } = resources();
  const { server, port } = await startServer(defs);
  try {
    const r = await run(CLIENT, [`coap://127.0.0.1:${port}/.well-known/core`]);
    assert.equal(r.code, 0, r.stderr);
    const links = parseLinks(r.stdout);
    assert.deepEqual(links.map((l) => l.href), ['/json', '/big', '/upload', '/counter']);
    const json = links[0]!;
    assert.equal(json.rt, 'test.json');
    assert.deepEqual(json.ct, [50]);
    assert.equal(json.obs, true);
    assert.equal(json.title, 'a JSON document');
    const filtered = await run(CLIENT, [`coap://127.0.0.1:${port}/.well-known/core?rt=test.counter`]);
    assert.deepEqual(parseLinks(filtered.stdout).map((l) => l.href), ['/counter']);
  } finally {
    await server.close();
  }
});

test('libcoap client → our server over IPv6', async (t) => {
  if (!need(t, CLIENT, 'coap-client-notls')) return;
  const { defs } = resources();
  const { server, port } = await startServer(defs, { host: '::1' });
  try {
    const r = await run(CLIENT, [`coap://[::1]:${port}/counter`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(out(r), 'n=0');
  } finally {
    await server.close();
  }
});

async function startLibcoapServer(bin: string): Promise<{ port: number; proc: ChildProcess }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    const proc = spawn(bin, ['-A', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    const c = new CoapClient({ ackTimeoutMs: 100, maxRetransmit: 2 });
    try {
      await sleep(100);
      await c.request({ method: 'GET', uri: `coap://127.0.0.1:${port}/`, timeoutMs: 2000 });
      return { port, proc };
    } catch {
      proc.kill();
    } finally {
      await c.close();
    }
  }
  throw new Error('coap-server-notls did not start');
}

test('our client → libcoap server: GET, Block1 PUT and Block2 GET of example_data, Observe /time, discovery, ping', async (t) => {
  if (!need(t, SERVER, 'coap-server-notls')) return;
  const { port, proc } = await startLibcoapServer(SERVER);
  const c = new CoapClient({ blockSize: 256 });
  try {
    const base = `coap://127.0.0.1:${port}`;
    const root = await c.request({ method: 'GET', uri: `${base}/` });
    assert.equal(root.code, '2.05');
    assert.match(root.payload.toString(), /libcoap|CoAP/i);
    const body = Buffer.from('0123456789abcdef'.repeat(300)); // 4800 bytes: Block1 out, Block2 back
    const put = await c.request({ method: 'PUT', uri: `${base}/example_data`, payload: body, contentFormat: 0 });
    assert.match(put.code, /^2\.0[14]$/);
    const get = await c.request({ method: 'GET', uri: `${base}/example_data` });
    assert.equal(get.code, '2.05');
    assert.deepEqual(get.payload, body);
    const wk = await c.request({ method: 'GET', uri: `${base}/.well-known/core` });
    const hrefs = parseLinks(wk.payload.toString()).map((l) => l.href);
    assert.ok(hrefs.includes('/time') && hrefs.includes('/example_data'), hrefs.join(' '));
    const seen: number[] = [];
    const ob = await c.observe(`${base}/time`, (r) => seen.push(r.observe ?? -1));
    assert.ok(ob.first.observe !== undefined);
    await sleep(2300);
    await ob.cancel();
    assert.ok(seen.length >= 1, 'libcoap notifies /time every second');
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!);
    await c.ping(base);
  } finally {
    await c.close();
    proc.kill();
  }
});
