import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { EventType, HistoryEvent, OpKind } from '../check/history.js';
import { serializeHistory } from '../check/history.js';
import { HistoryLog, KIND_CODE, TYPE_CODE } from './history-log.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
test('fast-check seed', () => {
  console.log(`fast-check seed: ${SEED} (replay with FC_SEED=${SEED})`);
});

const nodes = ['node1', 'node2', 'node3'];
const types: EventType[] = ['invoke', 'ok', 'fail', 'info'];
const kinds: OpKind[] = ['put', 'get', 'delete'];

// SPEC §3: a history is JSON lines `{"process","type","f","key","value","time","node"}` — the
// columns must give back exactly the events, field order included (it is the byte order of the file).
test('events come back as recorded, in order, with the JSON field order of a history line', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          process: fc.integer({ min: 0, max: 1000 }),
          type: fc.constantFrom(...types),
          f: fc.constantFrom(...kinds),
          key: fc.string({ maxLength: 6 }),
          value: fc.option(fc.string({ maxLength: 8 }), { nil: null }),
          time: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          node: fc.integer({ min: 0, max: nodes.length - 1 }),
        }),
        { maxLength: 3000 },
      ),
      (evs) => {
        const log = new HistoryLog(nodes);
        for (const e of evs) log.push(e.process, TYPE_CODE[e.type], KIND_CODE[e.f], e.key, e.value, e.time, e.node);
        const want: HistoryEvent[] = evs.map((e) => ({ process: e.process, type: e.type, f: e.f, key: e.key, value: e.value, time: e.time, node: nodes[e.node] as string }));
        assert.equal(log.length, evs.length);
        assert.equal(serializeHistory(log.events()), serializeHistory(want));
        assert.deepEqual(log.events(), want);
      },
    ),
    { seed: SEED, numRuns: 30 },
  );
});

test('events() is built once and rebuilt after a push', () => {
  const log = new HistoryLog(nodes);
  log.push(1, TYPE_CODE.invoke, KIND_CODE.get, 'k0', null, 10, 0);
  const first = log.events();
  assert.equal(log.events(), first);
  log.push(1, TYPE_CODE.ok, KIND_CODE.get, 'k0', 'v', 11, 0);
  const second = log.events();
  assert.notEqual(second, first);
  assert.deepEqual(second.map((e) => e.type), ['invoke', 'ok']);
});
