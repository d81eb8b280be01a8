/**
 * Crash and restart in the simulator: a restarted node is rebuilt with restore() from its
 * in-memory disk alone, and the runtime's contract (persist a Ready batch before releasing its
 * messages and replies) means it comes back with exactly the state it had persisted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CausalCore } from '../src/protocols/causal/core.js';
import { MemoryStorage } from '../src/storage/memory-storage.js';
import { parseFaults, runSimulation, type SimTrace } from '../src/sim/index.js';

// SPEC §2 durability: after a crash and restart nothing acknowledged is lost, and the node catches up.
test('every restart restores exactly the state the node had persisted when it crashed', () => {
  let crashes = 0;
  let afterPersist = 0;
  for (let seed = 1; seed <= 12; seed++) {
    const lastCrash = new Map<string, SimTrace>();
    const r = runSimulation(
      { seed, nodes: 4, ops: 250, clients: 5, keys: 5, faults: parseFaults('crash,drop,delay'), freezeMessages: true },
      {
        tuning: { crashAfterPersist: 0.05 },
        onTrace: (t) => {
          if (t.type === 'crash') {
            lastCrash.set(t.node, t);
            crashes++;
            if (t.why.startsWith('after persisting')) afterPersist++;
            return;
          }
          const c = lastCrash.get(t.node);
          assert.ok(c, `${t.node} restarts after a crash`);
          assert.equal(t.clock, c.clock, `seed ${seed}: ${t.node} restored clock = clock at the crash`);
          assert.equal(t.state, c.state, `seed ${seed}: ${t.node} restored keys = keys at the crash`);
          lastCrash.delete(t.node);
        },
      },
    );
    assert.ok(r.ok, `${r.replay}: ${r.failure?.message}`);
  }
  assert.ok(crashes > 10, `crashes happened (${crashes})`);
  assert.ok(afterPersist > 0, `some crashes struck between persist and send (${afterPersist})`);
});

// What was never handed to storage is gone after a restart; what was persisted survives.
test('a core rebuilt from its disk keeps what was persisted and nothing else', () => {
  const nodes = ['node1', 'node2'];
  const core = new CausalCore({ id: 'node1', nodes });
  const disk = new MemoryStorage();
  core.submit({ kind: 'put', reqId: 1, key: 'x', value: 'a' });
  disk.applySync(core.ready().persist); // batch 1 persisted (its reply may or may not have left)
  core.submit({ kind: 'put', reqId: 2, key: 'y', value: 'b' });
  core.ready(); // batch 2 produced, but the node dies before persisting it
  const back = CausalCore.restore(disk, { id: 'node1', nodes });
  assert.deepEqual(back.clock, { node1: 1, node2: 0 });
  assert.deepEqual(back.entries().map(([k]) => k), ['x']);
});
