// Anti-entropy traffic of one simulator run, from the cores' events: writes shipped in answer to
// sync requests and by repair (and how many arrived), and duplicate writes received. The default run is the simulator
// benchmark's (5 nodes, 100,000 operations, every fault, seed 1000).
// Usage: npm run build && node scripts/sim-traffic.mjs [--seed 1000] [--ops 100000] [--nodes 5] [--pull-timeout N]
//   --pull-timeout 0 asks every peer at once on link-up and stale buffers (the old behaviour).
import { TRAFFIC_EVENTS, runSimulation, trafficCounter } from '../dist/src/sim/index.js';
import { benchCli, simBenchOptions } from '../dist/bench/sim.js';

const cli = benchCli('sim-traffic');
const seed = cli.num('seed', 1000);
const pull = cli.num('pull-timeout', undefined);
const { traffic: t, onEvent } = trafficCounter();
const r = runSimulation(
  simBenchOptions(seed, { ops: cli.num('ops', 100_000), nodes: cli.num('nodes', 5) }),
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
