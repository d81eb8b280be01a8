import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpLoad, parseResponse } from './http-load.js';

// RFC 9112 §6: a body is delimited by Content-Length or by chunked transfer coding.
test('parseResponse: Content-Length and chunked bodies, and incomplete input', () => {
  const cl = Buffer.from('HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200');
  const r = parseResponse(cl);
  assert.equal(r?.res.status, 201);
  assert.equal(r?.res.body.toString(), 'hello');
  assert.equal(r?.length, cl.length - 'HTTP/1.1 200'.length);
  assert.equal(parseResponse(cl.subarray(0, 40)), null);
  const ch = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
  const c = parseResponse(ch);
  assert.equal(c?.res.body.toString(), 'abcde');
  assert.equal(c?.length, ch.length);
  assert.equal(parseResponse(ch.subarray(0, ch.length - 2)), null);
  assert.throws(() => parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')), /chunk size/);
});

test('httpLoad: counts 2xx answers (both framings) and errors, and hands bodies to onOk', async () => {
  let seen = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen++;
      if (req.url === '/bad') {
        res.writeHead(400, { 'content-length': '3' }).end('bad');
      } else if (seen % 2 === 0) {
        res.write(`echo:${body}`); // no length: chunked
        res.end();
      } else {
        res.writeHead(200, { 'content-length': String(5 + body.length) }).end(`echo:${body}`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const bodies: string[] = [];
  const r = await httpLoad({
    urls: [url],
    concurrency: 4,
    durationMs: 300,
    make: (n) => (n % 5 === 4 ? { method: 'GET', path: '/bad', body: '' } : { method: 'PUT', path: `/k${n}`, body: `"v${n}"` }),
    onOk: (n, _t, body) => bodies.push(`${n}:${body}`),
  });
  server.close();
  assert.ok(r.requests > 10, `only ${r.requests} requests`);
  assert.equal(r.requests + r.errors, seen);
  assert.ok(r.errors > 0 && r.errors <= Math.ceil(seen / 5) + 4);
  assert.equal(bodies.length, r.requests);
  for (const b of bodies) {
    const [n, body] = b.split(':echo:');
    assert.equal(body, `"v${n}"`);
  }
});
