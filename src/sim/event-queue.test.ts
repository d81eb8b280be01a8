import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EventQueue } from './event-queue.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
test('fast-check seed', () => {
  console.log(`fast-check seed: ${SEED} (replay with FC_SEED=${SEED})`);
});

// ARCHITECTURE.md §4 rule 2: events run in (time, scheduling order) — a deterministic tie-break.
test('pops in (time, seq) order, ties in scheduling order', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (times) => {
      const q = new EventQueue<{ id: number }>();
      times.forEach((at, id) => q.add(at, { id }));
      const out: number[] = [];
      for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(e.id);
      const want = times.map((at, id) => ({ at, id })).sort((a, b) => a.at - b.at || a.id - b.id).map((x) => x.id);
      assert.deepEqual(out, want);
      assert.equal(q.size, 0);
    }),
    { seed: SEED, numRuns: 200 },
  );
});

test('interleaved adds and pops keep the order', () => {
  const q = new EventQueue<{ tag: string }>();
  q.add(5, { tag: 'a' });
  q.add(1, { tag: 'b' });
  assert.equal(q.pop()?.tag, 'b');
  q.add(5, { tag: 'c' });
  q.add(3, { tag: 'd' });
  assert.deepEqual([q.pop()?.tag, q.pop()?.tag, q.pop()?.tag, q.pop()], ['d', 'a', 'c', undefined]);
});

// ARCHITECTURE.md §4 rule 2: items scheduled with add() carry no key; they pop in (time,
// scheduling order), and `time` says when the popped one was due.
test('add() schedules keyless items in order, and time reports each popped one', () => {
  const q = new EventQueue<{ tag: string }>();
  q.add(5, { tag: 'a' });
  q.add(1, { tag: 'b' });
  q.add(5, { tag: 'c' });
  q.add(3, { tag: 'd' });
  const out: [string | undefined, number][] = [];
  for (let e = q.pop(); e !== undefined; e = q.pop()) out.push([e.tag, q.time]);
  assert.deepEqual(out, [['b', 1], ['d', 3], ['a', 5], ['c', 5]]);
});

// ARCHITECTURE.md §4 rule 2, with adds and pops interleaved at random (the agenda's real use):
// every pop returns the earliest (time, scheduling order) item still queued.
test('interleaved at random, pops still return the earliest (time, seq) item queued', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 30 }), fc.constant(-1)), { maxLength: 300 }), (script) => {
      const q = new EventQueue<{ id: number }>();
      const model: { at: number; id: number }[] = [];
      script.forEach((at, id) => {
        if (at >= 0) {
          q.add(at, { id });
          model.push({ at, id });
          return;
        }
        model.sort((a, b) => a.at - b.at || a.id - b.id);
        const want = model.shift();
        assert.equal(q.pop()?.id, want?.id);
        if (want !== undefined) assert.equal(q.time, want.at);
        assert.equal(q.size, model.length);
      });
    }),
    { seed: SEED, numRuns: 300 },
  );
});
