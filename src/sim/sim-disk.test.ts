import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { StorageOp } from '../core/protocol.js';
import { SimDisk } from './sim-disk.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
test('fast-check seed', () => {
  console.log(`fast-check seed: ${SEED} (replay with FC_SEED=${SEED})`);
});

const op: fc.Arbitrary<StorageOp> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), space: fc.constantFrom('log', 'kv', 'meta'), key: fc.string({ maxLength: 3 }), value: fc.integer() }),
  fc.record({ kind: fc.constant('del' as const), space: fc.constantFrom('log', 'kv', 'meta'), key: fc.string({ maxLength: 3 }) }),
);

// ARCHITECTURE.md §1: what a crash keeps is exactly what was persisted; restore() reads each space
// in key order, as a sorted store (LMDB) hands it over — whether or not the key set changed since
// the last read (the disk keeps a space's sorted keys until a key is added or removed).
test('a space reads back as the batches applied in order leave it, in key order, between any batches', () => {
  fc.assert(
    fc.property(fc.array(fc.array(op, { maxLength: 6 }), { maxLength: 60 }), fc.array(fc.boolean(), { maxLength: 60 }), (batches, reads) => {
      const disk = new SimDisk();
      const model = new Map<string, Map<string, unknown>>();
      batches.forEach((batch, i) => {
        disk.applySync(batch);
        for (const o of batch) {
          let s = model.get(o.space);
          if (!s) model.set(o.space, (s = new Map()));
          if (o.kind === 'put') s.set(o.key, o.value);
          else s.delete(o.key);
        }
        if (reads[i] !== true) return;
        for (const space of ['log', 'kv', 'meta', 'none']) {
          const want = [...(model.get(space) ?? new Map<string, unknown>()).entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
          assert.deepEqual([...disk.entries(space)], want);
          assert.equal(disk.size(space), want.length);
          for (const [k, v] of want) assert.equal(disk.get(space, k), v);
        }
      });
      assert.equal(disk.batches, batches.length);
    }),
    { seed: SEED, numRuns: 200 },
  );
});

test('with freeze, persisted values are deep-frozen (a core that mutated one would throw)', () => {
  const disk = new SimDisk({ freeze: true });
  const value = { siblings: [{ clock: { a: 1 } }] };
  disk.applySync([{ kind: 'put', space: 'kv', key: 'x', value }]);
  assert.ok(Object.isFrozen(value) && Object.isFrozen(value.siblings) && Object.isFrozen(value.siblings[0]?.clock));
});

// SimDisk's `queues` option: a log space kept as one queue per origin. Under its contract (a key is
// put at most once until deleted) it reads back exactly the live entries, queue by queue in put
// order, whatever is deleted: the oldest entry of a queue (compaction) or any other one.
test('a queue space reads back its live entries, queue by queue in put order, under any deletes', () => {
  const step = fc.oneof(
    fc.record({ put: fc.constant(true), queue: fc.constantFrom('n1', 'n2', 'n3') }),
    fc.record({ put: fc.constant(false), oldest: fc.boolean(), pick: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.array(fc.array(step, { maxLength: 8 }), { maxLength: 40 }), (batches) => {
      const disk = new SimDisk({ queues: { log: (v) => (v as { q: string }).q } });
      const model: { key: string; q: string; n: number }[] = []; // live entries in put order
      const order: string[] = []; // queues in the order first put to
      let next = 0;
      for (const steps of batches) {
        const batch: StorageOp[] = [];
        for (const st of steps) {
          if (st.put) {
            const key = `k${next++}`;
            if (!order.includes(st.queue)) order.push(st.queue);
            model.push({ key, q: st.queue, n: next });
            batch.push({ kind: 'put', space: 'log', key, value: { q: st.queue, n: next } });
          } else if (model.length > 0) {
            // the oldest entry of some queue, or any live entry, or a key that is not there
            const q = model[st.pick % model.length] as { q: string };
            const victim = st.oldest ? model.find((e) => e.q === q.q) : model[st.pick % model.length];
            const at = model.indexOf(victim as (typeof model)[number]);
            model.splice(at, 1);
            batch.push({ kind: 'del', space: 'log', key: (victim as { key: string }).key });
          } else {
            batch.push({ kind: 'del', space: 'log', key: 'absent' });
          }
        }
        disk.applySync(batch);
        const want = order.flatMap((q) => model.filter((e) => e.q === q).map((e) => [e.key, { q: e.q, n: e.n }]));
        assert.deepEqual([...disk.entries('log')], want);
        assert.equal(disk.size('log'), model.length);
        for (const e of model) assert.deepEqual(disk.get('log', e.key), { q: e.q, n: e.n });
        assert.equal(disk.get('log', 'absent'), undefined);
      }
    }),
    { seed: SEED, numRuns: 300 },
  );
});

test('a queue space keeps only live entries after many oldest-first deletes (its arrays are trimmed)', () => {
  const disk = new SimDisk({ queues: { log: () => 'n1' } });
  for (let i = 0; i < 5000; i++) {
    disk.applySync([{ kind: 'put', space: 'log', key: `k${i}`, value: i }]);
    if (i >= 10) disk.applySync([{ kind: 'del', space: 'log', key: `k${i - 10}` }]);
  }
  assert.equal(disk.size('log'), 10);
  assert.deepEqual([...disk.entries('log')].map(([k]) => k), Array.from({ length: 10 }, (_, i) => `k${4990 + i}`));
  // the other spaces of the same disk stay maps read in key order
  disk.applySync([{ kind: 'put', space: 'kv', key: 'y', value: 1 }, { kind: 'put', space: 'kv', key: 'x', value: 2 }]);
  assert.deepEqual([...disk.entries('kv')], [['x', 2], ['y', 1]]);
});
