import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Rng } from '../core/rng.js';
import { bruteForce, historyOf, loadHistory, propertySeed } from './fixtures.fixture.js';
import { generateLinearizableHistory, generateSequentialHistory, makePhantomRead } from './generate.js';
import { checkLinearizable } from './linearizable.js';
import { arbitraryHistory } from './random-history.fixture.js';
import { checkSequential, sequentialSearch } from './sequential.js';

const SEED = propertySeed();
test('seed', () => console.log(`seed: ${SEED} (replay with FC_SEED=${SEED})`));

const hist = historyOf;

test('sequential but not linearizable: no real-time constraint', () => {
  const h = loadHistory('sequential/valid-not-linearizable.jsonl');
  assert.equal(checkSequential(h).valid, true);
  assert.equal(checkLinearizable(h).valid, false);
});

test("process order: a process cannot read 2 and then 1 when one process wrote 1 then 2", () => {
  // Lamport 1979: the order must respect each process's program order
  const v = checkSequential(loadHistory('sequential/invalid-process-order.jsonl'));
  assert.equal(v.valid, false);
  if (v.valid !== false) return;
  assert.equal(v.rule, 'sequential-order');
  assert.equal(v.key, 'x');
  assert.match(v.explanation, /key "x": no total order of the 4 operations/);
  assert.match(v.explanation, /P1#1 get\(x\) → 1/);
  assert.match(v.explanation, /x = 2/);
});

test('not compositional: each key alone is fine, both together are not', () => {
  const h = loadHistory('sequential/invalid-across-keys.jsonl');
  const v = checkSequential(h);
  assert.equal(v.valid, false);
  if (v.valid !== false) return;
  assert.equal(v.rule, 'sequential-order');
  assert.equal(v.key, undefined);
  assert.match(v.explanation, /all keys together \(each key alone is fine\)/);
  // the deepest dead end: one process is left, blocked on a read of null the other process's put overwrote
  assert.ok(v.ops.length >= 1 && v.ops.every((o) => o.f === 'get' && o.value === null));
  assert.match(v.explanation, /blocked on a read/);
  for (const key of ['x', 'y']) assert.equal(sequentialSearch(h.ops.filter((o) => o.key === key), 1000).kind, 'ok');
});

test('a read of a value never written', () => {
  const v = checkSequential(loadHistory('sequential/invalid-unwritten-value.jsonl'));
  assert.equal(v.valid === false && v.rule, 'read-of-unwritten-value');
});

test('budget exhausted → unknown', () => {
  // long interleavings with a tiny budget: the search must give up and say so, not guess
  const g = generateSequentialHistory(new Rng(7), { processes: 6, opsPerProcess: 30, keys: 3 });
  const v = checkSequential(hist(g.events), { maxSteps: 5 });
  assert.equal(v.valid, 'unknown');
  if (v.valid === 'unknown') assert.match(v.reason, /budget of 5 steps exhausted/);
  assert.equal(checkSequential(hist(g.events)).valid, true);
});

test('random sequential executions with shifted real time: sequential, and linearizable exactly when the serial order is legal', () => {
  const rng = new Rng(SEED);
  let shifted = 0;
  for (let i = 0; i < 60; i++) {
    const g = generateSequentialHistory(rng.fork(`s${i}`), { processes: rng.int(2, 4), opsPerProcess: rng.int(2, 8), keys: rng.int(1, 3) });
    const h = hist(g.events);
    const v = checkSequential(h);
    assert.equal(v.valid, true, `history ${i} (seed ${SEED}): ${JSON.stringify(v).slice(0, 300)}`);
    assert.equal(checkLinearizable(h).valid, g.linearizable);
    if (!g.linearizable) shifted++;
    const p = makePhantomRead(g.events, rng);
    if (p) assert.equal(checkSequential(hist(p.events)).valid, false);
  }
  assert.ok(shifted > 10, `only ${shifted} histories were non-linearizable`);
});

test('random linearizable histories are sequential', () => {
  const rng = new Rng(SEED ^ 1);
  for (let i = 0; i < 20; i++) {
    const h = hist(generateLinearizableHistory(rng.fork(`l${i}`), { ops: 150, keys: 3, infoRatio: 0.05 }));
    assert.equal(checkSequential(h).valid, true);
  }
});

test('agrees with a brute-force search on small arbitrary histories', () => {
  fc.assert(
    fc.property(arbitraryHistory, (events) => {
      const h = hist(events);
      const v = checkSequential(h);
      assert.notEqual(v.valid, 'unknown');
      assert.equal(v.valid, bruteForce(h.ops, 'sequential'));
    }),
    { seed: SEED, numRuns: 400 },
  );
});

// The memo kept one copy of the search state per state visited: a 100k-operation simulator history
// with hundreds of info writes took 1.5 GB before the budget ran out. It holds at most its word
// budget (MEMO_WORDS by default); beyond it the search goes on without adding, and stays exact.
test('the memo stays within its budget, and the search is exact without it', () => {
  // Two processes, each writing its own key and reading it back: many states, no dead end.
  const events: Parameters<typeof hist>[0] = [];
  for (let i = 0; i < 2000; i++) {
    const p = i % 2;
    const f = i % 4 < 2 ? 'put' : 'get';
    const v = f === 'put' ? i : i - 2;
    events.push({ process: p, type: 'invoke', f, key: `k${p}`, value: f === 'put' ? v : null, time: 2 * i, node: 'n1' });
    events.push({ process: p, type: 'ok', f, key: `k${p}`, value: v, time: 2 * i + 1, node: 'n1' });
  }
  const ops = hist(events).ops;
  const full = sequentialSearch(ops, 5_000_000);
  assert.equal(full.kind, 'ok');
  const cap = Math.floor(full.memoWords / 4);
  assert.ok(cap >= 500, `the search memoized only ${full.memoWords} words`);
  const small = sequentialSearch(ops, 5_000_000, cap);
  assert.equal(small.kind, 'ok');
  assert.ok(small.memoWords <= cap, `memo ${small.memoWords} words, cap ${cap}`);
  fc.assert(
    fc.property(arbitraryHistory, (evs) => {
      const h = hist(evs);
      const withMemo = sequentialSearch(h.ops, 200_000);
      const without = sequentialSearch(h.ops, 200_000, 0);
      assert.equal(without.memoWords, 0);
      if (withMemo.kind !== 'budget' && without.kind !== 'budget') assert.equal(without.kind, withMemo.kind);
    }),
    { seed: SEED, numRuns: 200 },
  );
});
