import { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * The `causeway` commands, each in its own file. A command's module (and what it imports: the
 * CoAP engine, fastify, lmdb, ...) is loaded only when that command runs, so `lab serve` does not
 * carry the cluster's dependencies in memory; help and unknown commands load them all.
 */
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = Object.freeze({
  lab: async () => (await import('./lab.js')).registerLab,
  coap: async () => (await import('./coap.js')).registerCoap,
  node: async () => (await import('./node.js')).registerNode,
  cluster: async () => (await import('./cluster.js')).registerCluster,
  demo: async () => (await import('./demo-kv.js')).registerDemo,
  check: async () => (await import('./check.js')).registerCheck,
  sim: async () => (await import('./sim.js')).registerSim,
  chaos: async () => (await import('./chaos.js')).registerChaos,
});

export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command();
  program
    .name('causeway')
    .description('A replicated key-value store and a laboratory for logical time.')
    .showHelpAfterError()
    // A usage error (unknown command or option, missing argument) exits 2, as every command's own
    // usage errors do: commander's 1 would read as a result (`check`: invalid; `chaos`: a node
    // refused). Help and version still exit 0. Subcommands inherit this (they are added below).
    .exitOverride((err) => {
      if (err.exitCode !== 0) process.exit(2);
    });
  const name = argv[2];
  const only = name !== undefined && Object.hasOwn(COMMANDS, name) ? [name] : Object.keys(COMMANDS);
  for (const n of only) (await (COMMANDS[n] as () => Promise<Register>)())(program);
  return program;
}

await (await buildProgram()).parseAsync(process.argv);
