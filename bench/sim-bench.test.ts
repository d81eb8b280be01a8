// The sim benchmark's one-core figure reads the simulator thread's own CPU time from Linux's
// schedstat: it must grow with the thread's computing, and not with its sleeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { threadSchedstat } from './sim.js';

test('sim bench: the thread CPU time counts computing and not sleeping', async () => {
  const a = threadSchedstat();
  const cpu0 = process.cpuUsage();
  assert.ok(a, 'schedstat unreadable (Linux /proc/self/task/PID/schedstat)');
  const until = performance.now() + 200;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  const b = threadSchedstat();
  const used = process.cpuUsage(cpu0);
  await new Promise((r) => setTimeout(r, 300));
  const c = threadSchedstat();
  assert.ok(b && c && x > 0);
  const busy = b.cpu - a.cpu;
  const idle = c.cpu - b.cpu;
  // The process's CPU time over the loop (this thread's, and whatever little other threads did): on
  // a loaded machine the loop gets less than its 200 ms of wall time, and both figures show it.
  const processCpu = (used.user + used.system) / 1e6;
  assert.ok(busy > 0.01 && busy <= processCpu + 0.02 && busy >= processCpu * 0.6, `200 ms of computing counted ${busy} s; the process used ${processCpu} s`);
  assert.ok(idle < 0.1, `300 ms of sleeping counted ${idle} s`);
  assert.ok(b.wait >= a.wait && c.wait >= b.wait);
});

test('sim benchmarks: a bad option exits 2 naming it, before any run', async () => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  for (const [script, args, why] of [
    ['sim.js', ['--runs', 'abc'], /^sim bench: --runs must be a non-negative integer, got "abc"/],
    ['sim.js', ['--faults'], /^sim bench: --faults needs a value/],
    ['sim-core.js', ['--faults', 'meteor'], /^sim-core bench: unknown fault "meteor"/],
  ] as const) {
    const r = spawnSync(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...args, '--no-write'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2, `${script} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    assert.match(r.stderr, why);
    assert.equal(r.stdout, '', 'nothing ran');
  }
});
