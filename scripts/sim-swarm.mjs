// Open-ended simulator sweep (issue §5): random seeds and run shapes until Ctrl-C or a failure,
// which prints the one-line command that replays it and exits 1.
// Usage: npm run sim:swarm [-- --ops 300 --nodes 5]   (DIST=dir picks the build folder; default dist)
import { randomInt } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const dist = process.env.DIST ?? 'dist';
const { runSimulation, parseFaults, FAULT_KINDS } = await import(pathToFileURL(resolve(dist, 'src', 'sim', 'index.js')).href);

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
}

let stop = false;
process.once('SIGINT', () => {
  stop = true;
});
const started = Date.now();
let runs = 0;
while (!stop) {
  const seed = randomInt(0, 0xffffffff);
  const all = randomInt(0, 10) < 7;
  const faults = all ? [...FAULT_KINDS] : FAULT_KINDS.filter(() => randomInt(0, 2) === 1);
  const r = runSimulation({
    seed,
    nodes: arg('nodes') ?? randomInt(2, 7),
    ops: arg('ops') ?? randomInt(100, 1000),
    clients: randomInt(1, 12),
    keys: randomInt(1, 20),
    faults: parseFaults(faults.length === 0 ? 'none' : faults.join(',')),
    freezeMessages: true,
  });
  runs++;
  if (!r.ok) {
    process.stdout.write('\n');
    console.error(`FAILED after ${runs} runs (${r.failure.kind}): ${r.failure.message}`);
    console.error(`replay with: ${r.replay}`);
    process.exit(1);
  }
  if (runs % 20 === 0) process.stdout.write(`\r${runs} seeds ok (${((Date.now() - started) / 1000).toFixed(0)} s)   `);
  // let SIGINT through between runs
  await new Promise((resolve) => setImmediate(resolve));
}
console.log(`\nstopped: ${runs} seeds ok`);
