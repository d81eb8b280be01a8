import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSummary } from './report.js';
import { FAULT_KINDS, runSimulation } from './index.js';

// A causal run keeps concurrent writes as siblings, so the history-only eventual checker's
// real-time reading of "overwritten" can call a write lost that the replicas' clocks show was
// merely concurrent. The simulator sets that verdict aside with a note; the summary must say it
// is set aside, not print a bare INVALID next to "ok".
test('the summary says when the eventual real-time lost-write verdict is set aside', () => {
  const r = runSimulation({ seed: 1, nodes: 3, ops: 1000, clients: 5, keys: 3, faults: [...FAULT_KINDS] });
  assert.equal(r.failure, undefined);
  assert.equal(r.summary.verdicts.eventual?.valid === false && r.summary.verdicts.eventual.rule, 'lost-write');
  const lines = formatSummary(r);
  const verdicts = lines.find((l) => l.startsWith('verdicts:')) ?? '';
  assert.match(verdicts, /^verdicts: causal valid; eventual INVALID in real-time terms only — lost-write, which does not apply to concurrent writes kept as siblings \(see the note\)$/);
  assert.ok(lines.some((l) => l.startsWith("note: eventual checker's real-time lost-write rule does not apply")));
  assert.equal(lines.at(-1), 'ok');
});

test('the summary prints an eventual verdict as it is otherwise', () => {
  const r = runSimulation({ seed: 44, nodes: 4, ops: 300, clients: 5, keys: 6, faults: [...FAULT_KINDS] });
  assert.match(formatSummary(r).find((l) => l.startsWith('verdicts:')) ?? '', /^verdicts: causal valid; eventual valid$/);
});
