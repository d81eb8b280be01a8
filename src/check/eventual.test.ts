import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../core/rng.js';
import { checkEventual } from './eventual.js';
import { historyOf, loadHistory, propertySeed } from './fixtures.fixture.js';
import { generateLinearizableHistory } from './generate.js';
import { type HistoryEvent } from './history.js';

const SEED = propertySeed();
test('seed', () => console.log(`seed: ${SEED} (replay with FC_SEED=${SEED})`));

const hist = historyOf;

function expectInvalid(file: string, rule: string, mentions: RegExp[]): void {
  const v = checkEventual(loadHistory(file));
  assert.equal(v.valid, false, `${file}: ${JSON.stringify(v)}`);
  if (v.valid !== false) return;
  assert.equal(v.rule, rule, v.explanation);
  for (const re of mentions) assert.match(v.explanation, re);
}

test('converged replicas, concurrent put/delete won by the delete: valid', () => {
  assert.equal(checkEventual(loadHistory('eventual/valid-converged.jsonl')).valid, true);
});

test('convergence: after quiescence all replicas hold the same state', () => {
  expectInvalid('eventual/invalid-divergent.jsonl', 'convergence', [/after quiescence \(no write in flight after t=10\)/, /n1 reads 1/, /n2 reads 2/]);
});

test('lost-write: an acknowledged write neither present nor overwritten', () => {
  // put(x,1) completed before put(x,2) was invoked, yet every replica ends with 1
  expectInvalid('eventual/invalid-lost-write.jsonl', 'lost-write', [/key "x" = 1/, /P1#0 put\(x, 2\)/, /P0#0 put\(x, 1\)/]);
  // null is allowed only after a delete (or with no acknowledged write)
  expectInvalid('eventual/invalid-lost-write-null.jsonl', 'lost-write', [/key "x" = null/, /the initial state/, /P0#0 put\(x, 1\)/]);
});

test('a final value must be one some write wrote', () => {
  expectInvalid('eventual/invalid-unwritten-value.jsonl', 'read-of-unwritten-value', [/returned 4/]);
});

test('no read after quiescence → unknown', () => {
  const v = checkEventual(loadHistory('eventual/unknown-no-final-reads.jsonl'));
  assert.equal(v.valid, 'unknown');
  if (v.valid === 'unknown') assert.match(v.reason, /no read after quiescence/);
});

test('random linearizable histories with final reads are eventually consistent; a diverged replica is caught', () => {
  const rng = new Rng(SEED);
  let corrupted = 0;
  for (let i = 0; i < 30; i++) {
    const nodes = ['n1', 'n2', 'n3'];
    const events = generateLinearizableHistory(rng.fork(`e${i}`), { processes: 4, ops: rng.int(20, 200), keys: rng.int(1, 4), infoRatio: 0.05, failRatio: 0.05, nodes });
    assert.equal(checkEventual(hist(events)).valid, true, `seed ${SEED} history ${i}`);
    // make one node's final read return another written value (or null) — on the latest final
    // read whose key has a different value to offer (a key never written has none)
    let last = -1;
    let other: HistoryEvent["value"] | undefined;
    for (let j = events.length - 1; j >= 0 && last < 0; j--) {
      const e = events[j] as HistoryEvent;
      if (e.f !== 'get' || e.type !== 'ok') break; // past the final reads
      const written = events.filter((w) => w.f === 'put' && w.type === 'ok' && w.key === e.key).map((w) => w.value ?? null);
      if (written.length === 0) continue;
      other = [...written, null].find((v) => v !== e.value);
      if (other !== undefined) last = j;
    }
    if (last < 0) continue; // nothing was ever written: no divergence to make
    const out = events.slice();
    out[last] = { ...(out[last] as HistoryEvent), value: other ?? null };
    const v = checkEventual(hist(out));
    assert.equal(v.valid, false, `seed ${SEED} history ${i}`);
    if (v.valid === false) assert.equal(v.rule, 'convergence');
    corrupted++;
  }
  assert.ok(corrupted >= 20, `only ${corrupted} of 30 histories could be corrupted (seed ${SEED})`);
});
