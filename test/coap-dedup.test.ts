/** The typed-array duplicate cache against a plain reference model (RFC 7252 §4.5 bookkeeping). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DedupCache, ipv4ToUint } from '../src/transport/coap/dedup.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
test('fast-check seed', () => {
  console.log(`fast-check seed: ${SEED} (replay with FC_SEED=${SEED})`);
});

test('ipv4ToUint', () => {
  assert.equal(ipv4ToUint('127.0.0.1'), 0x7f000001);
  assert.equal(ipv4ToUint('255.255.255.255'), 0xffffffff);
  for (const bad of ['::1', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '', '1.2.3.4a', '0001.1.1.1']) assert.equal(ipv4ToUint(bad), -1, bad);
});

type Op = { kind: 'add'; addr: number; port: number; mid: number; len: number } | { kind: 'tick'; ms: number };

// reference: FIFO of entries bounded by count, bytes of side replies, and lifetime
test('property: DedupCache behaves like a FIFO map bounded by entries, bytes and lifetime', () => {
  const addrs = ['10.0.0.1', '10.0.0.2', '::1', 'fe80::1%eth0', '::ffff:10.0.0.1'];
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('add' as const), addr: fc.nat(addrs.length - 1), port: fc.constantFrom(5683, 40000, 1), mid: fc.nat(6), len: fc.oneof(fc.constant(-1), fc.nat(40), fc.integer({ min: 100, max: 300 })) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.nat(60) }) },
  );
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 200 }), fc.integer({ min: 1, max: 12 }), (ops, maxEntries) => {
      const maxBytes = 32 * maxEntries + 500; // inline cells of 32 bytes, 500 bytes on the side
      const c = new DedupCache({ maxEntries, maxBytes, lifetimeMs: 100, inlineBytes: 32 });
      assert.equal(c.sideLimit, 500);
      const model: { key: string; reply: Buffer | null; exp: number }[] = [];
      let now = 0;
      const sideBytes = (): number => model.reduce((n, e) => n + (e.reply && e.reply.length > 32 ? e.reply.length : 0), 0);
      for (const op of ops) {
        if (op.kind === 'tick') {
          now += op.ms;
          c.expire(now);
          while (model.length > 0 && model[0]!.exp <= now) model.shift();
        } else {
          const address = addrs[op.addr]!;
          const key = `${address}|${op.port}|${op.mid}`;
          const slot = c.find(address, op.port, op.mid);
          const m = model.find((e) => e.key === key);
          assert.equal(slot >= 0, m !== undefined, `presence of ${key}`);
          if (m) {
            assert.deepEqual(c.reply(slot), m.reply);
            continue;
          }
          const reply = op.len < 0 ? null : Buffer.alloc(op.len, op.mid + 1);
          c.add(address, op.port, op.mid, reply, now);
          model.push({ key, reply, exp: now + 100 });
          if (model.length > maxEntries) model.shift();
          while (sideBytes() > 500 && model.length > 1) model.shift();
        }
        assert.equal(c.size, model.length);
        assert.equal(c.bytes, model.reduce((n, e) => n + (e.reply?.length ?? 0), 0));
      }
      // everything the model holds is found, everything else is not
      for (const e of model) {
        const [a, p, mid] = e.key.split('|');
        assert.ok(c.find(a!, Number(p), Number(mid)) >= 0);
      }
    }),
    { seed: SEED, numRuns: 400 },
  );
});

test('DedupCache: many entries, index stays consistent through wrap-around', () => {
  const c = new DedupCache({ maxEntries: 1000, maxBytes: 1 << 20, lifetimeMs: 1e9 });
  for (let i = 0; i < 50_000; i++) {
    const addr = `10.0.${(i >> 8) & 255}.${i & 255}`;
    assert.equal(c.find(addr, 5683, i & 0xffff), -1);
    c.add(addr, 5683, i & 0xffff, Buffer.from([i & 255]), 0);
  }
  assert.equal(c.size, 1000);
  for (let i = 49_000; i < 50_000; i++) {
    const s = c.find(`10.0.${(i >> 8) & 255}.${i & 255}`, 5683, i & 0xffff);
    assert.ok(s >= 0, `entry ${i}`);
    assert.deepEqual(c.reply(s), Buffer.from([i & 255]));
  }
  assert.equal(c.find('10.0.0.0', 5683, 0), -1);
});
