// Anti-entropy traffic of one simulator run, from the cores' events: writes shipped in answer to
// sync requests and by repair (and how many arrived), and duplicate writes received. The default run is the simulator
// benchmark's (5 nodes, 100,000 operations, every fault, seed 1000).
// Usage: npm run build && node scripts/sim-traffic.mjs [--seed 1000] [--ops 100000] [--nodes 5] [--pull-timeout N]
//   --pull-timeout 0 asks every peer at once on link-up and stale buffers (the old behaviour).
import { FAULT_KINDS, TRAFFIC_EVENTS, runSimulation, trafficCounter } from '../dist/src/sim/index.js';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) {
    console.error(`--${name}: expected a non-negative integer, got ${JSON.stringify(process.argv[i + 1] ?? '')}`);
    process.exit(2);
  }
  return v;
}

const seed = arg('seed', 1000);
const pull = arg('pull-timeout', undefined);
const { traffic: t, onEvent } = trafficCounter();
const r = runSimulation(
  { seed, nodes: arg('nodes', 5), ops: arg('ops', 100_000), clients: 16, keys: 100, faults: [...FAULT_KINDS], check: false },
  { tuning: { core: { events: [...TRAFFIC_EVENTS], ...(pull === undefined ? {} : { pullTimeoutTicks: pull }) } }, onEvent },
);
if (!r.ok) {
  console.error(`run failed: ${r.replay}: ${r.failure?.message}`);
  process.exit(1);
}
console.log(`seed ${seed}: ${r.summary.messages.sent} messages sent`);
console.log(`sync requests by reason: ${JSON.stringify(t.requests)}`);
console.log(`writes shipped by anti-entropy: ${t.shipped} in ${t.answers} answers and repairs; ${t.received} received (the rest dropped in transit)`);
console.log(`duplicate writes received: ${t.duplicates}`);
