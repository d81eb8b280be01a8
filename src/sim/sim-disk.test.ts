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

// SimDisk's `unordered` option: such a space reads back in the order its keys were first added
// (and still exactly as the batches left it); every other space stays in key order.
test('an unordered space reads back in insertion order, the others in key order', () => {
  const disk = new SimDisk({ unordered: ['log'] });
  disk.applySync([
    { kind: 'put', space: 'log', key: 'b', value: 1 },
    { kind: 'put', space: 'log', key: 'a', value: 2 },
    { kind: 'put', space: 'kv', key: 'y', value: 3 },
    { kind: 'put', space: 'kv', key: 'x', value: 4 },
  ]);
  disk.applySync([
    { kind: 'put', space: 'log', key: 'c', value: 5 },
    { kind: 'del', space: 'log', key: 'b' },
    { kind: 'put', space: 'log', key: 'a', value: 6 },
  ]);
  assert.deepEqual([...disk.entries('log')], [['a', 6], ['c', 5]]);
  assert.deepEqual([...disk.entries('kv')], [['x', 4], ['y', 3]]);
});
