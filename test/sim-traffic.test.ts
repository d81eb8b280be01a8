/**
 * Anti-entropy traffic in the simulator, seen through the cores' events (SimHooks.onEvent). Links
 * that come up together and stale buffers pull from one peer at a time (pullTimeoutTicks): over the
 * same seeds that ships fewer writes, and brings fewer duplicates, than asking every peer at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CausalEvent } from '../src/protocols/causal/types.js';
import { serializeHistory } from '../src/check/index.js';
import { FAULT_KINDS, runSimulation, trafficCounter } from '../src/sim/index.js';

interface Traffic {
  shipped: number;
  duplicates: number;
  types: Set<string>;
  history: string;
}

function traffic(seed: number, pullTimeoutTicks: number): Traffic {
  const types = new Set<string>();
  const counter = trafficCounter();
  const onEvent = (node: string, e: CausalEvent): void => {
    types.add(e.type);
    counter.onEvent(node, e);
  };
  const r = runSimulation(
    { seed, nodes: 5, ops: 3000, clients: 8, keys: 20, faults: [...FAULT_KINDS] },
    { onEvent, tuning: { core: { events: ['sync', 'duplicate'], pullTimeoutTicks } } }, // what shipped and duplicates read
  );
  assert.ok(r.ok, `${r.replay}: ${r.failure?.message}`);
  return { shipped: counter.traffic.shipped, duplicates: counter.traffic.duplicates, types, history: serializeHistory(r.history) };
}

test('onEvent hands over the event types asked for, and watching changes nothing', () => {
  const watched = traffic(3, 50);
  // the types asked for, and the one the simulator reads itself (context-timeout): no others
  for (const t of watched.types) assert.ok(['duplicate', 'sync', 'context-timeout'].includes(t), t);
  assert.ok(watched.types.has('sync') && watched.types.has('duplicate'));
  assert.ok(watched.shipped > 0, 'anti-entropy ran under faults');
  const plain = runSimulation({ seed: 3, nodes: 5, ops: 3000, clients: 8, keys: 20, faults: [...FAULT_KINDS] }, { tuning: { core: { pullTimeoutTicks: 50 } } });
  assert.equal(serializeHistory(plain.history), watched.history, 'same history with and without the hook');
});

// SPEC §2 anti-entropy, made economical: each missing write should come about once.
test('pulling from one peer at a time ships fewer writes and duplicates than asking every peer at once', () => {
  let oneAtATime = { shipped: 0, duplicates: 0 };
  let allAtOnce = { shipped: 0, duplicates: 0 };
  for (let seed = 1; seed <= 6; seed++) {
    const a = traffic(seed, 50);
    const b = traffic(seed, 0);
    oneAtATime = { shipped: oneAtATime.shipped + a.shipped, duplicates: oneAtATime.duplicates + a.duplicates };
    allAtOnce = { shipped: allAtOnce.shipped + b.shipped, duplicates: allAtOnce.duplicates + b.duplicates };
  }
  const detail = `one at a time ${JSON.stringify(oneAtATime)}, all at once ${JSON.stringify(allAtOnce)}`;
  assert.ok(oneAtATime.shipped < 0.8 * allAtOnce.shipped, `writes shipped: ${detail}`);
  assert.ok(oneAtATime.duplicates < 0.8 * allAtOnce.duplicates, `duplicates: ${detail}`);
});
