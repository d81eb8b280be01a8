/**
 * Property tests of the causal core on the in-memory driver: random client writes on 3–5 nodes,
 * random delivery order, duplicates, losses, reordering, crashes and restarts; then a healing
 * phase (links up, everything delivered) after which every replica must be identical.
 * A reference model, kept by the test from the event stream alone, checks that no write is ever
 * applied before its causal past, nor twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { NodeId } from '../../core/protocol.js';
import { MemoryCluster, type Output } from '../conformance.js';
import type { CausalCore } from './core.js';
import { causalFactory } from './factory.js';
import type { CausalEvent, CausalMsg } from './types.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
test('fast-check seed', () => {
  console.log(`fast-check seed: ${SEED} (replay with FC_SEED=${SEED})`);
});

type Action =
  | { t: 'put'; node: number; key: number; value: number }
  | { t: 'del'; node: number; key: number }
  | { t: 'deliver'; from: number; to: number; count: number }
  | { t: 'dup'; from: number; to: number }
  | { t: 'reorder'; from: number; to: number }
  | { t: 'drop'; from: number; to: number }
  | { t: 'crash'; node: number }
  | { t: 'tick'; node: number };

const idx = fc.nat(4);
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('put' as const), node: idx, key: fc.nat(3), value: fc.nat(99) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('del' as const), node: idx, key: fc.nat(3) }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('deliver' as const), from: idx, to: idx, count: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('dup' as const), from: idx, to: idx }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('reorder' as const), from: idx, to: idx }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('drop' as const), from: idx, to: idx }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('crash' as const), node: idx }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('tick' as const), node: idx }) },
);

const scenarioArb = fc.record({
  nodes: fc.integer({ min: 3, max: 5 }),
  bufferLimit: fc.constantFrom(2, 4, 1000),
  // bytes as a write's value's digit count (1 or 2): 3 holds one or two writes, then backpressure
  bufferBytesLimit: fc.constantFrom(3, 1_000_000),
  ackEvery: fc.constantFrom(1, 3),
  actions: fc.array(actionArb, { minLength: 1, maxLength: 70 }),
});

/** The reference model: what each node applied, and each write's true causal past. */
class Reference {
  readonly applied = new Map<NodeId, Set<string>>();
  readonly past = new Map<string, Set<string>>();
  readonly originated = new Map<NodeId, number>();

  constructor(nodes: readonly NodeId[]) {
    for (const n of nodes) this.applied.set(n, new Set());
  }

  observe(out: Output<CausalMsg, CausalEvent>): void {
    for (const { node, event } of out.events) {
      if (event.type !== 'apply') continue;
      const mine = this.applied.get(node) as Set<string>;
      const id = `${event.origin}#${event.seq}`;
      // each write applied at most once per node
      assert.ok(!mine.has(id), `${node} applied ${id} twice`);
      if (event.local) {
        // the causal past of a new write: everything its origin had applied
        this.past.set(id, new Set(mine));
        this.originated.set(node, (this.originated.get(node) ?? 0) + 1);
      } else {
        // causal delivery: a write is applied only after every write in its causal past
        const past = this.past.get(id);
        assert.ok(past, `${node} applied ${id}, which no client wrote`);
        for (const dep of past) assert.ok(mine.has(dep), `${node} applied ${id} before its dependency ${dep}`);
      }
      mine.add(id);
    }
    for (const { reply } of out.replies) assert.ok(reply.ok, `unexpected failure ${JSON.stringify(reply)}`);
  }
}

function run(s: { nodes: number; bufferLimit: number; bufferBytesLimit?: number; ackEvery: number; actions: Action[] }): void {
  const names = MemoryCluster.named(s.nodes);
  const c = new MemoryCluster(
    causalFactory({
      bufferLimit: s.bufferLimit,
      bufferBytesLimit: s.bufferBytesLimit ?? 1_000_000,
      writeBytes: (w) => String(w.value).length,
      ackEveryTicks: s.ackEvery,
      resyncAfterTicks: 4,
    }),
    names,
  );
  const ref = new Reference(names);
  const n = (i: number): NodeId => names[i % names.length] as NodeId;
  let reqId = 0;
  for (const a of s.actions) {
    switch (a.t) {
      case 'put':
        ref.observe(c.submit(n(a.node), { kind: 'put', reqId: ++reqId, key: `k${a.key}`, value: a.value }));
        break;
      case 'del':
        ref.observe(c.submit(n(a.node), { kind: 'delete', reqId: ++reqId, key: `k${a.key}` }));
        break;
      case 'deliver':
        if (n(a.from) !== n(a.to)) ref.observe(c.deliver(n(a.from), n(a.to), a.count));
        break;
      case 'dup':
        if (n(a.from) !== n(a.to)) c.duplicate(n(a.from), n(a.to));
        break;
      case 'reorder':
        if (n(a.from) !== n(a.to)) c.reorder(n(a.from), n(a.to));
        break;
      case 'drop':
        if (n(a.from) !== n(a.to)) c.drop(n(a.from), n(a.to));
        break;
      case 'crash':
        ref.observe(c.crash(n(a.node)));
        ref.observe(c.restart(n(a.node)));
        break;
      case 'tick':
        ref.observe(c.tick([n(a.node)]));
        break;
    }
  }
  // Healing phase: every link (re)connects (anti-entropy both ways), everything is delivered.
  for (let round = 0; round < 3; round++) {
    for (const x of names) for (const y of names) if (x < y) ref.observe(c.linkUp(x, y));
    ref.observe(c.deliverAll());
    ref.observe(c.tick(names, 5));
    ref.observe(c.deliverAll());
  }
  const cores = names.map((x) => c.core(x) as CausalCore);
  const first = cores[0] as CausalCore;
  // no acknowledged write lost: every node applied every write of every origin
  const expected = Object.fromEntries(names.map((x) => [x, ref.originated.get(x) ?? 0]));
  for (const core of cores) {
    assert.deepEqual(core.clock, expected, `${core.id} clock`);
    assert.equal(core.status().buffered, 0, `${core.id} still buffers writes`);
    // convergence: identical siblings and winner on every key (SPEC §2)
    assert.deepEqual(core.entries(), first.entries(), `${core.id} differs from ${first.id}`);
  }
}

test('random delivery orders, duplicates, losses and crashes: causal delivery holds and replicas converge', () => {
  fc.assert(fc.property(scenarioArb, (s) => run(s)), { seed: SEED, numRuns: 150 });
});

test('regression: empty action list edge and a single-writer burst converge', () => {
  run({ nodes: 3, bufferLimit: 2, ackEvery: 1, actions: [{ t: 'tick', node: 0 }] });
  const burst: Action[] = [];
  for (let i = 0; i < 10; i++) burst.push({ t: 'put', node: 1, key: i % 2, value: i });
  burst.push({ t: 'reorder', from: 1, to: 2 }, { t: 'deliver', from: 1, to: 2, count: 10 });
  run({ nodes: 3, bufferLimit: 2, ackEvery: 1, actions: burst });
});
