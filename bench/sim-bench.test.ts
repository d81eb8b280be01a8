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
