import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Rng } from '../core/rng.js';
import { bruteForce, historyOf, loadHistory, propertySeed } from './fixtures.fixture.js';
import { generateLinearizableHistory, generateSequentialHistory, makePhantomRead, makeStaleRead } from './generate.js';
import { byKey, checkLinearizable, linearizeKey, MEMO_WORDS } from './linearizable.js';
import { arbitraryHistory } from './random-history.fixture.js';

const SEED = propertySeed();
test('seed', () => console.log(`seed: ${SEED} (replay with FC_SEED=${SEED})`));

const hist = historyOf;

test('hand-made valid histories: concurrency, info that never happened, fail, delete, extra fields', () => {
  assert.equal(checkLinearizable(loadHistory('linearizable/valid-concurrent.jsonl')).valid, true);
  // an info put may take effect any time after its invoke, even after later operations began
  assert.equal(checkLinearizable(loadHistory('linearizable/valid-info-takes-effect-late.jsonl')).valid, true);
});

test('stale read: names the key, the longest linearizable prefix and the op that cannot be placed', () => {
  // Herlihy–Wing: put(x,2) completes before get(x) starts, so get must see 2 (or later)
  const v = checkLinearizable(loadHistory('linearizable/invalid-stale-read.jsonl'));
  assert.equal(v.valid, false);
  if (v.valid !== false) return;
  assert.equal(v.rule, 'linearizability');
  assert.equal(v.key, 'x');
  assert.match(v.explanation, /key "x": no linearization exists/);
  assert.match(v.explanation, /longest linearizable prefix has 2 operation/);
  assert.match(v.explanation, /cannot be placed: P1#0 get\(x\) → 1/);
  assert.equal(v.ops[0]?.f, 'get');
  assert.deepEqual(v.ops.map((o) => o.invokeLine), [5, 1, 3]);
});

test('read after a completed delete must see null', () => {
  const v = checkLinearizable(loadHistory('linearizable/invalid-read-after-delete.jsonl'));
  assert.equal(v.valid, false);
  if (v.valid !== false) return;
  assert.equal(v.key, 'x');
  assert.match(v.explanation, /register holds null/);
});

test('a read of a value never written, or written only by a failed put, is named as such', () => {
  const a = checkLinearizable(loadHistory('linearizable/invalid-unwritten-value.jsonl'));
  assert.equal(a.valid, false);
  if (a.valid === false) {
    assert.equal(a.rule, 'read-of-unwritten-value');
    assert.match(a.explanation, /returned 7, which no put of key "x" ever wrote/);
  }
  // fail means the operation did not happen
  const b = checkLinearizable(loadHistory('linearizable/invalid-read-of-failed-write.jsonl'));
  assert.equal(b.valid, false);
  if (b.valid === false) {
    assert.equal(b.rule, 'read-of-unwritten-value');
    assert.match(b.explanation, /only a failed put wrote/);
    assert.equal(b.ops.length, 2);
  }
});

test('search budget exhausted → unknown, never a guess', () => {
  const h = hist(generateLinearizableHistory(new Rng(SEED), { ops: 200, keys: 1, processes: 6 }));
  const v = checkLinearizable(h, { maxSteps: 10 });
  assert.equal(v.valid, 'unknown');
  if (v.valid === 'unknown') assert.match(v.reason, /budget of 10 steps exhausted on key "k0"/);
});

test('random histories from a linearizable store are valid; one stale read makes them invalid', () => {
  const rng = new Rng(SEED);
  let stale = 0;
  for (let i = 0; i < 40; i++) {
    const events = generateLinearizableHistory(rng.fork(`h${i}`), {
      processes: rng.int(2, 6),
      ops: rng.int(20, 200),
      keys: rng.int(1, 4),
      infoRatio: 0.05,
      failRatio: 0.05,
    });
    const v = checkLinearizable(hist(events));
    assert.equal(v.valid, true, `history ${i} (seed ${SEED}): ${JSON.stringify(v).slice(0, 400)}`);
    const s = makeStaleRead(events, rng);
    if (s) {
      stale++;
      const bad = checkLinearizable(hist(s.events));
      assert.equal(bad.valid, false, `stale read at line ${s.line} missed (seed ${SEED})`);
      if (bad.valid === false) assert.ok(bad.ops.some((o) => o.completeLine === s.line), 'the corrupted read is among the ops named');
    }
    const p = makePhantomRead(events, rng);
    if (p) assert.equal(checkLinearizable(hist(p.events)).valid, false);
  }
  assert.ok(stale > 10, `only ${stale} stale-read corruptions were possible`);
});

test('processes run one after another in real time: linearizable iff their serial order is legal', () => {
  const rng = new Rng(SEED ^ 0xabc);
  let notLin = 0;
  for (let i = 0; i < 60; i++) {
    const g = generateSequentialHistory(rng.fork(`s${i}`), { processes: 3, opsPerProcess: 5, keys: 2 });
    const v = checkLinearizable(hist(g.events));
    assert.equal(v.valid, g.linearizable, `history ${i} (seed ${SEED})`);
    if (!g.linearizable) notLin++;
  }
  assert.ok(notLin > 5);
});

test('agrees with a brute-force search on small arbitrary histories', () => {
  fc.assert(
    fc.property(arbitraryHistory, (events) => {
      const h = hist(events);
      const v = checkLinearizable(h);
      assert.notEqual(v.valid, 'unknown');
      assert.equal(v.valid, bruteForce(h.ops, 'linearizable'));
    }),
    { seed: SEED, numRuns: 400 },
  );
});

// Lowe's memo copies the whole linearized set at each step: n/32 words per step on a key with n
// operations, so 128k operations one after another on one key took 2.3 GB. The memo holds at most
// MEMO_WORDS; beyond it the search goes on without it, and stays exact.
test('the memo stays within its budget, and the search is exact without it', () => {
  const events: Parameters<typeof hist>[0] = [];
  for (let i = 0; i < 40_000; i++) {
    const put = i % 2 === 0;
    const v = put ? i : i - 1;
    events.push({ process: 0, type: 'invoke', f: put ? 'put' : 'get', key: 'k', value: v, time: 2 * i, node: 'n1' });
    events.push({ process: 0, type: 'ok', f: put ? 'put' : 'get', key: 'k', value: v, time: 2 * i + 1, node: 'n1' });
  }
  const ops = [...byKey(hist(events).ops).values()][0]!;
  const small = 1_000_000;
  const r = linearizeKey(ops, 10_000_000, small);
  assert.equal(r.kind, 'ok');
  assert.ok(r.memoWords <= small, `memo ${r.memoWords} words`);
  assert.ok(40_000 * Math.ceil(40_000 / 32) > small, 'this history would need more than the budget');
  assert.ok(MEMO_WORDS <= 32 * 1024 * 1024);
  fc.assert(
    fc.property(arbitraryHistory, (evs) => {
      const h = hist(evs);
      for (const list of byKey(h.ops).values()) {
        const withMemo = linearizeKey(list, 1_000_000);
        const without = linearizeKey(list, 1_000_000, 0);
        assert.equal(without.memoWords, 0);
        if (withMemo.kind !== 'budget' && without.kind !== 'budget') assert.equal(without.kind, withMemo.kind);
      }
    }),
    { seed: SEED, numRuns: 200 },
  );
});
