/**
 * The simulator seed sweep CI runs (issue §5): at least 500 seeds with faults, small runs, plus every
 * seed kept in testdata/sim/regression-seeds.txt. A failure names each failing seed's replay command.
 * SIM_SEEDS=n changes the sweep size; SIM_SEED_BASE=n its first seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAULT_KINDS, parseFaults, parseSimArgs, runSimulation, type FaultKind, type SimOptions, type SimResult } from '../src/sim/index.js';
import { Rng } from '../src/core/rng.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SEEDS = Number(process.env.SIM_SEEDS ?? 500);
const BASE = Number(process.env.SIM_SEED_BASE ?? 1);

function describeFailure(r: SimResult): string {
  return `${r.replay}\n    ${r.failure?.kind}: ${(r.failure?.message ?? '').split('\n').slice(0, 6).join('\n    ')}`;
}

/** Seed i's run shape: 3-5 nodes, 100-200 ops, all faults for most, a random subset for some. */
export function sweepOptions(seed: number): SimOptions {
  const r = new Rng(seed ^ 0x5eed);
  const faults: FaultKind[] = r.chance(0.7) ? [...FAULT_KINDS] : FAULT_KINDS.filter(() => r.chance(0.5));
  const o = parseSimArgs(`--nodes ${r.int(3, 5)} --ops ${r.int(100, 200)} --seed ${seed} --faults ${faults.length === 0 ? 'none' : faults.join(',')} --clients ${r.int(2, 6)} --keys ${r.int(2, 8)}`);
  if (o === null) throw new Error('unreachable');
  return o;
}

// ARCHITECTURE.md §5 (VOPR): a safety phase under faults, then a healed liveness phase that must
// converge; the causal checker judges every history, and acknowledged writes must survive.
test(`${SEEDS} simulator seeds with faults`, () => {
  const failures: string[] = [];
  let withFaults = 0;
  for (let seed = BASE; seed < BASE + SEEDS; seed++) {
    const o = sweepOptions(seed);
    if (o.faults.length > 0) withFaults++;
    const r = runSimulation({ ...o, freezeMessages: true });
    if (!r.ok) failures.push(describeFailure(r));
  }
  assert.ok(withFaults >= Math.min(SEEDS, 500) * 0.9, 'nearly every seed runs with faults');
  assert.deepEqual(failures, [], `failing seeds — replay with:\n${failures.join('\n')}`);
});

test('regression seeds (testdata/sim/regression-seeds.txt)', () => {
  const lines = readFileSync(join(ROOT, 'testdata', 'sim', 'regression-seeds.txt'), 'utf8').split('\n');
  const failures: string[] = [];
  let runs = 0;
  lines.forEach((line, i) => {
    const o = parseSimArgs(line);
    if (o === null) return;
    runs++;
    const r = runSimulation({ ...o, freezeMessages: true });
    if (!r.ok) failures.push(`line ${i + 1}: ${describeFailure(r)}`);
  });
  assert.ok(runs >= 5, `the file lists runs (${runs})`);
  assert.deepEqual(failures, [], `failing regression seeds — replay with:\n${failures.join('\n')}`);
});

test('the regression-seed line format round-trips through the replay command', () => {
  const o = parseSimArgs('causeway sim --model causal --nodes 3 --ops 150 --seed 77 --faults crash,drop --clients 4 --keys 5 # note');
  assert.ok(o);
  assert.deepEqual(o.faults, parseFaults('drop,crash'));
  assert.deepEqual(parseSimArgs(runSimulation({ ...o, ops: 0 }).replay.replace('--ops 0', '--ops 150')), o);
  assert.equal(parseSimArgs('   # only a comment'), null);
  assert.throws(() => parseSimArgs('--nodes 3 --bogus 1'), /unknown option --bogus/);
});
