import { Command } from 'commander';
import { registerLab } from './lab.js';
import { registerCoap } from './coap.js';
import { registerNode } from './node.js';
import { registerCluster } from './cluster.js';
import { registerDemo } from './demo-kv.js';
import { registerCheck } from './check.js';
import { registerSim } from './sim.js';
import { registerChaos } from './chaos.js';

/** The `causeway` command line. Each command lives in its own file and registers itself here. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('causeway')
    .description('A replicated key-value store and a laboratory for logical time.')
    .showHelpAfterError();
  // command registrations (one line per command file):
  registerLab(program);
  registerCoap(program);
  registerNode(program);
  registerCluster(program);
  registerDemo(program);
  registerCheck(program);
  registerSim(program);
  registerChaos(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
