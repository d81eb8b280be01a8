// The protocol-work bound (bench/sim-core.ts): a run's core inputs, recorded and fed to fresh
// cores, take them through the same states (the cores are deterministic: ARCHITECTURE.md §1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CausalCore } from '../src/protocols/causal/core.js';
import { FAULT_KINDS, runSimulation, type SimResult } from '../src/sim/index.js';
import { INPUT, recordCoreInputs, replayCoreInputs } from './sim-core.js';

test('sim-core: a recorded run replays to the same Ready batches; restores are recorded; CausalCore is left as it was', () => {
  const methods = { tick: CausalCore.prototype.tick, ready: CausalCore.prototype.ready, restore: CausalCore.restore };
  let run: SimResult | undefined;
  const rec = recordCoreInputs(() => {
    run = runSimulation({ seed: 11, nodes: 3, ops: 1500, clients: 6, keys: 8, faults: [...FAULT_KINDS], check: false });
  });
  assert.ok(run?.ok, run?.failure?.message);
  assert.deepEqual({ tick: CausalCore.prototype.tick, ready: CausalCore.prototype.ready, restore: CausalCore.restore }, methods);
  assert.ok(run.summary.restarts > 0, 'the run restarted a node');
  assert.equal(rec.kind.filter((k) => k === INPUT.restore).length, run.summary.restarts);
  assert.ok(rec.out.messages >= run.summary.messages.sent, 'every message sent came out of a Ready batch');
  assert.deepEqual(replayCoreInputs(rec), rec.out);

  // a recording missing one peer message goes another way
  const i = rec.kind.indexOf(INPUT.receive);
  const cut = { ...rec, slot: rec.slot.toSpliced(i, 1), kind: rec.kind.toSpliced(i, 1), a: rec.a.toSpliced(i, 1), b: rec.b.toSpliced(i, 1) };
  assert.notDeepEqual(replayCoreInputs(cut), rec.out);
});
