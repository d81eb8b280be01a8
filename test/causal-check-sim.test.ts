/**
 * The causal checker's read test (issue §2: "every read returns a write not overwritten in its
 * causal past"), checked on the simulator's own histories: many sessions, roaming clients,
 * concurrent writes, deletes and info operations. The quick per-chain test must give the verdict the
 * full scan of every write gives, on the recorded histories (valid) and on copies with reads
 * corrupted to return an older value of their key or null (mostly invalid).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { checkCausal } from '../src/check/causal.js';
import { historyOf, propertySeed } from '../src/check/fixtures.fixture.js';
import type { HistoryEvent, Operation } from '../src/check/history.js';
import { FAULT_KINDS, runSimulation } from '../src/sim/index.js';

const SEED = propertySeed();

test('causal read test: per-chain candidates and the full scan agree on simulator histories', () => {
  const rng = new Rng(SEED);
  const seen = { valid: 0, invalid: 0 };
  for (let s = 1; s <= 4; s++) {
    // With crashes and without: info operations (an info delete excuses every null read of its key) or none.
    const faults = s % 2 === 0 ? FAULT_KINDS.filter((f) => f !== 'crash') : [...FAULT_KINDS];
    const r = runSimulation({ seed: s, nodes: 4, ops: 2000, clients: 8, keys: 4, faults, recordHistory: true, check: false });
    const events = r.history as HistoryEvent[];
    const h = historyOf(events);
    const fast = checkCausal(h);
    assert.deepEqual(fast, checkCausal(h, { reads: 'scan' }), `sim seed ${s} (property seed ${SEED})`);
    assert.equal(fast.valid, true, `sim seed ${s}: ${JSON.stringify(fast).slice(0, 400)}`);
    const reads = h.ops.filter((o) => o.f === 'get' && o.status === 'ok' && o.completeLine !== null);
    for (let k = 0; k < 16; k++) {
      const rd = reads[rng.int(0, reads.length - 1)] as Operation;
      const older = h.ops.filter((o) => o.f === 'put' && o.key === rd.key && o.id < rd.id);
      const value = k % 2 === 1 || older.length === 0 ? null : (older[rng.int(0, older.length - 1)] as Operation).value;
      const out = events.slice();
      out[(rd.completeLine as number) - 1] = { ...(out[(rd.completeLine as number) - 1] as HistoryEvent), value };
      const bad = historyOf(out);
      const v = checkCausal(bad);
      assert.deepEqual(v, checkCausal(bad, { reads: 'scan' }), `sim seed ${s}, corruption ${k} (property seed ${SEED})`);
      seen[v.valid === true ? 'valid' : 'invalid']++;
    }
  }
  assert.ok(seen.invalid >= 10, `corruptions gave ${seen.valid} valid and ${seen.invalid} invalid histories`);
});
