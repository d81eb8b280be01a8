import { test } from 'node:test';
import { readdirSync } from 'node:fs';
import assert from 'node:assert/strict';
import { Rng } from '../core/rng.js';
import { checkCausal } from './causal.js';
import type { Verdict } from './verdict.js';
import { historyOf, historyPath, loadHistory, propertySeed } from './fixtures.fixture.js';
import { generateLinearizableHistory, makePhantomRead } from './generate.js';
import { type HistoryEvent, type History, type Operation } from './history.js';

const SEED = propertySeed();
test('seed', () => console.log(`seed: ${SEED} (replay with FC_SEED=${SEED})`));

const hist = historyOf;

function expectInvalid(file: string, rule: string, mentions: RegExp[], lines: number[]): void {
  const v = checkCausal(loadHistory(file));
  assert.equal(v.valid, false, `${file}: ${JSON.stringify(v)}`);
  if (v.valid !== false) return;
  assert.equal(v.rule, rule, v.explanation);
  for (const re of mentions) assert.match(v.explanation, re);
  assert.deepEqual(v.ops.map((o) => o.invokeLine).sort((a, b) => a - b), lines.sort((a, b) => a - b));
}

test('concurrent writes, causally ordered reads, converged final reads: valid', () => {
  assert.equal(checkCausal(loadHistory('causal/valid-concurrent-converged.jsonl')).valid, true);
});

test('causal-cycle: a read cannot precede the write it reads', () => {
  // →co = (so ∪ rf)+ must be a strict partial order
  expectInvalid('causal/invalid-cycle.jsonl', 'causal-cycle', [/has a cycle/, /→so/, /→rf/], [1, 5, 2, 6]);
});

test('read-your-writes (Terry et al. 1994)', () => {
  // the session's own put(x,1) is in the read's causal past, yet it reads null
  expectInvalid('causal/invalid-read-your-writes.jsonl', 'read-your-writes', [/P0#1 get\(x\) → null/, /overwritten in its causal past by P0#0 put\(x, 1\)/], [3, 1]);
});

test('monotonic-reads: read 2 then 1', () => {
  expectInvalid('causal/invalid-monotonic-reads.jsonl', 'monotonic-reads', [/P1#1 get\(x\) → 1/, /P0#1 put\(x, 2\)/, /via: P1#0 get\(x\) → 2/], [7, 1, 3, 5]);
});

test("monotonic-writes: seeing P0's second write without its first", () => {
  expectInvalid('causal/invalid-monotonic-writes.jsonl', 'monotonic-writes', [/P1#1 get\(x\) → null/, /P0#0 put\(x, 1\)/, /via: P0#1 put\(y, 2\)/], [7, 1, 3]);
});

test('writes-follow-reads: seeing a write made after a read without what was read', () => {
  expectInvalid(
    'causal/invalid-writes-follow-reads.jsonl',
    'writes-follow-reads',
    [/P2#1 get\(x\) → null/, /P0#0 put\(x, 1\)/, /P1#0 get\(x\) → 1/, /P1#1 put\(y, 2\)/],
    [9, 1, 3, 5],
  );
});

test('convergence: final reads of a key on every node must agree', () => {
  expectInvalid('causal/invalid-convergence.jsonl', 'convergence', [/replicas disagree on key "x"/, /n1 reads 1/, /n2 reads 2/], [5, 6]);
});

test('duplicate written values → unknown (the checker needs unique values)', () => {
  const v = checkCausal(loadHistory('causal/unknown-duplicate-values.jsonl'));
  assert.equal(v.valid, 'unknown');
  if (v.valid === 'unknown') assert.match(v.reason, /unique written values/);
});

test('random linearizable histories (with final reads on every node) are causal; a phantom read is not', () => {
  const rng = new Rng(SEED);
  for (let i = 0; i < 30; i++) {
    const events = generateLinearizableHistory(rng.fork(`c${i}`), {
      processes: rng.int(2, 6),
      ops: rng.int(20, 300),
      keys: rng.int(1, 5),
      infoRatio: 0.05,
      failRatio: 0.05,
      nodes: ['n1', 'n2', 'n3'],
    });
    const v = checkCausal(hist(events));
    assert.equal(v.valid, true, `history ${i} (seed ${SEED}): ${JSON.stringify(v).slice(0, 600)}`);
    const p = makePhantomRead(events, rng);
    if (p) {
      const bad = checkCausal(hist(p.events));
      assert.equal(bad.valid === false && bad.rule, 'read-of-unwritten-value');
    }
  }
});

test('random: a read turned stale within its own session breaks read-your-writes or monotonic reads', () => {
  const rng = new Rng(SEED ^ 7);
  let caught = 0;
  for (let i = 0; i < 30; i++) {
    const events = generateLinearizableHistory(rng.fork(`r${i}`), { processes: 3, ops: 80, keys: 2 });
    const h = hist(events);
    // a process that put v1 then v2 (same key) and later reads: make that read return v1
    for (const r of h.ops) {
      if (r.f !== 'get' || r.completeLine === null) continue;
      const mine = h.ops.filter((o) => o.process === r.process && o.key === r.key && o.f === 'put' && o.id < r.id);
      if (mine.length < 2) continue;
      const old = mine[mine.length - 2];
      const out = events.slice();
      out[r.completeLine - 1] = { ...(out[r.completeLine - 1] as HistoryEvent), value: old?.value ?? null };
      const v = checkCausal(hist(out));
      assert.equal(v.valid, false, `seed ${SEED}, history ${i}`);
      if (v.valid === false) assert.ok(['read-your-writes', 'monotonic-reads', 'monotonic-writes'].includes(v.rule), v.rule);
      caught++;
      break;
    }
  }
  assert.ok(caught > 5, `only ${caught} corruptions were possible`);
});

// The two representations of the causal order (per-process vector clocks, the bit matrix), and the
// two ways of testing reads (one candidate per session chain, every write of the key), must give
// identical verdicts: on every fixture, and on random histories with info writes whose reads are
// corrupted to return other values of the same key or null (valid and invalid ones alike).
test('clock and matrix causal orders, chain and scan read tests, give the same verdicts', () => {
  const both = (h: History, what: string): Verdict => {
    const c = checkCausal(h, { order: 'clocks' });
    assert.deepEqual(c, checkCausal(h, { order: 'matrix' }), `${what} (seed ${SEED})`);
    assert.deepEqual(c, checkCausal(h, { order: 'clocks', reads: 'scan' }), `${what}, scan (seed ${SEED})`);
    assert.deepEqual(c, checkCausal(h, { order: 'matrix', reads: 'scan' }), `${what}, matrix scan (seed ${SEED})`);
    return c;
  };
  for (const f of readdirSync(historyPath('causal')).filter((x) => x.endsWith('.jsonl'))) both(loadHistory(`causal/${f}`), f);
  const rng = new Rng(SEED ^ 11);
  const seen = { valid: 0, invalid: 0 };
  for (let i = 0; i < 60; i++) {
    const events = generateLinearizableHistory(rng.fork(`x${i}`), { processes: rng.int(2, 6), ops: rng.int(20, 200), keys: rng.int(1, 4), infoRatio: 0.1, failRatio: 0.05 });
    both(hist(events), `history ${i}`);
    const h = hist(events);
    for (let k = 0; k < 3; k++) {
      const reads = h.ops.filter((o) => o.f === 'get' && o.completeLine !== null);
      if (reads.length === 0) break;
      const r = reads[rng.int(0, reads.length - 1)] as Operation;
      const puts = h.ops.filter((o) => o.f === 'put' && o.key === r.key);
      const value = puts.length === 0 || rng.int(0, 4) === 0 ? null : (puts[rng.int(0, puts.length - 1)] as Operation).value;
      const out = events.slice();
      out[(r.completeLine as number) - 1] = { ...(out[(r.completeLine as number) - 1] as HistoryEvent), value };
      const v = both(hist(out), `history ${i}, corruption ${k}`);
      seen[v.valid === true ? 'valid' : 'invalid']++;
    }
  }
  assert.ok(seen.valid > 10 && seen.invalid > 10, `corruptions gave ${seen.valid} valid and ${seen.invalid} invalid histories`);
});

// A history of many single-operation processes makes the causal order N² / 8 bytes: 300k such
// operations took 6.5 GB and 50 s, and more would fail to allocate. Past maxOrderBytes the checker
// answers unknown and says why.
test('a causal order larger than maxOrderBytes gives unknown, naming the sizes', () => {
  const events: HistoryEvent[] = [];
  for (let i = 0; i < 400; i++) {
    const f = i % 2 === 0 ? 'put' : 'get';
    const key = `k${(i >> 1) % 7}`;
    const value = `v${i - (i % 2)}`;
    events.push({ process: i, type: 'invoke', f, key, value: f === 'put' ? value : null, time: 2 * i });
    events.push({ process: i, type: 'ok', f, key, value, time: 2 * i + 1 });
  }
  const h = hist(events);
  assert.equal(checkCausal(h).valid, true);
  const bytes = 400 * Math.ceil(400 / 32) * 4; // the bit matrix: smaller than 400 clocks of 400 processes
  assert.equal(checkCausal(h, { maxOrderBytes: bytes }).valid, true);
  const v = checkCausal(h, { maxOrderBytes: bytes - 1 });
  assert.equal(v.valid, 'unknown');
  if (v.valid === 'unknown') assert.match(v.reason, /causal order of 400 operations from 400 processes would take 20800 bytes \(more than 20799 bytes\): .*keep their sessions/);
});
