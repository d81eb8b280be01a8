import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameDecoder, FrameType, encodeFrame, type FrameTypeName } from './frame.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const params = { seed: SEED, numRuns: 200 };
test('fast-check seed', () => {
  console.log(`fast-check seed: ${SEED} (replay with FC_SEED=${SEED})`);
});

const typeNames = Object.keys(FrameType) as FrameTypeName[];
const frameArb = fc.record({
  type: fc.constantFrom(...typeNames),
  body: fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
});

/** Cuts `buf` at the given fractional positions. */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => Math.floor(c * buf.length)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out;
}

test('framing: any frames, cut into any chunks, decode to the same frames in order', () => {
  // length-prefixed framing is independent of how TCP segments the stream
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 20 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }), (frames, cuts) => {
      const wire = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.body)));
      const d = new FrameDecoder(1024);
      const got: { type: FrameTypeName; body: Buffer }[] = [];
      for (const chunk of split(wire, cuts)) {
        d.push(chunk);
        const r = d.drain();
        assert.equal(r.error, null);
        got.push(...r.frames.map((f) => ({ type: f.type, body: Buffer.from(f.body) })));
      }
      assert.deepEqual(got, frames.map((f) => ({ type: f.type, body: f.body })));
      assert.equal(d.bufferedBytes, 0);
    }),
    params,
  );
});

test('framing: a length over the limit fails as soon as the header is complete', () => {
  const d = new FrameDecoder(100);
  d.push(Buffer.from([0, 0, 0]));
  assert.deepEqual(d.next(), { ok: true, frame: null });
  d.push(Buffer.from([101, FrameType.data]));
  assert.deepEqual(d.next(), { ok: false, error: { kind: 'oversize', length: 101, limit: 100 } });
  // failed for good, and holds nothing
  d.push(encodeFrame('ping'));
  assert.equal(d.next().ok, false);
  assert.equal(d.bufferedBytes, 0);
});

test('framing: zero length and unknown types are errors; the limit can change between frames', () => {
  const z = new FrameDecoder(100);
  z.push(Buffer.from([0, 0, 0, 0, 1]));
  assert.deepEqual(z.next(), { ok: false, error: { kind: 'empty-frame' } });
  const u = new FrameDecoder(100);
  u.push(Buffer.from([0, 0, 0, 1, 99]));
  assert.deepEqual(u.next(), { ok: false, error: { kind: 'unknown-type', code: 99 } });
  // a small handshake frame, then a large data frame in the same chunk
  const d = new FrameDecoder(16);
  d.push(Buffer.concat([encodeFrame('welcome', Buffer.alloc(3)), encodeFrame('data', Buffer.alloc(500))]));
  const first = d.next();
  assert.ok(first.ok && first.frame?.type === 'welcome');
  d.setLimit(1000);
  const second = d.next();
  assert.ok(second.ok && second.frame?.type === 'data' && second.frame.body.length === 500);
});
