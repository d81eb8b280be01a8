import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HeldSeqs, heldIn } from './have.js';

/** The ranges of a set of numbers per origin, computed the plain way: sort, then group runs. */
function expectedRanges(model: Map<string, Set<number>>, max: number): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  let ranges = 0;
  for (const [origin, set] of model) {
    const seqs = [...set].sort((a, b) => a - b);
    if (seqs.length === 0 || ranges >= max) continue;
    const pairs: number[] = [];
    for (let i = 0; i < seqs.length && ranges < max; ) {
      const first = seqs[i] as number;
      let last = first;
      while (++i < seqs.length && seqs[i] === last + 1) last++;
      pairs.push(first, last);
      ranges++;
    }
    out[origin] = pairs;
  }
  return out;
}

test('a have names ascending ranges per origin; the buffer writes of the example', () => {
  const h = new HeldSeqs();
  for (const seq of [6, 3, 4]) h.add('a', seq);
  h.add('b', 9);
  assert.deepEqual(h.ranges(), { a: [3, 4, 6, 6], b: [9, 9] });
  assert.equal(h.size, 4);
  h.delete('a', 3);
  h.delete('b', 9);
  assert.deepEqual(h.ranges(), { a: [4, 4, 6, 6] }, 'an origin with nothing left is left out');
  assert.equal(heldIn({ a: [4, 4, 6, 6] }, 'a', 6), true);
  assert.equal(heldIn({ a: [4, 4, 6, 6] }, 'a', 5), false);
  assert.equal(heldIn({ a: [4, 4, 6, 6] }, 'b', 4), false);
  assert.equal(heldIn({ a: [4, 4, 6, 6] }, 'toString', 4), false, 'only its own keys');
  assert.deepEqual(h.ranges(1), { a: [4, 4] }, 'at most max ranges');
  // a have is handed out in messages: built once per change, never changed afterwards
  const sent = h.ranges();
  assert.equal(h.ranges(), sent, 'the same set: the same have');
  h.add('a', 5);
  assert.deepEqual(sent, { a: [4, 4, 6, 6] }, 'the have already sent is left as it was');
  assert.deepEqual(h.ranges(), { a: [4, 6] });
  assert.equal(h.added, 5, 'numbers ever added');
});

// The usual buffer: writes of an origin arrive in order behind a gap and leave from the oldest once
// it is filled; the held numbers stay exact as removals move the front (and the list is compacted).
test('writes held in order and delivered from the oldest', () => {
  const h = new HeldSeqs();
  for (let seq = 2; seq <= 201; seq++) h.add('a', seq);
  h.add('b', 5);
  for (let seq = 2; seq <= 151; seq++) {
    h.delete('a', seq);
    assert.equal(h.has('a', seq), false, `a#${seq} delivered`);
    assert.equal(h.has('a', seq + 1), true, `a#${seq + 1} still held`);
  }
  assert.deepEqual(h.ranges(), { a: [152, 201], b: [5, 5] });
  h.add('a', 100); // an old copy arrives late: held again, in order
  h.delete('a', 160);
  assert.deepEqual(h.ranges(), { a: [100, 100, 152, 159, 161, 201], b: [5, 5] });
  assert.equal(h.size, 51);
});

// Rule: HeldSeqs holds exactly the numbers added and not deleted since (or since clear), and its
// ranges are those of that set, whatever the order of additions and deletions.
test('HeldSeqs agrees with a set, in any order of operations', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('add' as const), origin: fc.constantFrom('a', 'b', 'c'), seq: fc.integer({ min: 1, max: 200 }) }),
    fc.record({ kind: fc.constant('delete' as const), origin: fc.constantFrom('a', 'b', 'c'), seq: fc.integer({ min: 1, max: 200 }) }),
    fc.record({ kind: fc.constant('front' as const), origin: fc.constantFrom('a', 'b', 'c') }),
    fc.record({ kind: fc.constant('clear' as const) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 600 }), fc.integer({ min: 1, max: 40 }), (ops, max) => {
      const h = new HeldSeqs();
      const model = new Map<string, Set<number>>();
      const set = (o: string): Set<number> => {
        let s = model.get(o);
        if (s === undefined) model.set(o, (s = new Set()));
        return s;
      };
      for (const o of ops) {
        if (o.kind === 'clear') {
          h.clear();
          model.clear();
        } else if (o.kind === 'add') {
          if (set(o.origin).has(o.seq)) continue; // the buffer adds a number only once
          h.add(o.origin, o.seq);
          set(o.origin).add(o.seq);
        } else if (o.kind === 'delete') {
          h.delete(o.origin, o.seq);
          set(o.origin).delete(o.seq);
        } else {
          // the usual removal: the oldest write of an origin is delivered
          const s = set(o.origin);
          if (s.size === 0) continue;
          const min = Math.min(...s);
          h.delete(o.origin, min);
          s.delete(min);
        }
      }
      let size = 0;
      for (const [origin, s] of model) {
        size += s.size;
        for (let seq = 1; seq <= 200; seq++) assert.equal(h.has(origin, seq), s.has(seq), `${origin}#${seq}`);
      }
      assert.equal(h.size, size);
      const ranges = h.ranges(max);
      // per origin, the first of its ranges (all of them below the cap), and as many as the cap allows
      const want = expectedRanges(model, Infinity);
      let named = 0;
      for (const [origin, pairs] of Object.entries(ranges)) {
        named += pairs.length / 2;
        const all = want[origin] as number[];
        assert.deepEqual(pairs, all.slice(0, pairs.length), `${origin}: the first ranges, in order`);
        for (let i = 0; i < pairs.length; i += 2) for (let seq = pairs[i] as number; seq <= (pairs[i + 1] as number); seq++) assert.ok(heldIn(ranges, origin, seq));
      }
      const total = Object.values(want).reduce((n, p) => n + p.length / 2, 0);
      assert.equal(named, Math.min(max, total), 'every range, up to max');
    }),
    { numRuns: 300 },
  );
});
